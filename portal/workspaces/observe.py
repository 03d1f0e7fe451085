"""Batched observation: every workspace in flight read with one Coder call a page per tick.

`GET /api/v2/workspaces?q=id:<uuid>,<uuid>,…` (real Coder's coderd/searchquery parses `id:`
as a comma list of UUIDs: coderd/searchquery/search.go, v2.x `parser.UUIDs(values, nil, "id")`),
split into pages of PAGE ids. What each workspace shows is written on its row for the Code
tab's polls to read; a row that needs an action (start, stop, a failure to explain, a
vanished workspace, a build past its time) is handed back for a reconcile pass. The build-log
tail is read only for rows whose Code tab was polled in the last WATCHED seconds.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from portal.workspaces import provisioning
from portal.clients.coder import CoderStage, CoderWorkspace, WorkspaceStatus, readiness
from portal.clients.http import ServiceError
from portal.extensions import db
from portal.models import User, WorkspaceState, utcnow, workspace_name_of
from portal.services import Services
from portal.stages import Stage, stage_of
from portal.people.tokens import aware

IN_FLIGHT = (Stage.building, Stage.starting)
PAGE = 100
WATCHED = dt.timedelta(seconds=10)


@dataclass
class Observation:
    stages: set[str] = field(default_factory=set)       # stages still in flight after the tick
    needs_pass: list[tuple[int, int]] = field(default_factory=list)  # (user id, project id)
    calls: int = 0                                       # Coder calls this tick made
    error: str | None = None


def in_flight() -> list[WorkspaceState]:
    now = utcnow()
    return list(db.session.scalars(db.select(WorkspaceState).where(
        WorkspaceState.stage.in_(IN_FLIGHT), WorkspaceState.coder_workspace_id.is_not(None),
        db.or_(WorkspaceState.lease_until.is_(None), WorkspaceState.lease_until < now))))


def observe(services: Services, rows: list[WorkspaceState]) -> Observation:
    out = Observation()
    if not rows:
        return out
    seen: dict[str, CoderWorkspace] = {}
    ids = [r.coder_workspace_id for r in rows]
    try:
        for start in range(0, len(ids), PAGE):
            out.calls += 1
            for ws in services.coder.workspaces_by_id(ids[start:start + PAGE]):
                seen[ws.id] = ws
    except ServiceError as exc:  # the next tick looks again; the polls show what was seen
        out.error = exc.user_message
        out.stages = {r.stage for r in rows}
        return out
    now = utcnow()
    for row in rows:
        _apply(services, row, seen.get(row.coder_workspace_id), now, out)
    db.session.commit()
    return out


def _apply(services: Services, row: WorkspaceState, ws: CoderWorkspace | None, now: dt.datetime,
           out: Observation) -> None:
    status = readiness(ws)
    late = row.stage_older_than(services.settings.build_timeout, now)
    if ws is None or _needs_pass(row, status, late):
        out.needs_pass.append((row.user_id, row.project_id))
        return
    row.build_id = status.build_id
    if stage_of(status.stage) == Stage.ready:
        _seen_ready(services, row, ws, status, now)
    else:
        _seen_progress(services, row, status, now, out)


def _needs_pass(row: WorkspaceState, status: WorkspaceStatus, late: bool) -> bool:
    """An action is due (start, stop, a failure to explain, a build past its time)."""
    return (status.failed or late or not row.wants_running
            or status.stage in (CoderStage.stopped, CoderStage.deleting, CoderStage.deleted,
                                CoderStage.not_created)
            or (status.ready and row.prepared))


def _seen_ready(services: Services, row: WorkspaceState, ws: CoderWorkspace,
                status: WorkspaceStatus, now: dt.datetime) -> None:
    username = db.session.scalar(db.select(User.username).where(User.id == row.user_id))
    row.set_stage(Stage.ready)
    row.app_url = provisioning.app_url_of(
        services, ws, username or "", row.coder_workspace_name or workspace_name_of(row.project_id))
    row.observed_at, row.due_at = now, None
    row.status_message, row.log_tail = "Ready.", None
    row.status_warnings = list(status.warnings) or None


def _seen_progress(services: Services, row: WorkspaceState, status: WorkspaceStatus,
                   now: dt.datetime, out: Observation) -> None:
    stage = stage_of(status.stage)
    message = ("Starting your workspace… (the last stop is finishing)"
               if status.stage == CoderStage.stopping else status.message)
    row.set_stage(stage)
    if row.status_message != message:
        row.status_message = message
    if list(status.warnings) != (row.status_warnings or []):
        row.status_warnings = list(status.warnings) or None
    watched = aware(row.watched_at)
    if stage == Stage.building and status.build_id and watched and now - watched < WATCHED:
        out.calls += 1
        try:
            tail = services.coder.build_logs(status.build_id, tail=20)
        except ServiceError:
            tail = None  # the log is a nicety
        if tail is not None and list(tail.lines[-6:]) != (row.log_tail or []):
            row.log_tail = list(tail.lines[-6:]) or None
    out.stages.add(stage)
