"""The request id and person id of the work under way, for log lines and outbound calls.

Context variables, not Flask's request: the clients (portal/clients/http.py) and the
logging filter read them below the web layer. A thread started for a request's work
(a pass) gets them by running in a copy of the request's context (`contextvars.copy_context`).
"""
from __future__ import annotations

import contextvars
import re
import uuid

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("portal_request_id",
                                                                        default=None)
person_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("portal_person_id",
                                                                       default=None)
# What a proxy may hand us: short, printable, no separators that could forge a log field.
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
HEADER = "X-Request-ID"


def new_request_id() -> str:
    return uuid.uuid4().hex


def valid_request_id(value: str | None) -> bool:
    return bool(value) and _VALID.match(value) is not None


def current_request_id() -> str | None:
    return request_id.get()


def outbound_request_id() -> str:
    """The id an outbound call carries: the current request's, else a fresh one."""
    return request_id.get() or new_request_id()


def bind_person(user_id: int | None) -> None:
    """Called when the signed-in person is loaded, so that log lines name them (by id only)."""
    person_id.set(user_id)
