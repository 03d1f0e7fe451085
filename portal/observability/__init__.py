"""Operations can see the portal: Prometheus metrics, JSON logs, request ids.

- metrics: the metric objects and the small recording functions the rest of the portal calls
  (HTTP requests, outbound calls, time to IDE, stages, passes, the worker's jobs and sweeps);
- operations: the bounded `operation` label of an outbound call (path template, no ids);
- context: the request id and person id of the work under way (contextvars, no Flask);
- logs: one handler on the root logger, text or one JSON object per line (PORTAL_LOG_FORMAT);
- gauges: figures computed at scrape time from the database and the worker's probe (cached);
- ide_waits: time to IDE, from the recorded intent to the iframe served (kept in the database);
- outbound: the calls that bypass portal/clients/http.py (the OIDC provider, SMTP), measured;
- web: the request hooks (request id, access line, HTTP metrics) and `GET /metrics`;
- gunicorn_conf: gunicorn hooks that let several workers' metrics add up.

The worker (portal/workspaces/jobs.py) records `metrics.job_finished(kind, outcome, seconds)`
after each job and `metrics.timed_pass(reconcile, ...)` around a pass; a separate worker
process serves them on `flask portal worker --metrics-port`. The queue registers
`gauges.register_worker_probe(app, probe)` in every app, so that any /metrics reads the queue
depth, the heartbeat age and the last sweep (from the queue and the database) at scrape time.
"""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Logging, request hooks and /metrics for one app (called from create_app)."""
    from prometheus_client import disable_created_metrics

    from portal.observability import logs, metrics, web
    disable_created_metrics()  # no *_created series: half the lines, nothing Grafana uses
    settings = app.config["SETTINGS"]
    logs.configure(settings.log_format)
    metrics.enable(settings.metrics_enabled)
    web.init_app(app)
