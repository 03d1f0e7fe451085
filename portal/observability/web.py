"""The web side: request ids, the access line, HTTP metrics, and `GET /metrics`.

Every request gets an id: the one in `X-Request-ID` when a trusted proxy set it
(PORTAL_BEHIND_PROXY, never in dev), else a fresh one; it is returned in the response's
`X-Request-ID` and carried by every outbound call the request causes. `GET /metrics` answers
only addresses in PORTAL_METRICS_ALLOW (default loopback) or a bearer PORTAL_METRICS_TOKEN;
a token that is sent and wrong is refused even from an allowed address.
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client import multiprocess

from portal.observability import context, metrics
from portal.observability.gauges import PortalCollector

access_log = logging.getLogger("portal.access")
bp = Blueprint("observability", __name__)


def init_app(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    trust_header = settings.behind_proxy and not settings.dev
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PortalCollector(app))
    app.extensions["portal.metrics_registry"] = registry

    @app.before_request
    def start():
        g.observe_started = time.perf_counter()
        incoming = request.headers.get(context.HEADER) if trust_header else None
        if incoming is not None and not context.valid_request_id(incoming):
            access_log.warning("ignored a malformed %s header from the proxy", context.HEADER)
            incoming = None
        g.request_id = incoming or context.new_request_id()
        context.request_id.set(g.request_id)
        context.person_id.set(None)

    @app.after_request
    def finish(response: Response) -> Response:
        started = g.get("observe_started")
        if started is None:  # a request that failed before the hooks ran
            return response
        seconds = time.perf_counter() - started
        response.headers[context.HEADER] = g.request_id
        endpoint = request.url_rule.endpoint if request.url_rule is not None else None
        if settings.metrics_enabled and endpoint != "static":
            metrics.http_request(endpoint, request.method, response.status_code, seconds)
        access_log.info("%s %s %s", request.method, endpoint or "unmatched", response.status_code,
                        extra={"route": endpoint or "unmatched", "method": request.method,
                               "status": response.status_code,
                               "duration_ms": round(seconds * 1000, 2)})
        return response

    @app.teardown_request
    def forget(_exc):  # the thread serves other requests next (gthread, the test client)
        context.request_id.set(None)
        context.person_id.set(None)

    if settings.metrics_enabled:
        app.register_blueprint(bp)


def _allowed_address(address: str | None, networks) -> bool:
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks)


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def exposition(app: Flask) -> bytes:
    """The text format: the process (or every gunicorn worker's) metrics, then the app's gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shared = CollectorRegistry()
        multiprocess.MultiProcessCollector(shared)
    else:
        shared = REGISTRY
    return generate_latest(shared) + generate_latest(app.extensions["portal.metrics_registry"])


@bp.get("/metrics", endpoint="metrics")
def metrics_view():
    settings = current_app.config["SETTINGS"]
    sent = _bearer()
    if sent is not None or request.headers.get("Authorization"):
        if not settings.metrics_token or sent is None or not hmac.compare_digest(
                sent.encode(), settings.metrics_token.encode()):
            abort(401)
    elif not _allowed_address(request.remote_addr, settings.metrics_allow):
        abort(403)
    return Response(exposition(current_app), mimetype=None,
                    headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})
