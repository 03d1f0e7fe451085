"""Value types of the Coder client and the NOTES.md readiness rule (no I/O here)."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, NamedTuple

from portal.clients.coder_types import CoderBuild, CoderWorkspace
from portal.workspaces.workspace_params import AGENT_NAME, APP_SLUG


class CoderStage(enum.StrEnum):
    """Where a workspace stands in Coder, by the NOTES.md rules (`readiness`)."""

    not_created = "not_created"
    pending = "pending"
    building = "building"
    starting_agent = "starting_agent"
    ready = "ready"
    stopping = "stopping"
    stopped = "stopped"
    failed = "failed"
    deleting = "deleting"
    deleted = "deleted"


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

    stage: CoderStage
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
        return self.stage in (CoderStage.ready, CoderStage.failed, CoderStage.stopped,
                              CoderStage.deleted, CoderStage.not_created)


# -- readiness ---------------------------------------------------------------------------
def readiness(workspace: CoderWorkspace | None, *, agent: str = AGENT_NAME,
              app: str = APP_SLUG) -> WorkspaceStatus:
    """The stage of `workspace` (None when it doesn't exist).

    Ready = latest build `transition == start`, `status == running`, job
    `succeeded`, agent `connected` with lifecycle `ready` (`start_error` and
    `start_timeout` count, with a warning), the app `healthy` or `disabled`.
    Failed = latest build `status == failed`, the reason in `job.error`.
    """
    if workspace is None:
        return WorkspaceStatus(CoderStage.not_created,
                               message="The workspace has not been created yet.")
    build = workspace.latest_build
    status, transition, job_status = build.status, build.transition, build.job_status
    ids = {"build_id": build.id or None, "workspace_id": workspace.id or None}
    if status == "failed":
        error = build.job_error
        return WorkspaceStatus(CoderStage.failed, failed=True, job_error=error,
                               message=f"The workspace build failed: {error}" if error
                               else "The workspace build failed.", **ids)
    if status in ("deleting", "deleted") or transition == "delete":
        stage = CoderStage.deleted if status == "deleted" else CoderStage.deleting
        return WorkspaceStatus(stage, message=f"The workspace is {stage}.", **ids)
    if status in ("stopping", "canceling") or (transition == "stop" and status != "stopped"):
        return WorkspaceStatus(CoderStage.stopping, message="The workspace is stopping.", **ids)
    if status in ("stopped", "canceled"):
        note = "The last build was canceled." if status == "canceled" else "The workspace is stopped."
        return WorkspaceStatus(CoderStage.stopped, message=note, **ids)
    if status == "pending" or job_status == "pending":
        return WorkspaceStatus(CoderStage.pending,
                               message="Waiting for a provisioner to take the build.", **ids)
    if status != "running" or job_status != "succeeded" or transition != "start":
        return WorkspaceStatus(CoderStage.building, message="Building the workspace.", **ids)
    return _agent_readiness(build, agent, app, ids)


def _agent_readiness(build: CoderBuild, agent_name: str, app_slug: str,
                     ids: dict[str, Any]) -> WorkspaceStatus:
    agent = build.agent(agent_name)
    if agent is None:
        return WorkspaceStatus(CoderStage.starting_agent,
                               message="Waiting for the workspace agent.", **ids)
    ids = {**ids, "agent_id": agent.id or None}
    agent_status, lifecycle = agent.status, agent.lifecycle_state
    warnings: list[str] = []
    if agent_status != "connected":
        if agent_status in ("timeout", "disconnected"):
            warnings.append(f"The workspace agent is {agent_status}.")
        return WorkspaceStatus(CoderStage.starting_agent,
                               message="Waiting for the workspace agent to connect.",
                               warnings=tuple(warnings), **ids)
    if lifecycle in ("start_error", "start_timeout"):
        warnings.append("The workspace's startup script "
                        + ("failed" if lifecycle == "start_error" else "timed out")
                        + "; the editor may still work.")
    elif lifecycle != "ready":
        message = ("Running the workspace's startup script." if lifecycle in ("created", "starting")
                   else f"The workspace agent is {lifecycle or 'in an unknown state'}.")
        return WorkspaceStatus(CoderStage.starting_agent, message=message, **ids)
    app = agent.app(app_slug)
    health = app.health if app else ""
    if health not in ("healthy", "disabled"):
        if app is None:
            warnings.append(f"The template defines no '{app_slug}' app.")
        elif health == "unhealthy":
            warnings.append(f"The {app_slug} app reports unhealthy.")
        return WorkspaceStatus(CoderStage.starting_agent,
                               message=f"Waiting for {app_slug} to start.",
                               warnings=tuple(warnings), **ids)
    return WorkspaceStatus(CoderStage.ready, ready=True, message="Ready.",
                           warnings=tuple(warnings), **ids)
