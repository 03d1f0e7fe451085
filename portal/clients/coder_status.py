"""Value types of the Coder client and the NOTES.md readiness rule (no I/O here)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from portal.workspace_params import AGENT_NAME, APP_SLUG

STAGES = ("not_created", "pending", "building", "starting_agent", "ready", "stopping",
          "stopped", "failed", "deleting", "deleted")


# -- value types -------------------------------------------------------------------------
class MintedToken(NamedTuple):
    """A freshly minted API key. `secret_key` is the whole `<id>-<secret>` session token."""

    key_id: str
    secret_key: str

    def __repr__(self) -> str:  # never print the secret
        return f"MintedToken(key_id={self.key_id!r}, secret_key='***')"


@dataclass(frozen=True)
class BuildLog:
    """The tail of a build's log and its error lines (what a failed build shows)."""

    lines: tuple[str, ...]
    errors: tuple[str, ...]
    stage: str = ""


@dataclass(frozen=True)
class WorkspaceStatus:
    """Where a workspace stands, by the NOTES.md "Ready to open" / "Failed" rules."""

    stage: str
    ready: bool = False
    failed: bool = False
    message: str = ""
    job_error: str = ""
    build_id: str | None = None
    warnings: tuple[str, ...] = ()
    workspace_id: str | None = None
    agent_id: str | None = None

    @property
    def settled(self) -> bool:
        """Nothing will change without a new request from us: stop polling."""
        return self.stage in ("ready", "failed", "stopped", "deleted", "not_created")


# -- readiness ---------------------------------------------------------------------------
def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def text_of(value: Any) -> str:
    """A string field of Coder's JSON, or "" when it is missing or not a string."""
    return value if isinstance(value, str) else ""


def named_item(items: Any, key: str, name: str) -> dict | None:
    """The first object of a JSON list whose `key` is `name` (an agent, an app, a region)."""
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get(key) == name:
            return item
    return None


def readiness(workspace: dict | None, *, agent: str = AGENT_NAME,
              app: str = APP_SLUG) -> WorkspaceStatus:
    """The stage of `workspace` (a Coder Workspace JSON, or None when it doesn't exist).

    Ready = latest build `transition == start`, `status == running`, job
    `succeeded`, agent `connected` with lifecycle `ready` (`start_error` and
    `start_timeout` count, with a warning), the app `healthy` or `disabled`.
    Failed = latest build `status == failed`, the reason in `job.error`.
    """
    if workspace is None:
        return WorkspaceStatus("not_created", message="The workspace has not been created yet.")
    build = _dict(workspace.get("latest_build"))
    job = _dict(build.get("job"))
    status, transition = text_of(build.get("status")), text_of(build.get("transition"))
    job_status = text_of(job.get("status"))
    ids = {"build_id": text_of(build.get("id")) or None,
           "workspace_id": text_of(workspace.get("id")) or None}
    if status == "failed":
        error = text_of(job.get("error"))
        return WorkspaceStatus("failed", failed=True, job_error=error,
                               message=f"The workspace build failed: {error}" if error
                               else "The workspace build failed.", **ids)
    if status in ("deleting", "deleted") or transition == "delete":
        stage = "deleted" if status == "deleted" else "deleting"
        return WorkspaceStatus(stage, message=f"The workspace is {stage}.", **ids)
    if status in ("stopping", "canceling") or (transition == "stop" and status != "stopped"):
        return WorkspaceStatus("stopping", message="The workspace is stopping.", **ids)
    if status in ("stopped", "canceled"):
        note = "The last build was canceled." if status == "canceled" else "The workspace is stopped."
        return WorkspaceStatus("stopped", message=note, **ids)
    if status == "pending" or job_status == "pending":
        return WorkspaceStatus("pending", message="Waiting for a provisioner to take the build.",
                               **ids)
    if status != "running" or job_status != "succeeded" or transition != "start":
        return WorkspaceStatus("building", message="Building the workspace.", **ids)
    return _agent_readiness(build, agent, app, ids)


def _agent_readiness(build: dict, agent_name: str, app_slug: str,
                     ids: dict[str, Any]) -> WorkspaceStatus:
    agents = [a for r in build.get("resources") or [] if isinstance(r, dict)
              for a in r.get("agents") or [] if isinstance(a, dict)]
    agent = named_item(agents, "name", agent_name)
    if agent is None:
        return WorkspaceStatus("starting_agent", message="Waiting for the workspace agent.", **ids)
    ids = {**ids, "agent_id": text_of(agent.get("id")) or None}
    agent_status, lifecycle = text_of(agent.get("status")), text_of(agent.get("lifecycle_state"))
    warnings: list[str] = []
    if agent_status != "connected":
        if agent_status in ("timeout", "disconnected"):
            warnings.append(f"The workspace agent is {agent_status}.")
        return WorkspaceStatus("starting_agent", message="Waiting for the workspace agent to "
                               "connect.", warnings=tuple(warnings), **ids)
    if lifecycle in ("start_error", "start_timeout"):
        warnings.append("The workspace's startup script "
                        + ("failed" if lifecycle == "start_error" else "timed out")
                        + "; the editor may still work.")
    elif lifecycle != "ready":
        message = ("Running the workspace's startup script." if lifecycle in ("created", "starting")
                   else f"The workspace agent is {lifecycle or 'in an unknown state'}.")
        return WorkspaceStatus("starting_agent", message=message, **ids)
    app = named_item(agent.get("apps"), "slug", app_slug)
    health = text_of(app.get("health")) if app else ""
    if health not in ("healthy", "disabled"):
        if app is None:
            warnings.append(f"The template defines no '{app_slug}' app.")
        elif health == "unhealthy":
            warnings.append(f"The {app_slug} app reports unhealthy.")
        return WorkspaceStatus("starting_agent", message=f"Waiting for {app_slug} to start.",
                               warnings=tuple(warnings), **ids)
    return WorkspaceStatus("ready", ready=True, message="Ready.", warnings=tuple(warnings), **ids)
