"""What the worker reads about the platform for the web tier, so that no request asks Coder or
Gitea: their versions (the admin System page shows them with their age) and Coder's app
wildcard host (the CSP's frame-src when CODER_WILDCARD_ACCESS_URL is unset: portal/web/security.py).

Housekeeping reads them every READ_EVERY and stores them in the "platform" WorkerBeat row.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

from portal.clients.http import ServiceError
from portal.services import Services
from portal.workspaces import beats

NAME = "platform"
READ_EVERY = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Platform:
    coder_version: str | None = None    # the version, or "unavailable (why)"; None: never read
    gitea_version: str | None = None
    coder_wildcard: str | None = None   # Coder's app wildcard host, once it was read
    age_seconds: float | None = None    # since the worker read them; None: never


def read(services: Services) -> Platform:
    """Read the versions and the wildcard now and store them; a wildcard that cannot be read
    keeps the one read before."""
    try:
        wildcard = services.coder.wildcard_host()
    except ServiceError:
        wildcard = known().coder_wildcard
    facts = {"coder_version": _version(lambda: services.coder.buildinfo().version),
             "gitea_version": _version(services.gitea.version), "coder_wildcard": wildcard}
    beats.beat(NAME, **facts)
    return Platform(**facts, age_seconds=0.0)


def known() -> Platform:
    """What the worker last read (one primary-key read of the database)."""
    row = beats.last(NAME)
    info = (row.info or {}) if row is not None else {}
    return Platform(info.get("coder_version"), info.get("gitea_version"),
                    info.get("coder_wildcard"), beats.seconds_since(NAME))


def _version(read: Callable[[], str]) -> str:
    try:
        return read()
    except ServiceError as exc:
        return f"unavailable ({exc.user_message})"
