"""The vocabularies of a workspace: the stage the portal stores and shows, the state its person
wants, what the admin pages call a workspace seen in Coder, and ONE map from Coder's readiness
stages (CoderStage, portal/clients/coder_status.py) to the first and the third.

The enums are `StrEnum`s: a member equals its string ("ready" == Stage.ready), prints as it,
and goes into JSON, templates and metric labels unchanged.
"""
from __future__ import annotations

import enum

from portal.clients.coder_status import CoderStage


class Stage(enum.StrEnum):
    """Where the portal's work on a workspace stands (WorkspaceState.stage)."""

    not_created = "not_created"  # the column's default: a row nobody has worked on yet
    repository = "repository"
    account = "account"
    waiting = "waiting"          # admission: waiting for a free place
    workspace = "workspace"
    building = "building"
    starting = "starting"
    ready = "ready"
    stopped = "stopped"
    failed = "failed"
    retry = "retry"              # Retry pressed on a failed row: the next pass starts a new build

    @property
    def label(self) -> str:
        """What the dashboard calls a workspace in this stage (as the admin pages do)."""
        return _LABELS.get(self, LiveState.starting)


class DesiredState(enum.StrEnum):
    """What the person (or an administrator) wants of it (WorkspaceState.desired_state)."""

    running = "running"
    stopped = "stopped"


class LiveState(enum.StrEnum):
    """A workspace as the admin pages and the dashboard show it."""

    running = "running"
    starting = "starting"
    stopping = "stopping"
    stopped = "stopped"
    failed = "failed"
    deleting = "deleting"
    missing = "missing"          # the row names a workspace Coder does not know
    not_created = "not_created"
    unknown = "unknown"          # Coder could not be read


_LABELS = {Stage.ready: LiveState.running, Stage.failed: LiveState.failed,
           Stage.stopped: LiveState.stopped}

# Coder's readiness stage -> (the portal's stage for it, what the admin pages call it).
# A pass decides "failed" before it reads this map (it needs the build's error).
_FROM_CODER: dict[CoderStage, tuple[Stage, LiveState]] = {
    CoderStage.not_created: (Stage.workspace, LiveState.not_created),
    CoderStage.pending: (Stage.building, LiveState.starting),
    CoderStage.building: (Stage.building, LiveState.starting),
    CoderStage.starting_agent: (Stage.starting, LiveState.starting),
    CoderStage.ready: (Stage.ready, LiveState.running),
    CoderStage.stopping: (Stage.building, LiveState.stopping),
    CoderStage.stopped: (Stage.building, LiveState.stopped),
    CoderStage.failed: (Stage.building, LiveState.failed),
    CoderStage.deleting: (Stage.workspace, LiveState.deleting),
    CoderStage.deleted: (Stage.workspace, LiveState.missing),
}


def stage_of(coder_stage: CoderStage) -> Stage:
    """The portal's stage for a workspace Coder reports in `coder_stage` (unknown: building)."""
    return _FROM_CODER.get(coder_stage, (Stage.building, LiveState.starting))[0]


def live_of(coder_stage: CoderStage) -> LiveState:
    """What the admin pages call a workspace Coder reports in `coder_stage` (unknown: starting)."""
    return _FROM_CODER.get(coder_stage, (Stage.building, LiveState.starting))[1]
