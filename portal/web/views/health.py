"""Liveness and readiness: /healthz never calls out; /readyz checks every dependency (cached)."""
from __future__ import annotations

import threading
import time

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from portal.clients.http import ServiceClient, ServiceError
from portal.extensions import db

bp = Blueprint("health", __name__)
CACHE_SECONDS = 5.0
_cache: dict[int, tuple[float, dict]] = {}
_lock = threading.Lock()


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


def _probe(service: str, base: str, path: str) -> dict:
    client = ServiceClient(service, base, connect_timeout=1.0, read_timeout=2.0, retries=0)
    started = time.monotonic()
    try:
        client.request("GET", path)
        return {"ok": True, "seconds": round(time.monotonic() - started, 3)}
    except ServiceError as exc:
        return {"ok": False, "error": exc.message, "seconds": round(time.monotonic() - started, 3)}
    finally:
        client.session.close()


def run_checks(app) -> dict:
    settings = app.config["SETTINGS"]
    checks: dict[str, dict] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except Exception as exc:  # noqa: BLE001 - any driver error means not ready
        db.session.rollback()
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    if checks["database"]["ok"]:
        from portal.workspaces.beats import worker_problem
        try:
            problem = worker_problem(settings.worker_stale_seconds)
        except Exception as exc:  # noqa: BLE001 - schema not migrated yet
            db.session.rollback()
            problem = f"cannot read the worker heartbeat ({type(exc).__name__})"
        checks["worker"] = {"ok": problem is None, **({"error": problem} if problem else {})}
    checks["coder"] = _probe("coder", settings.coder_url, "/healthz")
    checks["gitea"] = _probe("gitea", settings.gitea_url, "/api/healthz")
    if settings.oidc_enabled:
        checks["oidc"] = _probe("oidc", settings.discovery_url, "")
    return checks


@bp.get("/readyz")
def readyz():
    app = current_app._get_current_object()
    now = time.monotonic()
    with _lock:
        cached = _cache.get(id(app))
    if cached and now - cached[0] < CACHE_SECONDS:
        checks = cached[1]
    else:
        checks = run_checks(app)
        with _lock:
            _cache[id(app)] = (now, checks)
    ready = all(c["ok"] for c in checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), (200 if ready else 503)
