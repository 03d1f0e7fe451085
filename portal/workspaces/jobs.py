"""The queue's tasks: reconcile(person, project), the observation tick, the minute's housekeeping.

reconcile runs one idempotent pass (portal/workspaces/provisioning.py) under the row's database lease and
goes on through the portal's own quick steps; a build is then watched by the tick, and trouble
is retried after a pause. The tick is one chain for the whole tier (a claim in worker_beats):
one batched Coder read for every workspace in flight (observe.py), often while one starts,
then the sweep that enqueues every row that is due, so a lost message or a killed worker only
delays. The housekeeping (Huey periodic task, each minute, one worker) restarts a lost chain
and does the work that used to wait for a person's request.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
import uuid
from typing import Callable

from flask import Flask
from huey import crontab

from portal import audit
from portal.workspaces import provisioning
from portal.people import offboarding, tokens
from portal.clients.http import ServiceError
from portal.extensions import db
from portal.models import Project, User, WorkspaceState, utcnow
from portal.observability import context, metrics
from portal.groups.permissions import acting_role
from portal.services import Services, current_services
from portal.stages import Stage
from portal.people.tokens import aware
from portal.workspaces import (admin_actions, admission, beats, housekeeping, observe,
                               occupancy)

log = logging.getLogger(__name__)
TICK_IDLE = 2                        # seconds to the next tick with nothing in flight
TICK_SPAN = 5.0                      # a tick with work in flight looks again for this long
STEP = {"starting": 0.25, "building": 0.5}  # between looks, by the busiest stage in flight
RETRY_SECONDS = 3                    # a pass that met transient trouble runs again after this
BACKSTOP = dt.timedelta(seconds=60)  # a building row is passed again this often (tick lost)
QUICK_STAGES = (Stage.repository, Stage.account, Stage.workspace)


def register(huey, app: Flask) -> dict[str, Callable]:
    """The tasks bound to this app; names are stable across processes (module.function)."""

    @huey.task(name="portal.reconcile")
    def reconcile(user_id: int, project_id: int, request_id: str | None = None) -> None:
        with app.app_context(), _timed("reconcile", request_id):
            run_pass(app, user_id, project_id)

    @huey.task(name="portal.tick")
    def tick(chain: str | None = None, request_id: str | None = None) -> None:
        # a new chain (a pass left a build in flight, the worker started, the housekeeping)
        # wakes the tier: it takes over a chain resting between idle ticks
        with app.app_context(), _timed("tick", request_id):
            run_tick(app, chain or uuid.uuid4().hex, wake=chain is None)

    @huey.task(name="portal.make_room")
    def make_room(user_id: int, request_id: str | None = None) -> None:
        with app.app_context(), _timed("make_room", request_id):
            run_make_room(user_id)

    @huey.task(name="portal.stop_idle")
    def stop_idle(workspace_id: str, actor_id: int, request_id: str | None = None) -> None:
        with app.app_context(), _timed("stop_idle", request_id):
            admin_actions.run_stop_idle(workspace_id, actor_id)

    @huey.task(name="portal.workspace_action")
    def workspace_action(state_id: int, action: str, actor_id: int,
                         request_id: str | None = None) -> None:
        with app.app_context(), _timed("workspace_action", request_id):
            admin_actions.run_workspace_action(state_id, action, actor_id)

    @huey.task(name="portal.offboard")
    def offboard(user_id: int, request_id: str | None = None) -> None:
        with app.app_context(), _timed("offboard", request_id):
            run_offboarding(user_id)

    @huey.periodic_task(crontab(), name="portal.housekeeping")
    def minute() -> None:
        with app.app_context(), _timed("housekeeping"):
            housekeeping.run(app)

    return {"reconcile": reconcile, "tick": tick, "make_room": make_room, "stop_idle": stop_idle,
            "workspace_action": workspace_action, "offboard": offboard, "housekeeping": minute}


@contextlib.contextmanager
def _timed(kind: str, request_id: str | None = None):
    """portal_jobs_total / portal_job_duration_seconds for one job (an exception is "error"
    and goes on to Huey, which logs it); the job runs under the id of the request that
    enqueued it, if any (portal/observability/context.py)."""
    started, outcome = time.perf_counter(), "error"
    token = context.request_id.set(request_id if context.valid_request_id(request_id) else None)
    try:
        yield
        outcome = "ok"
    finally:
        context.request_id.reset(token)
        metrics.job_finished(kind, outcome, time.perf_counter() - started)


def _queue(app: Flask):
    return app.extensions["portal.queue"]


def run_pass(app: Flask, user_id: int, project_id: int) -> provisioning.Status | None:
    """One job: passes until the workspace waits on Coder (or is settled), then its next time."""
    db.session().expire_on_commit = False  # what others change (lease, tokens) is re-read
    user, project = db.session.get(User, user_id), db.session.get(Project, project_id)
    # The role when the pass starts, not when it was asked for: a member removed meanwhile is
    # not put back into a Gitea team, a deactivated person gets nothing built.
    role = acting_role(user, project) if user and project else None
    if role is None:
        _set_due(user_id, project_id, None)
        return None
    svc = current_services()
    lease = dt.timedelta(seconds=svc.settings.reconcile_lease_seconds)
    _set_due(user_id, project_id, utcnow() + lease + dt.timedelta(seconds=5))  # killed: swept
    status = None
    for _ in range(len(QUICK_STAGES) + 2):
        db.session.expire_all()  # the lease and the row as the last pass left them
        status = metrics.timed_pass(provisioning.reconcile, svc, user, project, role)
        if status.failed or status.transient or status.stage not in QUICK_STAGES:
            break
    state = provisioning.workspace_state(user, project)
    db.session.refresh(state)
    q = _queue(app)
    until = aware(state.lease_until)
    if state.lease_owner and until and until > utcnow():  # another worker's pass holds the row
        _due(state, 2)
        q.enqueue("reconcile", user_id, project_id, delay=2)
    elif status.failed or status.ready or status.stopped:
        _due(state, None)
    elif status.transient:
        _due(state, RETRY_SECONDS)
        q.enqueue("reconcile", user_id, project_id, delay=RETRY_SECONDS)
    elif status.stage in QUICK_STAGES:  # the portal's own steps go on at once
        _due(state, 10)
        q.enqueue("reconcile", user_id, project_id, delay=1)
    else:  # building or starting: the tick watches it; the sweep is the backstop
        _due(state, BACKSTOP.total_seconds())
        q.enqueue("tick")
    db.session.commit()
    return status


def _due(state: WorkspaceState, seconds: float | None) -> None:
    state.due_at = None if seconds is None else utcnow() + dt.timedelta(seconds=seconds)


def _set_due(user_id: int, project_id: int, when: dt.datetime | None) -> None:
    db.session.execute(db.update(WorkspaceState).where(
        WorkspaceState.user_id == user_id, WorkspaceState.project_id == project_id)
        .values(due_at=when).execution_options(synchronize_session=False))
    db.session.commit()


def run_tick(app: Flask, chain: str, wake: bool = False) -> observe.Observation | None:
    """The tier's one observation chain: look, sweep, schedule the next tick."""
    if not beats.claim("tick", chain, dt.timedelta(seconds=TICK_IDLE + 5), wake=wake):
        return None  # another chain holds it: this one ends here
    svc, q = current_services(), _queue(app)
    deadline = time.monotonic() + TICK_SPAN
    total = observe.Observation()
    while True:
        seen = observe.observe(svc, observe.in_flight())
        total.calls += seen.calls
        total.stages, total.error = seen.stages, seen.error
        for user_id, project_id in seen.needs_pass:
            _set_due(user_id, project_id, utcnow() + dt.timedelta(seconds=10))
            q.enqueue("reconcile", user_id, project_id)
        step = min((STEP.get(s, 1.0) for s in seen.stages), default=None)
        if step is None or time.monotonic() + step > deadline:
            break
        beats.claim("tick", chain, dt.timedelta(seconds=TICK_SPAN + 5))
        time.sleep(step)
    admitted = admit(svc, q)
    swept = sweep(q)
    beats.beat("tick", admitted=admitted, in_flight=len(total.stages), calls=total.calls, swept=swept,
               error=total.error)
    if total.stages:  # still in flight: go on at once (a durable point every TICK_SPAN)
        q.enqueue("tick", chain)
    else:  # idle: rest, so that work coming in meanwhile is looked at at once
        beats.rest("tick", chain, dt.timedelta(seconds=TICK_IDLE + 5))
        q.enqueue("tick", chain, delay=TICK_IDLE)
    return total


def run_offboarding(user_id: int) -> int:
    """An admin's offboarding (portal/people/offboarding.py): every pending step, each result
    stored as it is done, so the progress page (a read) shows it; the steps done."""
    user = db.session.get(User, user_id)
    run = offboarding.current(user) if user is not None else None
    if run is None or run.status != "running":
        return 0
    return len(offboarding.run_all(current_services(), run))


def run_make_room(user_id: int) -> str | None:
    """Over the personal limit, the person asked to stop their least recently used workspace:
    its name, or None (nothing running, or Coder out of reach: they may ask again)."""
    from portal.workspaces import intent
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        return None
    svc = current_services()
    try:
        lru = occupancy.read_owner(svc, user.username).least_recently_used(user.username)
        if lru is None:
            return None
        row = db.session.scalar(db.select(WorkspaceState).where(
            WorkspaceState.user_id == user.id, WorkspaceState.coder_workspace_id == lru.workspace_id))
        if row is not None:
            intent.set_running(user, row.project, running=False)  # the pass stops it
        else:  # started outside the portal: the person's own token stops it
            token = tokens.coder_token(svc, user)
            svc.coder.as_user(token).stop_workspace(lru.workspace_id)
            audit.record(user, "workspace.stop", lru.name, via="make_room")
            db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        log.warning("make room for user %s: %s", user_id, exc)
        return None
    return lru.name


def admit(svc: Services, q) -> int:
    """Give the free places to the first in line (portal/workspaces/admission.py) and enqueue
    their passes. One read of Coder's occupancy, and only while somebody waits."""
    if not admission.line():
        return 0
    try:
        occupied = occupancy.read(svc)
    except ServiceError as exc:
        log.warning("admission: Coder's occupancy could not be read (%s); next tick", exc)
        return 0
    admitted = admission.admit_waiting(svc.settings, occupied)
    for user_id, project_id in admitted:
        _set_due(user_id, project_id, utcnow() + dt.timedelta(seconds=10))
        q.enqueue("reconcile", user_id, project_id)
    return len(admitted)


def sweep(q) -> int:
    """Enqueue a pass for every row that is due and not leased (lost messages, killed workers)."""
    now = utcnow()
    rows = db.session.execute(db.select(WorkspaceState.id, WorkspaceState.user_id,
                                        WorkspaceState.project_id).where(
        WorkspaceState.due_at <= now,
        db.or_(WorkspaceState.lease_until.is_(None), WorkspaceState.lease_until < now))
        .limit(500)).all()
    if not rows:
        return 0
    db.session.execute(db.update(WorkspaceState).where(
        WorkspaceState.id.in_([r.id for r in rows]))
        .values(due_at=now + dt.timedelta(seconds=30)).execution_options(synchronize_session=False))
    db.session.commit()
    for row in rows:
        q.enqueue("reconcile", row.user_id, row.project_id)
    beats.beat("sweep", enqueued=len(rows))
    return len(rows)
