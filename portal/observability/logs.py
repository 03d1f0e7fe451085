"""One handler on the root logger: plain text (dev default) or one JSON object per line.

PORTAL_LOG_FORMAT=json writes python-json-logger's JSON: timestamp, level, logger, message,
request_id, person_id (an id, never an email or token), and on the access line route,
method, status and duration_ms. Both formats carry the request id. Configuring twice (tests
build many apps) replaces the portal's handler instead of adding another.
"""
from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from portal.observability import context

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(levelname)s %(name)s %(message)s %(request_id)s %(person_id)s"
HANDLER_NAME = "portal"


class ContextFilter(logging.Filter):
    """Adds the request id and person id of the work under way to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = context.request_id.get() or "-"
        if not hasattr(record, "person_id"):
            record.person_id = context.person_id.get()
        return True


def formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter(JSON_FIELDS, rename_fields={"levelname": "level", "name": "logger"},
                             timestamp=True)
    return logging.Formatter(TEXT_FORMAT)


def configure(fmt: str, stream=None) -> logging.Handler:
    """Install (or replace) the portal's handler on the root logger; return it."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.addFilter(ContextFilter())
    handler.setFormatter(formatter(fmt))
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    return handler
