"""The Code tab: record the intent, poll reconcile through a self-replacing partial, embed the IDE."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from .. import pass_runner, provisioning, workspace_actions
from ..clients.http import ServiceError
from ..htmx import hx_redirect
from ..observability import ide_waits
from ..permissions import effective_role, project_for
from ..services import services

bp = Blueprint("code", __name__)
# How long the status partial waits before its next poll, by stage: the portal's own steps
# follow each other at once; a build takes minutes; the last step (agent and IDE start) is
# polled often so the IDE appears soon after it is ready.
POLL_SECONDS = {"repository": 0.2, "account": 0.2, "workspace": 0.5, "building": 1.0,
                "starting": 0.25}
TRANSIENT_POLL_SECONDS = 3.0
PENDING_POLL_SECONDS = 1.0  # the pass goes on beside the request (a busy Gitea or Coder)


def poll_seconds(status) -> float:
    if status.transient:
        return TRANSIENT_POLL_SECONDS
    seconds = POLL_SECONDS.get(status.stage, 1.5)
    return max(seconds, PENDING_POLL_SECONDS) if status.pending else seconds


def _render(project, status):
    if status.ready:
        ide_waits.served(current_user, project)  # time to IDE ends with the iframe served
        return render_template("code/_ide.html", project=project, status=status)
    return render_template("code/_status.html", project=project, status=status,
                           stages=provisioning.STAGES, poll=poll_seconds(status))


@bp.get("/projects/<int:project_id>/code")
@login_required
def tab(project_id: int):
    project, role = project_for(current_user, project_id)
    state = provisioning.workspace_state(current_user, project)
    return render_template("code/tab.html", project=project, role=effective_role(current_user, role),
                           tab="code", status=provisioning.stored_status(state),
                           stages=provisioning.STAGES)


def _pass(project_id: int, intent=None):
    """The Code tab's status for the signed-in person (after recording `intent`, if any), with
    a reconcile pass when one is due (portal/pass_runner.py), rendered."""
    project, _ = project_for(current_user, project_id)  # 404 unless the person may see it
    if intent is not None:
        intent(current_user, project)
    status = pass_runner.show(services(), current_user, project)
    return _render(project, status)


@bp.post("/projects/<int:project_id>/code/open")
@login_required
def open_(project_id: int):
    """The intent ("I want my workspace running"), then the first reconcile pass."""
    return _pass(project_id, provisioning.want_running)


@bp.post("/projects/<int:project_id>/code/status")
@login_required
def status(project_id: int):
    return _pass(project_id)


@bp.post("/projects/<int:project_id>/code/retry")
@login_required
def retry(project_id: int):
    return _pass(project_id, lambda user, project: provisioning.want_running(user, project, retry=True))


@bp.post("/projects/<int:project_id>/code/keepalive")
@login_required
def keepalive(project_id: int):
    project, _ = project_for(current_user, project_id)
    try:
        workspace_actions.keep_alive(services(), current_user, project)
    except ServiceError:
        return "", 204  # best effort: the next beat tries again
    return "", 204


@bp.post("/projects/<int:project_id>/workspace/<action>")
@login_required
def workspace_action(project_id: int, action: str):
    project, _ = project_for(current_user, project_id)
    if action not in ("start", "stop", "restart"):
        flash("Unknown action.", "error")
        return redirect(url_for("projects.show", project_id=project.id), 303)
    try:
        if action == "restart":
            workspace_actions.set_running(services(), current_user, project, running=False)
            provisioning.want_running(current_user, project)
            return hx_redirect(url_for("code.tab", project_id=project.id))
        message = workspace_actions.set_running(services(), current_user, project, running=action == "start")
        flash(message, "success")
    except ServiceError as exc:
        flash(f"{exc.user_message} Nothing was changed; try again in a moment.", "error")
    if action == "start":
        return hx_redirect(url_for("code.tab", project_id=project.id))
    return hx_redirect(url_for("projects.show", project_id=project.id))
