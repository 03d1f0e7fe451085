"""Reply types of the Coder client: frozen dataclasses built from checked JSON (no I/O here).

Each `*_from(body, method, path)` checks the fields the portal relies on (a missing one, or
one of the wrong type, is `BadResponse`, never a KeyError) and reads the rest defensively:
a workspace's resources, agents and apps may be absent or partial while it builds.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from portal.clients.http import checked_field


# -- reply types ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CoderBuildInfo:
    version: str


@dataclass(frozen=True)
class CoderUser:
    id: str
    username: str
    email: str
    status: str = ""                       # active, dormant, suspended
    login_type: str = ""
    organization_ids: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()            # site role names (owner, template-admin, ...)


@dataclass(frozen=True)
class CoderTemplate:
    id: str
    name: str
    active_version_id: str


@dataclass(frozen=True)
class CoderParameter:
    """A rich parameter a template version declares."""
    name: str
    required: bool = False
    default_value: str = ""


@dataclass(frozen=True)
class CoderApp:
    slug: str
    health: str = ""                       # healthy, initializing, unhealthy, disabled


@dataclass(frozen=True)
class CoderAgent:
    id: str
    name: str
    status: str = ""                       # connecting, connected, disconnected, timeout
    lifecycle_state: str = ""              # created, starting, ready, start_error, ...
    apps: tuple[CoderApp, ...] = ()

    def app(self, slug: str) -> CoderApp | None:
        return next((a for a in self.apps if a.slug == slug), None)


@dataclass(frozen=True)
class CoderBuild:
    id: str
    status: str                            # pending, starting, running, stopping, failed, ...
    transition: str                        # start, stop, delete
    job_status: str = ""
    job_error: str = ""
    created_at: dt.datetime | None = None
    deadline: dt.datetime | None = None    # the autostop deadline (None: none set)
    agents: tuple[CoderAgent, ...] = ()

    def agent(self, name: str) -> CoderAgent | None:
        return next((a for a in self.agents if a.name == name), None)


@dataclass(frozen=True)
class CoderWorkspace:
    id: str
    name: str
    owner_name: str
    latest_build: CoderBuild
    template_id: str = ""
    last_used_at: dt.datetime | None = None


# -- parsing -------------------------------------------------------------------------------
def need(body: Any, key: str, kind: type | tuple, method: str, path: str) -> Any:
    """body[key] checked for presence and type, else BadResponse."""
    return checked_field("coder", body, key, kind, method, path)


def text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def time_of(value: Any) -> dt.datetime | None:
    """An RFC 3339 time; None when absent, garbled or Go's zero time (0001-01-01)."""
    if not isinstance(value, str) or not value or value.startswith("0001-"):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _dicts(value: Any) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def user_from(body: Any, method: str, path: str) -> CoderUser:
    for key in ("id", "username", "email"):
        need(body, key, str, method, path)
    return CoderUser(body["id"], body["username"], body["email"], text(body.get("status")),
                     text(body.get("login_type")),
                     tuple(i for i in body.get("organization_ids") or () if isinstance(i, str)),
                     tuple(text(r.get("name")) for r in _dicts(body.get("roles"))))


def template_from(body: Any, method: str, path: str) -> CoderTemplate:
    for key in ("id", "name", "active_version_id"):
        need(body, key, str, method, path)
    return CoderTemplate(body["id"], body["name"], body["active_version_id"])


def parameter_from(body: Any, method: str, path: str) -> CoderParameter:
    return CoderParameter(need(body, "name", str, method, path), body.get("required") is True,
                          text(body.get("default_value")))


def _agent(body: dict) -> CoderAgent:
    apps = tuple(CoderApp(text(a.get("slug")), text(a.get("health")))
                 for a in _dicts(body.get("apps")))
    return CoderAgent(text(body.get("id")), text(body.get("name")), text(body.get("status")),
                      text(body.get("lifecycle_state")), apps)


def build_from(body: Any, method: str, path: str, *, with_job: bool = False) -> CoderBuild:
    """A WorkspaceBuild; `with_job`: its provisioner job must be there (a workspace's latest)."""
    for key in ("id", "status", "transition"):
        need(body, key, str, method, path)
    job = need(body, "job", dict, method, path) if with_job else body.get("job")
    job = job if isinstance(job, dict) else {}
    if with_job:
        need(job, "status", str, method, path)
    agents = tuple(_agent(a) for r in _dicts(body.get("resources"))
                   for a in _dicts(r.get("agents")))
    return CoderBuild(body["id"], body["status"], body["transition"], text(job.get("status")),
                      text(job.get("error")), time_of(body.get("created_at")),
                      time_of(body.get("deadline")), agents)


def workspace_from(body: Any, method: str, path: str) -> CoderWorkspace:
    for key in ("id", "name", "owner_name"):
        need(body, key, str, method, path)
    build = build_from(need(body, "latest_build", dict, method, path), method, path,
                       with_job=True)
    return CoderWorkspace(body["id"], body["name"], body["owner_name"], build,
                          text(body.get("template_id")), time_of(body.get("last_used_at")))


def buildinfo_from(body: Any, method: str, path: str) -> CoderBuildInfo:
    return CoderBuildInfo(need(body, "version", str, method, path))
