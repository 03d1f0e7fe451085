"""The simulators' access log lines, with the request ids their upstreams really log.

Gitea (configured as compose/ does: `[log] REQUEST_ID_HEADERS = X-Request-ID` and an access
log template with `{{.RequestID}}`) logs the caller's id: the first configured header, `-` when
absent or not printable, cut to 40 characters plus `...` (go-gitea/gitea
routers/common/... access log, parseRequestIDFromRequestHeader, v1.22). Coder mints its own id
per request, returns it as `X-Coder-Request-Id` and logs that (coder/coder
coderd/httpmw/requestid.go, v2.x); it does not read X-Request-ID. The Coder simulator logs both,
so that a test can follow a page request into it; on a real Coder the portal's own debug line of
each call (portal/clients/http.py) names Coder's id next to the portal's.
"""
from __future__ import annotations

import logging

from werkzeug.wrappers import Request

GITEA_MAX_ID = 40  # maxRequestIDByteLength


def gitea_request_id(request: Request, headers: tuple[str, ...] = ("X-Request-ID",)) -> str:
    value = next((request.headers[h] for h in headers if request.headers.get(h)), "-")
    if not value.isprintable():
        return "-"
    return value[:GITEA_MAX_ID] + "..." if len(value) > GITEA_MAX_ID else value


def log_access(log: logging.Logger, request: Request, status: int, **ids: str) -> None:
    fields = " ".join(f"{k}={v if v.isprintable() and ' ' not in v else '-'}"
                      for k, v in ids.items())
    log.info('"%s %s" %s %s', request.method, request.path.encode("unicode_escape").decode(),
             status, fields)
