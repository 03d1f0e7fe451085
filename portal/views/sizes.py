"""A person's workspace size (Overview), a lead's project default, and making room when over
the personal limit. A disk change asks first, then deletes the workspace so the next open
creates it with the new disk (disk_size is immutable in the template)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .. import audit, provisioning, tokens, workspace_actions
from ..clients.http import ServiceError
from ..extensions import db
from ..models import Role, WorkspaceState
from ..permissions import effective_role, project_for
from ..services import current_services
from ..workspaces import gate, occupancy, sizes
from ..workspaces.size_spec import SizeError

bp = Blueprint("sizes", __name__)


@bp.app_context_processor
def _over_limit() -> dict:
    """The Code tab's status shows a "make room" button beside this warning."""
    return {"over_limit": gate.OVER_LIMIT}


def size_context(user, project, state) -> dict:
    """What the Overview's size card shows: the sizes the person may pick, the current one,
    every size (for a lead's project default)."""
    specs = current_services().settings.workspace_sizes
    return {"sizes_allowed": sizes.allowed_sizes(specs, user),
            "size_now": sizes.chosen(specs, user, project, state),
            "sizes_all": sizes.all_sizes(specs)}


def _overview(project, role, status: int = 200, **extra):
    state = db.session.scalar(db.select(WorkspaceState).where(
        WorkspaceState.user_id == current_user.id, WorkspaceState.project_id == project.id))
    return render_template("projects/overview.html", project=project, state=state, tab="overview",
                           role=effective_role(current_user, role),
                           **size_context(current_user, project, state), **extra), status


@bp.post("/projects/<int:project_id>/size")
@login_required
def choose(project_id: int):
    project, role = project_for(current_user, project_id)
    specs = current_services().settings.workspace_sizes
    try:
        size = sizes.choose(specs, current_user, request.form.get("size", ""))
    except SizeError as exc:
        return _overview(project, role, 400, size_error=str(exc))
    state = provisioning.workspace_state(current_user, project)
    if sizes.needs_new_disk(state, size) and request.form.get("confirm") != "y":
        return _overview(project, role, confirm_size=size)
    if sizes.needs_new_disk(state, size):
        try:
            svc = current_services()
            as_user = svc.coder.as_user(tokens.coder_token(svc, current_user))
            as_user.delete_workspace(state.coder_workspace_id)
        except ServiceError as exc:
            db.session.rollback()
            return _overview(project, role, 503, size_error=f"{exc.user_message} Nothing was "
                             "changed; try again in a moment.")
        state.disk_size = None
        state.stage = "workspace"
        audit.record(current_user, "workspace.recreate", project.workspace_name,
                     size=size.name, disk_size=size.disk_size)
    state.size_name = size.name
    audit.record(current_user, "workspace.size", project.workspace_name, size=size.name)
    db.session.commit()
    flash(f"Your workspace size is now {size.name} ({size.summary}); it applies at the next "
          "start.", "success")
    return redirect(url_for("projects.show", project_id=project.id), 303)


@bp.post("/projects/<int:project_id>/default-size")
@login_required
def project_default(project_id: int):
    project, role = project_for(current_user, project_id)
    if not (current_user.is_admin or role == Role.lead):
        abort(403)
    size = sizes.by_name(current_services().settings.workspace_sizes,
                         (request.form.get("size") or "").strip().lower())
    if size is None:
        return _overview(project, role, 400, size_error="There is no such workspace size.")
    project.default_size = size.name
    audit.record(current_user, "project.default_size", f"{project.group.slug}/{project.slug}",
                 size=size.name)
    db.session.commit()
    flash(f"New workspaces of this project get the size {size.name}.", "success")
    return redirect(url_for("projects.show", project_id=project.id), 303)


@bp.post("/projects/<int:project_id>/code/make-room")
@login_required
def make_room(project_id: int):
    """Over the personal limit: stop the person's least recently used workspace."""
    project, _ = project_for(current_user, project_id)
    try:
        lru = occupancy.read(current_services()).least_recently_used(current_user.username)
        if lru is not None:
            other = db.session.scalar(db.select(WorkspaceState).where(
                WorkspaceState.user_id == current_user.id,
                WorkspaceState.coder_workspace_id == lru.workspace_id))
            if other is not None:
                workspace_actions.set_running(current_services(), current_user, other.project,
                                              running=False)
            else:  # started outside the portal: the person's own token stops it
                token = tokens.coder_token(current_services(), current_user)
                current_services().coder.as_user(token).stop_workspace(lru.workspace_id)
                audit.record(current_user, "workspace.stop", lru.name, via="make_room")
                db.session.commit()
            flash(f"Stopping {lru.name}: your place comes as soon as it has stopped.", "success")
    except ServiceError as exc:
        flash(f"{exc.user_message} Nothing was stopped; try again in a moment.", "error")
    return redirect(url_for("code.tab", project_id=project.id), 303)
