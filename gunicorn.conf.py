"""gunicorn settings of the portal's web tier (the container image and Kubernetes).

`gunicorn -c gunicorn.conf.py wsgi:app`. One pod or container is sized for about
one core: 2 processes x 16 threads (gthread), the shape the load bench measured
(tests/bench/load.py: ~135-155 req/s of the Code tab poll mix on 2 cores).
Scale out with replicas, not with threads; deploy/kubernetes/README.md says when.
`WEB_CONCURRENCY` (gunicorn's own variable) overrides the process count.
"""
from __future__ import annotations

import os

bind = "0.0.0.0:8000"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = 16
# Outbound calls have their own timeouts (PORTAL_HTTP_*_TIMEOUT); a request thread
# silent for this long is stuck and its process is restarted.
timeout = 60
graceful_timeout = 25      # below Kubernetes' terminationGracePeriodSeconds (30)
keepalive = 5              # seconds an idle connection from the ingress controller stays open
backlog = 2048
max_requests = 5000        # recycle processes now and then (bounded memory growth)
max_requests_jitter = 500
# Heartbeat files on a memory file system (the root file system is read-only).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# gunicorn >= 25.1 opens a control socket under $HOME by default: nothing here uses
# it, and the root file system is read-only (older versions ignore the name).
control_socket_disable = True
# Only the ingress controller reaches the pods (NetworkPolicy): trust its X-Forwarded-Proto.
forwarded_allow_ips = "*"
accesslog = "-"
errorlog = "-"
loglevel = "info"
# The app is built once per process after the fork: database pools are never shared.
preload_app = False

# Metrics from every process (prometheus_client's multiprocess mode): each process writes its
# figures under this directory (a memory emptyDir in Kubernetes), /metrics adds them up, and
# the hooks below empty it at start and account for exited processes.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", "/tmp/portal-metrics")
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
from portal.observability.gunicorn_conf import child_exit, on_starting  # noqa: E402,F401
