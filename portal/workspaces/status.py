"""What the Code tab shows, read from the row the worker writes: no outbound call, no write."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..models import WorkspaceState, utcnow
from ..tokens import aware

# The named stages the Code tab shows, in order.
STAGES = {
    "repository": "Preparing the repository",
    "account": "Preparing your account",
    "waiting": "Waiting for a free place",
    "workspace": "Creating your workspace",
    "building": "Building your workspace",
    "starting": "Starting the IDE",
    "ready": "Ready",
}
# How long a workspace seen ready is shown as ready without a new look (the worker refreshes
# watched ones; an older sighting sends the Code tab through a quick check first).
READY_TRUST = dt.timedelta(seconds=20)


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


def ready_is_fresh(state: WorkspaceState, now: dt.datetime | None = None) -> bool:
    observed = aware(state.observed_at)
    return (state.stage == "ready" and bool(state.app_url) and observed is not None
            and (now or utcnow()) - observed <= READY_TRUST)


def stored_status(state: WorkspaceState) -> Status:
    """What the worker last wrote for this row, as the Code tab shows it."""
    if state.stage == "failed":
        return Status("failed", state.last_error or "Provisioning failed.", failed=True)
    if state.stage == "stopped":
        if state.prepared:
            return Status("stopped", "Your workspace is prepared (built and stopped).",
                          stopped=True)
        return Status("stopped", "Your workspace is stopped.", stopped=True)
    if state.stage == "ready":
        if ready_is_fresh(state):
            return Status("ready", "Ready.", ready=True, app_url=state.app_url,
                          warnings=tuple(state.status_warnings or ()))
        return Status("starting", "Checking your workspace…", pending=True)
    stage = state.stage if state.stage in STAGES else "workspace"
    if state.last_error:  # trouble the worker retries by itself
        return Status(stage, state.last_error, transient=True)
    if state.status_message:
        return Status(stage, state.status_message, log_tail=tuple(state.log_tail or ()),
                      warnings=tuple(state.status_warnings or ()))
    return Status(stage, STAGES.get(state.stage, "Working") + "…")
