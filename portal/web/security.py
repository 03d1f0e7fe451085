"""Response headers: CSP, framing, sniffing, referrer, HSTS."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response
from sqlalchemy.exc import SQLAlchemyError

from portal.web.htmx import add_vary


PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in (
    "accelerometer", "autoplay", "camera", "display-capture", "encrypted-media",
    "geolocation", "gyroscope", "magnetometer", "microphone", "midi", "payment",
    "picture-in-picture", "publickey-credentials-get", "screen-wake-lock", "serial", "usb",
    "xr-spatial-tracking"))


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def frame_sources(settings, learned_wildcard: str | None = None) -> list[str]:
    """Only Coder's app hosts may be framed: the origin of its app wildcard (subdomain apps).

    The wildcard comes from CODER_WILDCARD_ACCESS_URL or, unset, from what the worker read
    from Coder (GET /regions) and stored. Coder's access URL itself is never framed: the portal
    uses subdomain apps only, and its dashboard must never appear inside the portal.
    """
    coder = urlsplit(settings.coder_url)
    host = settings.coder_wildcard_host or learned_wildcard
    if host:
        return [f"{coder.scheme}://{host.split('://')[-1].strip('/')}"]
    if settings.dev:
        return [f"{coder.scheme}://*.portal.localhost:{coder.port or 80}"]
    return ["'none'"]


def init_app(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    form_action = ["'self'"]
    issuer = _origin(settings.oidc_issuer)
    if issuer:
        form_action.append(issuer)  # sign-out redirects to the provider's end-session page
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        f"form-action {' '.join(form_action)}",
        "frame-ancestors 'self'",
    ]

    def csp(document: bool) -> str:
        learned = None
        if document and not settings.coder_wildcard_host and not settings.dev:
            learned = _learned_wildcard()
        return "; ".join([*directives, f"frame-src {' '.join(frame_sources(settings, learned))}"])

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy",
                                    csp(response.mimetype == "text/html"))
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        # No page of the portal needs a device or sensor. Clipboard and fullscreen are left at
        # the browser's default (self), so the IDE frame's allow="clipboard-*" still works.
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        # A window the portal opens (or that opened it) gets no handle on it.
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if not settings.dev:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
        return add_vary(response)


def _learned_wildcard() -> str | None:
    """Coder's app wildcard as the worker last read it (portal/workspaces/platform.py): a page
    never asks Coder. Only pages (HTML) frame anything, so only they read it."""
    from portal.extensions import db
    from portal.workspaces import platform
    try:
        return platform.known().coder_wildcard
    except SQLAlchemyError:
        db.session.rollback()
        return None
