"""A person's workspace size (Overview), a lead's project default, and making room when over
the personal limit. A disk change asks first, then records the intent: the worker deletes the
workspace and creates it with the new disk (disk_size is immutable in the template). No
outbound call here: making room is a job too (portal/workspaces/jobs.py)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal import audit
from portal.workspaces import provisioning
from portal.groups import starters
from portal.extensions import db
from portal.models import Role, WorkspaceState
from portal.groups.permissions import effective_role, project_for
from portal.services import current_services
from portal.workspaces import gate, intent, sizes
from portal.workspaces.size_spec import SizeError

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
                           listing=starters.files(current_services(), project),
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
    state.size_name = size.name
    audit.record(current_user, "workspace.size", project.workspace_name, size=size.name)
    if sizes.needs_new_disk(state, size):  # confirmed: the worker deletes and creates anew
        intent.replace_workspace(state)
        flash(f"Your workspace size is now {size.name} ({size.summary}): your workspace is "
              "being replaced with one of the new disk size.", "success")
        return redirect(url_for("projects.show", project_id=project.id), 303)
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
    if intent.make_room(current_user):
        flash("Stopping your least recently used workspace: your place comes as soon as it has "
              "stopped.", "success")
    else:
        flash("The provisioning worker is out of reach: nothing was stopped; try again in a "
              "moment.", "error")
    return redirect(url_for("code.tab", project_id=project.id), 303)
