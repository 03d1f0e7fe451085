"""What the Code tab shows, read from the row the worker writes: no outbound call, no write."""
from __future__ import annotations

from dataclasses import dataclass

from portal.models import WorkspaceState
from portal.stages import Stage

# The named stages the Code tab shows, in order.
STAGES = {
    Stage.repository: "Preparing the repository",
    Stage.account: "Preparing your account",
    Stage.waiting: "Waiting for a free place",
    Stage.workspace: "Creating your workspace",
    Stage.building: "Building your workspace",
    Stage.starting: "Starting the IDE",
    Stage.ready: "Ready",
}


@dataclass(frozen=True)
class Status:
    stage: str
    message: str
    ready: bool = False
    failed: bool = False
    transient: bool = False
    stopped: bool = False
    log_tail: tuple[str, ...] = ()
    iframe_url: str | None = None
    app_url: str | None = None
    warnings: tuple[str, ...] = ()
    pending: bool = False  # waiting for the worker (queued, or the broker is out of reach)

    @property
    def done(self) -> bool:
        """Nothing more will happen without the person: stop polling."""
        return self.ready or self.failed

    @property
    def stage_index(self) -> int:
        keys = list(STAGES)
        return keys.index(self.stage) if self.stage in keys else -1


def stored_status(state: WorkspaceState) -> Status:
    """What the worker last wrote for this row, as the Code tab shows it."""
    if state.stage == Stage.failed:
        return Status(Stage.failed, state.last_error or "Provisioning failed.", failed=True)
    if state.stage == Stage.stopped:
        if state.prepared:
            return Status(Stage.stopped, "Your workspace is prepared (built and stopped).",
                          stopped=True)
        return Status(Stage.stopped, "Your workspace is stopped.", stopped=True)
    if state.stage == Stage.ready:
        if state.ready_is_fresh():
            return Status(Stage.ready, "Ready.", ready=True, app_url=state.app_url,
                          warnings=tuple(state.status_warnings or ()))
        return Status(Stage.starting, "Checking your workspace…", pending=True)
    stage = state.stage if state.stage in STAGES else Stage.workspace
    if state.last_error:  # trouble the worker retries by itself
        return Status(stage, state.last_error, transient=True)
    if state.status_message:
        return Status(stage, state.status_message, log_tail=tuple(state.log_tail or ()),
                      warnings=tuple(state.status_warnings or ()))
    return Status(stage, STAGES.get(state.stage, "Working") + "…")
