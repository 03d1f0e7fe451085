"""Response headers: CSP, framing, sniffing, referrer, HSTS; SQLite pragmas."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .htmx import add_vary


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def frame_sources(settings) -> list[str]:
    """Only Coder's app hosts may be framed: the wildcard (subdomain apps) and the access URL (path apps)."""
    sources = []
    coder = urlsplit(settings.coder_url)
    if settings.coder_wildcard_host:
        host = settings.coder_wildcard_host.split("://")[-1].strip("/")
        sources.append(f"{coder.scheme}://{host}")
    elif settings.dev:
        sources.append(f"{coder.scheme}://*.portal.localhost:{coder.port or 80}")
    sources.append(_origin(settings.coder_url))
    return [s for s in sources if s]


def init_app(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    form_action = ["'self'"]
    issuer = _origin(settings.oidc_issuer)
    if issuer:
        form_action.append(issuer)  # sign-out redirects to the provider's end-session page
    csp = "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        f"form-action {' '.join(form_action)}",
        f"frame-src {' '.join(frame_sources(settings))}",
        "frame-ancestors 'self'",
    ])

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        if not settings.dev:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
        return add_vary(response)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    module = type(dbapi_connection).__module__
    if module.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
