"""The job queue: Huey on a SQLite file (the embedded default) or on Redis (compose, production).

Built inside create_app from PORTAL_QUEUE_URL (nothing at import time); every app has its own
Huey object with the tasks of portal/workspaces/jobs.py registered on it. The consumer runs as
`flask portal worker` (its own process, threads) or inside `portal dev` (threads beside the web
server). Enqueueing never fails a request: with the broker out of reach the row stays due and
the periodic sweep enqueues it once a worker runs again.
"""
from __future__ import annotations

import logging
import pathlib
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Flask, current_app
from huey import RedisHuey, SqliteHuey
from huey.consumer import Consumer
from redis import ConnectionPool

from portal.models import utcnow
from portal.observability import context
from portal.people.tokens import aware

log = logging.getLogger(__name__)
# How often an idle consumer thread looks at the queue at most (Redis blocks on it instead).
MAX_POLL_SECONDS = 0.5
# Jobs that run under the id of the request (or job) that enqueued them; the tick is the
# tier's own chain and never inherits one.
TRACED = frozenset({"reconcile", "make_room", "stop_idle", "workspace_action",
                    "offboard"})


@dataclass
class Queue:
    huey: Any
    tasks: dict[str, Callable] = field(default_factory=dict)

    def enqueue(self, name: str, *args: Any, delay: float | None = None) -> bool:
        """Put a job on the queue; False (logged, no exception) when the broker is down."""
        try:
            task = self.tasks[name]
            # The request's id travels with the job: the pass's calls carry it (logs, Coder's
            # and Gitea's access logs), so an open can be followed into the worker.
            rid = context.current_request_id() if name in TRACED else None
            kwargs = {"request_id": rid} if rid else {}
            if delay:
                task.schedule(args=args, kwargs=kwargs, delay=delay)
            else:
                task(*args, **kwargs)
            return True
        except Exception as exc:  # noqa: BLE001 - redis/sqlite errors of any kind: stay up
            log.warning("job queue unavailable (%s): %s left for the sweep", type(exc).__name__,
                        name)
            return False

    def depth(self) -> dict[str, int] | None:
        """Jobs waiting and scheduled, for the admin System page; None when unreachable."""
        try:
            return {"pending": self.huey.pending_count(), "scheduled": self.huey.scheduled_count()}
        except Exception:  # noqa: BLE001
            return None


def build_huey(url: str) -> Any:
    if url.startswith("sqlite:///"):
        path = pathlib.Path(url[len("sqlite:///"):])
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey("portal", filename=str(path), results=False, timeout=10)
    # read_timeout: how long a consumer thread blocks on the list (BRPOP) before looking again.
    pool = ConnectionPool.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    return RedisHuey("portal", connection_pool=pool, results=False, blocking=True,
                     read_timeout=1)


def init_app(app: Flask) -> None:
    # Huey logs every job at INFO (a tick every 2 s); jobs are counted in portal_jobs_total,
    # and Huey's warnings and errors (a failed job, with its traceback) still show.
    logging.getLogger("huey").setLevel(logging.WARNING)
    from portal.observability.gauges import register_worker_probe
    from portal.workspaces import jobs
    q = Queue(build_huey(app.config["SETTINGS"].queue_url))
    q.tasks = jobs.register(q.huey, app)
    app.extensions["portal.queue"] = q
    register_worker_probe(app, lambda: _probe(app))


def _probe(app: Flask) -> dict[str, float | None]:
    """The tier's figures for /metrics: jobs waiting, and the tick's last beat (the tick
    sweeps each time it runs, so its beat is also the last sweep)."""
    from portal.workspaces.beats import last
    depth = app.extensions["portal.queue"].depth()
    with app.app_context():
        row = last("tick")
        beat_at = aware(row.beat_at) if row is not None else None
    return {"queue_depth": depth["pending"] if depth else None,
            "heartbeat_age_seconds": (max(0.0, (utcnow() - beat_at).total_seconds())
                                      if beat_at else None),
            "last_sweep_timestamp": beat_at.timestamp() if beat_at else None}


def queue() -> Queue:
    return current_app.extensions["portal.queue"]


def consumer(app: Flask, threads: int) -> Consumer:
    q: Queue = app.extensions["portal.queue"]
    return q.huey.create_consumer(workers=threads, worker_type="thread", initial_delay=0.05,
                                  backoff=1.5, max_delay=MAX_POLL_SECONDS, scheduler_interval=1,
                                  periodic=True, check_worker_health=True)


def run_worker(app: Flask, threads: int) -> None:
    """`flask portal worker`: run the consumer in this process until SIGINT/SIGTERM."""
    q: Queue = app.extensions["portal.queue"]
    q.enqueue("tick")  # start (or join) the observation/sweep chain at once
    consumer(app, threads).run()


class InProcessWorker:
    """The consumer's threads inside another process (`portal dev`, tests): no signal handlers."""

    def __init__(self, app: Flask, threads: int = 2):
        self.app = app
        self._consumer = consumer(app, threads)
        self._threads: list[threading.Thread] = []

    def start(self) -> "InProcessWorker":
        c = self._consumer
        for _, worker in [(None, c.scheduler), *c.worker_threads]:
            worker.start()
        self.app.extensions["portal.queue"].enqueue("tick")
        return self

    def stop(self) -> None:
        c = self._consumer
        c.stop_flag.set()
        for _, worker in [(None, c.scheduler), *c.worker_threads]:
            worker.join(timeout=10)
