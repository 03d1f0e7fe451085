"""In-memory state of the simulated Coder: users, API keys, templates, workspaces, builds.

A build's progress is not driven by a background thread: each build remembers
when it was created and the build/agent times in force at that moment, and its
job status, logs and agent lifecycle are *derived from the wall clock at read
time*. That keeps the simulator deterministic enough for tests (set
`build_seconds=0` and everything is finished on the next read) and free of
threads to stop.
"""
from __future__ import annotations

import hmac
import re
import secrets
import string
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from portal.workspaces.workspace_params import IMMUTABLE, PARAMETERS, SIZE_OPTIONS

NAME_RE = re.compile(r"^[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*$")
RESERVED_NAMES = frozenset({"new", "create"})
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
KEY_ALPHABET = string.ascii_letters + string.digits
USER_ERROR_MESSAGE = '"user" must be an existing uuid or username.'
SIGNED_OUT = "You are signed out or your session has expired. Please sign in again to continue."


def now() -> float:
    return time.time()


def rfc3339(ts: float | None) -> str | None:
    """Coder's timestamp format (UTC, microseconds, 'Z'); None stays None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="microseconds") \
        .replace("+00:00", "Z")


def parse_rfc3339(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def new_id() -> str:
    return str(uuid.uuid4())


class ApiError(Exception):
    """An error reply in Coder's shape: {"message", "detail", "validations"}."""

    def __init__(self, status: int, message: str, detail: str = "",
                 validations: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail
        self.validations = validations

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.detail:
            out["detail"] = self.detail
        if self.validations:
            out["validations"] = self.validations
        return out


def not_found() -> ApiError:
    return ApiError(404, "Resource not found or you do not have access to this resource")


def name_problem(name: Any, *, max_len: int = 32) -> str | None:
    """codersdk.NameValid: why `name` is not a valid user/workspace name, or None."""
    if not isinstance(name, str) or not name:
        return "must be given"
    if len(name) > max_len:
        return f"must be at most {max_len} characters"
    if not NAME_RE.match(name):
        return "must be alphanumeric with single hyphens, not starting or ending with a hyphen"
    if name.lower() in RESERVED_NAMES:
        return f"cannot use {name!r} as a name"
    return None


def validation_failed(field_name: str, tag: str, value: Any) -> ApiError:
    """The reply of Coder's httpapi.Read when a struct tag fails."""
    return ApiError(400, "Validation failed.", validations=[{
        "field": field_name,
        "detail": f'Validation failed for tag "{tag}" with value: "{value}"'}])


@dataclass
class User:
    id: str
    username: str
    email: str
    name: str
    login_type: str
    organization_ids: list[str]
    is_admin: bool = False
    status: str = "dormant"
    created_at: float = field(default_factory=now)

    def json(self) -> dict[str, Any]:
        roles = [{"name": "owner", "display_name": "Owner"}] if self.is_admin else []
        return {"id": self.id, "username": self.username, "email": self.email,
                "name": self.name, "login_type": self.login_type, "status": self.status,
                "organization_ids": list(self.organization_ids), "roles": roles,
                "avatar_url": "", "created_at": rfc3339(self.created_at),
                "updated_at": rfc3339(self.created_at),
                "last_seen_at": rfc3339(self.created_at), "theme_preference": ""}


@dataclass
class ApiKey:
    id: str
    secret: str
    user_id: str
    token_name: str
    expires_at: float
    scope: str = "all"
    created_at: float = field(default_factory=now)

    @property
    def token(self) -> str:
        return f"{self.id}-{self.secret}"

    @staticmethod
    def generate(user_id: str, token_name: str, lifetime: float, scope: str = "all") -> "ApiKey":
        """Coder's key shape: a 10-character id, '-', a 22-character secret."""
        key_id = "".join(secrets.choice(KEY_ALPHABET) for _ in range(10))
        secret = "".join(secrets.choice(KEY_ALPHABET) for _ in range(22))
        return ApiKey(key_id, secret, user_id, token_name, now() + lifetime, scope)


@dataclass
class Template:
    id: str
    organization_id: str
    name: str
    active_version_id: str
    parameters: list[dict[str, Any]]
    created_at: float = field(default_factory=now)

    def json(self, org_name: str) -> dict[str, Any]:
        ts = rfc3339(self.created_at)
        return {"id": self.id, "name": self.name, "display_name": self.name,
                "organization_id": self.organization_id, "organization_name": org_name,
                "active_version_id": self.active_version_id, "provisioner": "terraform",
                "default_ttl_ms": 8 * 3600 * 1000, "activity_bump_ms": 3600 * 1000,
                "deprecated": False, "deprecation_message": "", "description": "",
                "icon": "", "created_at": ts, "updated_at": ts,
                "require_active_version": False, "allow_user_cancel_workspace_jobs": True,
                "use_classic_parameter_flow": True, "max_port_share_level": "owner",
                "active_user_count": 0}


# Build log script: (fraction of build time, stage, level, output).
_START_SCRIPT = [
    (0.20, "Setting up", "info", "Provisioner job acquired by simulated provisioner"),
    (0.30, "Parsing template parameters", "info", "Terraform 1.9.8"),
    (0.45, "Planning infrastructure", "info", "Initializing the backend..."),
    (0.60, "Planning infrastructure", "info", "coder_agent.main: Plan to create"),
    (0.75, "Starting workspace", "info", "docker_container.workspace[0]: Creating..."),
    (0.90, "Starting workspace", "info", "docker_container.workspace[0]: Creation complete"),
]
_STOP_SCRIPT = [
    (0.20, "Setting up", "info", "Provisioner job acquired by simulated provisioner"),
    (0.60, "Stopping workspace", "info", "docker_container.workspace[0]: Destroying..."),
    (0.90, "Stopping workspace", "info", "docker_container.workspace[0]: Destruction complete"),
]


@dataclass
class Build:
    """One workspace build; its progress is a pure function of the clock."""

    id: str
    workspace_id: str
    number: int
    transition: str
    initiator_id: str
    template_version_id: str
    parameters: list[dict[str, str]]
    build_seconds: float
    agent_seconds: float
    fail_message: str | None = None
    created_at: float = field(default_factory=now)
    job_id: str = field(default_factory=new_id)
    resource_id: str = field(default_factory=new_id)
    agent_id: str = field(default_factory=new_id)
    app_id: str = field(default_factory=new_id)
    ttl_ms: int | None = None
    deadline_override: float | None = None

    # -- timeline -----------------------------------------------------------------------
    @property
    def started_at(self) -> float:
        return self.created_at + 0.2 * self.build_seconds

    @property
    def completed_at(self) -> float:
        return self.created_at + self.build_seconds

    def job_status(self, at: float) -> str:
        if at < self.started_at:
            return "pending"
        if at < self.completed_at:
            return "running"
        return "failed" if self.fail_message else "succeeded"

    def status(self, at: float) -> str:
        """The workspace status Coder derives from job status and transition."""
        job = self.job_status(at)
        if job == "pending":
            return "pending"
        if job == "failed":
            return "failed"
        running = {"start": "starting", "stop": "stopping", "delete": "deleting"}
        done = {"start": "running", "stop": "stopped", "delete": "deleted"}
        return (running if job == "running" else done)[self.transition]

    def agent_state(self, at: float) -> tuple[str, str] | None:
        """(status, lifecycle_state) of the agent, or None when there is no agent."""
        if self.transition != "start" or self.job_status(at) != "succeeded":
            return None
        since = at - self.completed_at
        if since < 0.3 * self.agent_seconds:
            return "connecting", "created"
        if since < self.agent_seconds:
            return "connected", "starting"
        return "connected", "ready"

    def deadline(self, at: float) -> float | None:
        if self.deadline_override is not None:
            return self.deadline_override
        if self.transition != "start" or self.job_status(at) != "succeeded" or not self.ttl_ms:
            return None
        return self.completed_at + self.ttl_ms / 1000

    def logs(self, at: float) -> list[dict[str, Any]]:
        """The log lines written so far (ids grow with time, like Coder's)."""
        script = _START_SCRIPT if self.transition == "start" else _STOP_SCRIPT
        lines = [(frac, stage, level, out) for frac, stage, level, out in script]
        if self.fail_message:
            lines += [(1.0, "Starting workspace", "error", f"Error: {self.fail_message}"),
                      (1.0, "Starting workspace", "error",
                       "  with docker_container.workspace[0], on main.tf line 120")]
        lines.append((1.0, "Cleaning Up", "info", "Cleaning Up"))
        out = []
        for index, (frac, stage, level, text) in enumerate(lines):
            written = self.created_at + frac * self.build_seconds
            if written <= at:
                out.append({"id": self.number * 1000 + index + 1, "created_at": rfc3339(written),
                            "log_source": "provisioner", "log_level": level,
                            "stage": stage, "output": text})
        return out


@dataclass
class Workspace:
    id: str
    owner_id: str
    organization_id: str
    template_id: str
    name: str
    ttl_ms: int | None
    builds: list[Build] = field(default_factory=list)
    created_at: float = field(default_factory=now)
    last_used_at: float = field(default_factory=now)

    @property
    def latest(self) -> Build:
        return self.builds[-1]

    def deleted(self, at: float) -> bool:
        return self.latest.transition == "delete" and self.latest.job_status(at) == "succeeded"

    def parameter(self, name: str) -> str:
        """The value of a rich parameter from the most recent build that set it."""
        for build in reversed(self.builds):
            for item in build.parameters:
                if item.get("name") == name:
                    return str(item.get("value", ""))
        return ""


def check_value(param: dict[str, Any], value: str, previous: dict[str, str]) -> None:
    """codersdk/richparameters.go (ParameterResolver.ValidateResolve): an immutable
    parameter may not change after create; a value outside the options is refused."""
    name = param["name"]
    if not param["mutable"] and name in previous and previous[name] != value:
        raise ApiError(400, "Unable to validate parameters", f'Parameter "{name}" is not '
                       "mutable, so it can't be updated after creating a workspace.")
    allowed = [o["value"] for o in param["options"]]
    if allowed and value not in allowed:
        raise ApiError(400, "Unable to validate parameters",
                       f'parameter "{name}": value "{value}" must be one of the options')


def default_parameters() -> list[dict[str, Any]]:
    """The template's rich parameters: those of portal/workspaces/workspace_params.py."""
    out = []
    for name, kind in PARAMETERS.items():
        required = name == "git_repo"
        options, default = SIZE_OPTIONS.get(name, ((), ""))
        out.append({"name": name, "display_name": name.replace("_", " ").title(),
                    "description": "", "description_plaintext": "", "type": kind,
                    "form_type": "radio" if options else "input",
                    "mutable": name not in IMMUTABLE, "ephemeral": False,
                    "default_value": str(default), "required": required,
                    "options": [{"name": str(o), "description": "", "value": str(o), "icon": ""}
                                for o in options],
                    "icon": "", "validation_error": "", "validation_regex": ""})
    return out


def secrets_equal(a: str, b: str) -> bool:
    """Constant-time comparison, as a real server would do."""
    return hmac.compare_digest(a.encode(), b.encode())
