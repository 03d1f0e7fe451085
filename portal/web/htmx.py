"""HTMX glue: the only place that reads HX-* request headers."""
from __future__ import annotations

from flask import Response, make_response, redirect, request


def is_partial() -> bool:
    """True for an HTMX request that wants a fragment (not a boosted full page or history restore)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def hx_redirect(location: str, status: int = 303) -> Response:
    """Redirect that works for both HTMX (HX-Redirect header, full navigation) and plain requests."""
    if getattr(request, "htmx", None):
        resp = make_response("", 200)
        resp.headers["HX-Redirect"] = location
        return resp
    return redirect(location, code=status)


def add_vary(response: Response) -> Response:
    """Pages differ for HTMX and plain requests: caches must key on HX-Request."""
    response.vary.add("HX-Request")
    return response
