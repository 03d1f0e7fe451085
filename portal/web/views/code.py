"""The Code tab: record the intent, show the row the worker writes (a poll only reads), embed
the IDE (the one outbound call: Coder's auth-redirect hand-off when the ready IDE is shown)."""
from __future__ import annotations

import hashlib
from dataclasses import replace

from flask import (Blueprint, abort, flash, make_response, redirect, render_template, request,
                   url_for)
from flask_login import current_user, login_required
from sqlalchemy import and_, bindparam, select

from portal import audit
from portal.workspaces import provisioning
from portal.people import tokens
from portal.clients.http import ServiceError, Unauthorized
from portal.extensions import db
from portal.web.htmx import hx_redirect
from portal.models import Membership, Project, WorkspaceState, aware, utcnow
from portal.observability import ide_waits, metrics
from portal.groups.permissions import effective_role, project_for
from portal.services import current_services
from portal.stages import Stage
from portal.workspaces import intent
from portal.workspaces.status import STAGES, Status, stored_status

bp = Blueprint("code", __name__)
# How long the status partial waits before its next poll. A stage just entered is asked about
# at its `first` delay for FAST seconds (the portal's own steps, a short build, the agent and IDE
# starting end then, and the IDE should appear at once); a stage that has lasted longer is asked
# about less often: after a fifth of the time already spent in it (the proportional back-off of
# a spawn-pending page), up to its ceiling, so a build of minutes or a long line of people
# waiting costs a few polls a minute each, not one or two a second.
# (first, longest) seconds by stage:
POLL_SECONDS = {Stage.repository: (0.5, 2.0), Stage.account: (0.5, 2.0),
                Stage.workspace: (0.5, 2.0), Stage.waiting: (1.0, 5.0),
                Stage.building: (0.25, 2.0), Stage.starting: (0.25, 1.0)}
POLL_DEFAULT = (1.5, 3.0)
POLL_FAST = 4.0      # seconds into a stage at its first delay
POLL_SHARE = 5       # then the next poll after 1/5 of the time spent in the stage so far
POLL_STEP = 0.25     # delays are multiples of this (the partial's ETag holds the delay)
TRANSIENT_POLL_SECONDS = 3.0
PENDING_POLL_SECONDS = 1.0  # queued, or a quick check of a workspace seen ready a while ago


def poll_seconds(status: Status, waited: float = 0.0) -> float:
    """The delay before the next poll, for a row `waited` seconds into its stage."""
    if status.transient:
        return TRANSIENT_POLL_SECONDS
    first, longest = POLL_SECONDS.get(status.stage, POLL_DEFAULT)
    later = round(waited / POLL_SHARE / POLL_STEP) * POLL_STEP if waited > POLL_FAST else 0.0
    seconds = min(max(first, later), longest)
    return max(seconds, PENDING_POLL_SECONDS) if status.pending else seconds


def _waited(state: WorkspaceState) -> float:
    started = aware(state.stage_started_at)
    return max(0.0, (utcnow() - started).total_seconds()) if started else 0.0


def _render(project: Project, state: WorkspaceState, status: Status | None = None,
            poll: float | None = None):
    """The partial for this row (the status and poll delay the caller already worked out, or
    worked out here)."""
    status = status or stored_status(state)
    if status.ready:
        status = _hand_off(state, status)
    if status.ready:
        ide_waits.served(current_user, project)  # time to IDE ends with the iframe served
        return render_template("code/_ide.html", project=project, status=status)
    if poll is None:
        poll = poll_seconds(status, _waited(state))
    return render_template("code/_status.html", project=project, status=status,
                           stages=STAGES, poll=poll)


def _hand_off(state: WorkspaceState, status: Status) -> Status:
    """The iframe's src: Coder's auth-redirect with the person's own token (one call per open)."""
    svc = current_services()
    token = tokens.stored(svc, current_user, tokens.CODER_TOKEN)
    if token is None:
        return _renew(state)
    try:
        iframe = svc.coder.as_user(token).auth_redirect(token, state.app_url)
    except Unauthorized:
        tokens.forget(current_user, tokens.CODER_TOKEN)
        return _renew(state)
    except ServiceError as exc:
        metrics.stage_failed(Stage.starting, metrics.reason_class(exc))  # the hand-off's stage
        return Status(Stage.starting, exc.user_message + " Retrying automatically.", transient=True)
    return provisioning.with_ai_notice(svc, current_user, state,
                                       replace(status, iframe_url=iframe))


def _renew(state: WorkspaceState) -> Status:
    """No usable token for the hand-off: the worker mints one, then the IDE shows."""
    state.set_stage(Stage.starting)
    state.status_message = "Renewing your workspace credentials…"
    intent.request_pass(state)
    return stored_status(state)


@bp.get("/projects/<int:project_id>/code")
@login_required
def tab(project_id: int):
    project, role = project_for(current_user, project_id)
    state = provisioning.workspace_state(current_user, project)
    return render_template("code/tab.html", project=project, role=effective_role(current_user, role),
                           tab="code", status=stored_status(state), stages=STAGES)


@bp.post("/projects/<int:project_id>/code/open")
@login_required
def open_(project_id: int):
    """The intent ("I want my workspace running"), recorded and queued; the row as it is. A
    `code.open` goes into the audit trail (the admin Overview counts opens and the time from an
    open to the IDE: portal/web/admin_overview.py)."""
    project, _ = project_for(current_user, project_id)  # 404 unless the person may see it
    audit.record(current_user, "code.open", project.workspace_name, project_id=project.id)
    return _render(project, intent.open_workspace(current_user, project))


# The poll's one query (project, the person's role, their row), built once: a poll only binds.
POLL_ROW = (
    select(Project, Membership.role, WorkspaceState)
    .outerjoin(Membership, and_(Membership.group_id == Project.group_id,
                                Membership.user_id == bindparam("person")))
    .outerjoin(WorkspaceState, and_(WorkspaceState.project_id == Project.id,
                                    WorkspaceState.user_id == bindparam("person")))
    .where(Project.id == bindparam("project")))


@bp.route("/projects/<int:project_id>/code/status", methods=["GET", "POST"])
@login_required
def status(project_id: int):
    """A poll: one query for the project, the person's role and their row; no outbound call."""
    row = db.session.execute(POLL_ROW, {"person": current_user.id,
                                        "project": project_id}).first()
    if row is None or (row[1] is None and not current_user.is_admin):
        abort(404)
    project, _, state = row
    if state is None:  # no open recorded yet (an old page): record it now
        state = intent.open_workspace(current_user, project)
    # A conditional response: the browser revalidates its copy of the partial (ETag), and a
    # row that shows the same as last time answers 304 without rendering (never when ready:
    # the IDE needs a fresh hand-off).
    status = stored_status(state)
    poll = poll_seconds(status, _waited(state))
    tag = None if status.ready else _etag(state, status, poll)
    if tag is not None and tag in request.if_none_match:
        resp = _not_modified(tag)
    else:
        resp = make_response(_render(project, state, status, poll))
        if tag is not None:
            resp.set_etag(tag)
            resp.headers["Cache-Control"] = "private, no-cache"
    intent.watched(state)  # last: its commit expires what the answer was made from
    return resp


def _etag(state: WorkspaceState, status: Status, poll: float) -> str:
    """What the partial shows, its poll delay included (a 304 keeps the browser's delay)."""
    shown = (state.project_id, status.stage, status.message, status.log_tail, status.warnings,
             status.failed, status.transient, status.stopped, status.pending, poll)
    return hashlib.blake2b(repr(shown).encode(), digest_size=12).hexdigest()


def _not_modified(tag: str):
    resp = make_response("", 304)
    resp.set_etag(tag)
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp


@bp.post("/projects/<int:project_id>/code/retry")
@login_required
def retry(project_id: int):
    project, _ = project_for(current_user, project_id)
    return _render(project, intent.open_workspace(current_user, project, retry=True))


@bp.post("/projects/<int:project_id>/code/keepalive")
@login_required
def keepalive(project_id: int):
    """The open IDE beats: recorded as "watched"; the worker pushes Coder's deadline out."""
    project, _ = project_for(current_user, project_id)
    intent.watched(provisioning.workspace_state(current_user, project))
    return "", 204


@bp.post("/projects/<int:project_id>/workspace/<action>")
@login_required
def workspace_action(project_id: int, action: str):
    project, _ = project_for(current_user, project_id)
    if action not in ("start", "stop", "restart"):
        flash("Unknown action.", "error")
        return redirect(url_for("projects.show", project_id=project.id), 303)
    if action == "restart":
        intent.set_running(current_user, project, running=False)
        intent.open_workspace(current_user, project)
    else:
        flash(intent.set_running(current_user, project, running=action == "start"), "success")
    if action == "stop":
        return hx_redirect(url_for("projects.show", project_id=project.id))
    return hx_redirect(url_for("code.tab", project_id=project.id))
