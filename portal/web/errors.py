"""Error pages in the portal's style; HTMX requests get a small fragment instead."""
from __future__ import annotations

import logging

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from portal.web.htmx import is_partial

log = logging.getLogger(__name__)

MESSAGES = {
    400: "The request could not be understood.",
    403: "You do not have access to this page.",
    404: "There is nothing here.",
    405: "That action is not allowed here.",
    413: "The request is too large.",
    429: "Too many requests. Please wait a moment and try again.",
    500: "Something went wrong on our side. It has been logged.",
}


def render_error(status: int, message: str | None = None, title: str | None = None):
    message = message or MESSAGES.get(status, "Something went wrong.")
    template = "errors/_fragment.html" if is_partial() else "errors/error.html"
    return render_template(template, status=status, title=title or f"Error {status}",
                           message=message), status


def _rollback() -> None:
    """A failed statement leaves the session unusable (PendingRollbackError): reset it first,
    so that the error page itself (current_user, flashes) can still read the database."""
    from portal.extensions import db
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection itself may be gone
        log.warning("rollback before the error page failed", exc_info=True)


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return render_error(400, "Your form expired or was sent from elsewhere (CSRF check failed). "
                                 "Reload the page and try again.", "Form expired")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        _rollback()
        description = exc.description if exc.code not in MESSAGES or exc.description != type(exc).description else None
        if exc.code == 429:  # Flask-Limiter's description is the limit ("20 per 1 minute")
            description = None
        return render_error(exc.code, description)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        _rollback()
        log.exception("unhandled error")
        return render_error(500)
