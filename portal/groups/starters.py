"""Starters: the template repositories of the Gitea organization `starters`.

A project's repository is generated from one (Gitea's generate API, private,
branch `main`, git content with `.gitea/template`'s variables expanded), or
created empty, or imported from a URL. An administrator offers a new starter by
marking any repository of `starters` as a template in Gitea.

Reads of Gitea made for a page go through `CachedRead` rows, shared by every
web worker and replica (no per-process state):

* the starters offered (`offered`), fresh for STARTERS_FRESH: the list changes
  when an administrator marks a repository, so a page view normally makes no
  call, and at most one per few minutes is made for the whole portal. The one
  call is a single list of the organization's repositories, one attempt of at
  most FILES_READ_TIMEOUT; if it fails, the last list read is used (and asked for
  again after RETRY_AFTER), and without one only "empty" and "import" are
  offered. That is why it may run in a web request.
* a repository's top-level files (`files`), written by the repository stage of a
  pass (a worker) right after the repository exists, and refreshed by the
  Overview when older than FILES_FRESH with one call time-boxed to
  FILES_READ_TIMEOUT; on failure the page shows the last list read, marked old.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Callable

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from portal.clients.gitea import GiteaClient
from portal.clients.http import BadRequest, NotFound, ServiceError
from portal.extensions import db
from portal.models import CachedRead, Project, utcnow
from portal.services import Services

log = logging.getLogger(__name__)

ORG = "starters"
EMPTY = "empty"              # a choice: the `empty` starter if offered, else an initialised repo
IMPORT = "import"            # a choice: import the repository at the form's URL
STARTERS_FRESH = dt.timedelta(minutes=5)
FILES_FRESH = dt.timedelta(minutes=2)
FILES_READ_TIMEOUT = 3.0     # one attempt, for every read made in a web request
RETRY_AFTER = dt.timedelta(seconds=30)  # after a failed refresh of a cached value
MAX_FILES = 200


class StarterUnavailable(RuntimeError):
    """The project's starter is no longer a template in Gitea (message is for people)."""


@dataclass(frozen=True)
class Starter:
    name: str
    description: str


@dataclass(frozen=True)
class Listing:
    """What the Overview shows of a repository's top level."""
    entries: tuple[dict, ...]
    fetched_at: dt.datetime | None
    stale: bool = False       # the refresh failed: this is the last list read
    missing: bool = False     # nothing read yet (or the repository is empty)


# -- the shared cache ------------------------------------------------------------------------
def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.timezone.utc) if value and value.tzinfo is None else value


def _read(key: str) -> CachedRead | None:
    return db.session.get(CachedRead, key)


def store_read(key: str, value: list | dict) -> None:
    """Keep `value` under `key` (the caller commits): one upsert, so concurrent writers of a
    key never collide."""
    insert = {"sqlite": sqlite_insert, "postgresql": pg_insert}[db.session.get_bind().dialect.name]
    stmt = insert(CachedRead).values(key=key, value=value, fetched_at=utcnow())
    db.session.execute(stmt.on_conflict_do_update(
        index_elements=[CachedRead.key],
        set_={"value": stmt.excluded.value, "fetched_at": stmt.excluded.fetched_at}))
    row = db.session.identity_map.get(db.session.identity_key(CachedRead, key))
    if row is not None:
        db.session.expire(row)


def _cached(key: str, fresh: dt.timedelta, fetch: Callable[[], list | dict]) -> tuple[
        list | dict | None, dt.datetime | None, bool]:
    """(value, when read, stale): the cached value when fresh, else fetched and stored; on a
    failed fetch the old value marked stale (None when there is none)."""
    row = _read(key)
    fetched_at = _aware(row.fetched_at) if row else None
    if row is not None and utcnow() - fetched_at < fresh:
        return row.value, fetched_at, False
    try:
        value = fetch()
    except ServiceError as exc:
        log.warning("gitea read for %s failed: %s", key, exc)
        if row is None:
            return None, None, True
        # Shown again, marked old; the next attempt in RETRY_AFTER, not on every page view.
        row.fetched_at = utcnow() - fresh + RETRY_AFTER
        db.session.commit()
        return row.value, fetched_at, True
    store_read(key, value)
    db.session.commit()
    return value, utcnow(), False


# -- the starters offered -------------------------------------------------------------------
def offered(services: Services) -> list[Starter] | None:
    """The template repositories of `starters`, sorted; None when Gitea could not be read
    and nothing was read before."""
    def fetch() -> list:
        try:
            templates = _time_boxed(services).list_templates(ORG)
        except NotFound:  # no organization `starters`: nothing offered
            return []
        return [{"name": r.name, "description": r.description} for r in templates]
    value, _when, _stale = _cached(f"gitea:templates:{ORG}", STARTERS_FRESH, fetch)
    if value is None:
        return None
    return sorted((Starter(v["name"], v.get("description") or "") for v in value),
                  key=lambda s: (s.name != "python", s.name != "cpp", s.name == EMPTY, s.name))


def choose(services: Services, choice: str) -> tuple[str | None, str | None]:
    """(the starter to store on the project, or None for an initialised repository;
    the reason `choice` is refused, for people, or None)."""
    if choice == IMPORT:
        return None, None
    starters = offered(services)
    names = {s.name for s in starters or ()}
    if choice in names:
        return choice, None
    if choice == EMPTY:
        return None, None  # no `empty` template: Gitea's own initialised repository
    if starters is None:
        return None, ("The starters cannot be read from Gitea right now; choose Empty, or try "
                      "again in a minute.")
    return None, f"There is no starter “{choice[:100]}”; choose one of the list."


# -- the repository stage -------------------------------------------------------------------
def generate(gitea: GiteaClient, project: Project):
    """The project's repository generated from its starter, or the one already there."""
    try:
        return gitea.generate_repo(ORG, project.starter, project.group.slug, project.slug,
                                   description=project.description)
    except (NotFound, BadRequest) as exc:  # gone, or no longer a template (422)
        if isinstance(exc, BadRequest) and exc.status != 422:
            raise
        raise StarterUnavailable(
            f"The starter “{project.starter}” is no longer offered by Gitea ({exc.message}). "
            "Ask an administrator to restore it, or create the project again with another "
            "starter.") from None


# -- a repository's files -------------------------------------------------------------------
def _entries(gitea: GiteaClient, project: Project) -> list:
    entries = gitea.list_root(project.group.slug, project.slug)
    ordered = sorted(entries or (), key=lambda e: (e.type != "dir", e.name.lower()))
    return [{"name": e.name, "type": e.type, "size": e.size} for e in ordered[:MAX_FILES]]


def remember_files(gitea: GiteaClient, project: Project) -> None:
    """Read and keep the repository's top level (the repository stage, in a worker); a
    failure is only logged: the Overview reads it later."""
    try:
        store_read(f"gitea:files:{project.id}", _entries(gitea, project))
    except ServiceError as exc:
        log.warning("could not list the files of %s/%s: %s", project.group.slug, project.slug,
                    exc)


def _time_boxed(services: Services) -> GiteaClient:
    """The Gitea client for a read in a web request: one attempt of at most FILES_READ_TIMEOUT
    (the app's client retries). Its own connection, made only when a cached read is old
    (sharing the app client's session would re-mount that session's pool)."""
    http, settings = services.gitea.http, services.settings
    return GiteaClient(settings.gitea_url, settings.gitea_admin_token, retries=0,
                       connect_timeout=min(http.connect_timeout, FILES_READ_TIMEOUT),
                       read_timeout=FILES_READ_TIMEOUT)


def files(services: Services, project: Project) -> Listing:
    """The repository's top-level entries for the Overview (see the module notes)."""
    if not project.clone_url:
        return Listing((), None, missing=True)
    value, when, stale = _cached(f"gitea:files:{project.id}", FILES_FRESH,
                                 lambda: _entries(_time_boxed(services), project))
    return Listing(tuple(value or ()), when, stale=stale, missing=not value)
