"""Figures computed when Prometheus scrapes: from the database and from the worker's probe.

Counting rows is cheap but not free, so each figure is computed at most once per
CACHE_SECONDS per process (a cache of counts, not state: the database stays the truth).
The worker's figures (queue depth, heartbeat age) come from a callable the worker side
registers with `register_worker_probe(app, probe)` (portal/workspaces/queue.py); it returns a
mapping with `queue_depth`, `heartbeat_age_seconds` and `last_sweep_timestamp` (any may be
None when unknown). They come from the queue and the database, so any web process serves them
whichever worker process did the work.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Callable, Mapping

from flask import Flask
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func

log = logging.getLogger(__name__)
CACHE_SECONDS = 30.0
WorkerProbe = Callable[[], Mapping[str, float | None]]


def register_worker_probe(app: Flask, probe: WorkerProbe) -> None:
    """The worker side tells /metrics how to read the queue depth and the heartbeat age."""
    app.extensions["portal.worker_probe"] = probe


def database_figures() -> dict:
    """Counts from the portal's own tables (needs an app context)."""
    from portal.extensions import db
    from portal.models import Group, Project, User, WorkspaceState, utcnow
    since = utcnow() - dt.timedelta(hours=24)
    by_state = dict(db.session.execute(db.select(WorkspaceState.stage, func.count())
                                       .group_by(WorkspaceState.stage)).all())
    return {
        "people_24h": db.session.scalar(db.select(func.count()).select_from(User)
                                        .where(User.last_seen_at >= since)) or 0,
        "groups": db.session.scalar(db.select(func.count()).select_from(Group)) or 0,
        "projects": db.session.scalar(db.select(func.count()).select_from(Project)) or 0,
        "workspaces": by_state,
    }


class PortalCollector(Collector):
    """Database gauges (cached) and the worker's probe, for one app."""

    def __init__(self, app: Flask, cache_seconds: float = CACHE_SECONDS):
        self.app, self.cache_seconds = app, cache_seconds
        self._lock = threading.Lock()
        self._cached: tuple[float, dict] | None = None

    def figures(self) -> dict:
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] >= self.cache_seconds:
                with self.app.app_context():
                    self._cached = (now, database_figures())
            return self._cached[1]

    def collect(self):
        try:
            figures = self.figures()
        except Exception:  # noqa: BLE001 - a scrape must not fail because the database does
            log.warning("metrics: the database figures could not be read", exc_info=True)
            figures = None
        if figures is not None:
            yield GaugeMetricFamily("portal_people_signed_in_24h",
                                    "People seen signed in during the last 24 hours.",
                                    value=figures["people_24h"])
            yield GaugeMetricFamily("portal_groups", "Groups.", value=figures["groups"])
            yield GaugeMetricFamily("portal_projects", "Projects.", value=figures["projects"])
            states = GaugeMetricFamily("portal_workspaces",
                                       "Workspace rows by the stage the portal last saw.",
                                       labels=["state"])
            for state, count in sorted(figures["workspaces"].items()):
                states.add_metric([state], count)
            yield states
        yield from self._worker()

    def _worker(self):
        probe = self.app.extensions.get("portal.worker_probe")
        if probe is None:
            return
        try:
            values = probe()
        except Exception:  # noqa: BLE001 - the queue's store may be down; say so by absence
            log.warning("metrics: the worker probe failed", exc_info=True)
            return
        if values.get("queue_depth") is not None:
            yield GaugeMetricFamily("portal_worker_queue_depth", "Jobs waiting in the queue.",
                                    value=values["queue_depth"])
        if values.get("heartbeat_age_seconds") is not None:
            yield GaugeMetricFamily("portal_worker_heartbeat_age_seconds",
                                    "Seconds since a worker last reported alive.",
                                    value=values["heartbeat_age_seconds"])
        if values.get("last_sweep_timestamp") is not None:
            yield GaugeMetricFamily("portal_worker_last_sweep_timestamp_seconds",
                                    "When the worker's periodic sweep last ran (Unix time).",
                                    value=values["last_sweep_timestamp"])
