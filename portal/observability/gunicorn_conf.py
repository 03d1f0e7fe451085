"""gunicorn hooks for metrics from several workers (prometheus_client's multiprocess mode).

    PROMETHEUS_MULTIPROC_DIR=/tmp/portal-metrics \\
        gunicorn -c python:portal.observability.gunicorn_conf -w 3 wsgi:app

Every worker writes its figures to files in PROMETHEUS_MULTIPROC_DIR and `GET /metrics`, in
whichever worker answers, adds them up. The master empties the directory when it starts (a
restart must not add the last run's counts again) and tells prometheus_client when a worker
has exited (its live gauges are dropped; its counters stay in the totals). Without the
variable the hooks do nothing and each process keeps its own registry.
"""
from __future__ import annotations

import os
import pathlib


def on_starting(server) -> None:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        return
    directory = pathlib.Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)
