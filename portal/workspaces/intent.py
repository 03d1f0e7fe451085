"""What the web tier records: the person's intent, then a job on the queue (no outbound call).

A row whose job could not be enqueued (the broker is down) stays due: the worker's sweep
enqueues it once it runs again, and the Code tab shows "queued" meanwhile.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from portal.workspaces import provisioning
from portal.extensions import db
from portal.models import Membership, Project, User, WorkspaceState, utcnow
from portal.stages import DesiredState, Stage
from portal.people.tokens import aware
from portal.workspaces.queue import queue

GRACE = dt.timedelta(seconds=10)      # the sweep re-enqueues a row its job has not taken by then
WATCH_WRITE = dt.timedelta(seconds=5)  # watched_at is rewritten at most this often
QUEUED = "Queued: waiting for the provisioning worker…"
REPLACING = "Replacing your workspace with one of the new disk size…"


def request_pass(state: WorkspaceState) -> bool:
    """Make the row due and enqueue its pass; False when the broker is out of reach."""
    state.due_at = utcnow() + GRACE
    db.session.commit()
    if queue().enqueue("reconcile", state.user_id, state.project_id):
        return True
    state.due_at = utcnow()
    state.status_message = QUEUED
    db.session.commit()
    return False


def open_workspace(user: User, project: Project, *, retry: bool = False) -> WorkspaceState:
    """Opening the Code tab (or Retry): "I want my workspace for this project running"."""
    state = provisioning.want_running(user, project, retry=retry)
    state.watched_at = utcnow()
    if state.prepared:
        state.prepared = False  # from now on a workspace its person uses
    if state.stage == Stage.failed:
        db.session.commit()
        return state  # waits for Retry
    if state.ready_is_fresh():
        db.session.commit()
        return state  # the view asks Coder for the hand-off; nothing for the worker
    if state.stage in (Stage.stopped, Stage.ready):
        starting = state.stage == Stage.stopped
        state.set_stage(Stage.building if starting else Stage.starting)
        state.status_message = ("Starting your workspace…" if starting
                                else "Checking your workspace…")
        state.log_tail = None
    request_pass(state)
    return state


def replace_workspace(state: WorkspaceState) -> None:
    """A confirmed size with another disk: the worker deletes the workspace and creates it
    anew (disk_size is immutable in the template); the caller has set the size."""
    state.recreate_requested_at = utcnow()
    state.set_stage(Stage.workspace)
    state.status_message = REPLACING
    state.log_tail = None
    request_pass(state)


def make_room(user: User) -> bool:
    """Over the personal limit: ask the worker to stop this person's least recently used
    workspace (portal/workspaces/jobs.py); False when the broker is out of reach."""
    return queue().enqueue("make_room", user.id)


def watched(state: WorkspaceState) -> None:
    """A poll or the open IDE's keep-alive: the Code tab is being looked at (rarely written)."""
    seen = aware(state.watched_at)
    now = utcnow()
    if seen is None or now - seen > WATCH_WRITE:
        db.session.execute(update(WorkspaceState).where(WorkspaceState.id == state.id)
                           .values(watched_at=now).execution_options(synchronize_session=False))
        db.session.commit()


def set_running(user: User, project: Project, running: bool) -> str:
    """Start or stop from the Overview: recorded now, done by the worker."""
    state = provisioning.workspace_state(user, project)
    state.desired_state = DesiredState.running if running else DesiredState.stopped
    state.prepared = False
    if not running:
        state.set_stage(Stage.stopped)
    elif state.stage in (Stage.stopped, Stage.ready):
        state.set_stage(Stage.building)
        state.status_message, state.log_tail = "Starting your workspace…", None
    db.session.commit()
    if not state.coder_workspace_id and not running:
        state.due_at = None
        db.session.commit()
        return "Your workspace has not been created yet."
    request_pass(state)
    return "Your workspace is starting." if running else "Your workspace is stopping."


def prewarm(project: Project, users: list[User]) -> int:
    """Build these people's workspaces of a new project (or a new member's) and stop them once
    built, so that a first open is a start. Never for a deactivated person."""
    count = 0
    for user in users:
        if not user.active:
            continue
        state = provisioning.workspace_state(user, project)
        if state.coder_workspace_id or state.stage not in (Stage.repository, Stage.not_created):
            continue  # already used or already under way
        state.prepared, state.desired_state = True, DesiredState.running
        request_pass(state)
        count += 1
    return count


def prewarm_targets(project: Project, creator: User | None, mode: str) -> list[User]:
    """Whom PORTAL_PREWARM names for a new project: its creator, or every member, or nobody."""
    if mode == "off":
        return []
    if mode == "members":
        return list(db.session.scalars(db.select(User).join(Membership).where(
            Membership.group_id == project.group_id)).all())
    return [creator] if creator is not None else []
