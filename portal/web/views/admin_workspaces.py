"""Admin: every workspace the portal manages, with its live state from Coder.

Without a state filter the page is cut in the database and its rows are read from
Coder in ONE call (`workspaces_by_id`, per <= CHUNK); with a state filter every
managed workspace is read in batches of CHUNK ids, then filtered and cut. Start, Stop
and Delete are jobs of the worker (portal/workspaces/admin_actions.py, the admin Coder
token); Delete asks for a confirmation first.
"""
from __future__ import annotations

from flask import abort, flash, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_

from portal.workspaces import admin_live
from portal.web.admin_query import Page, choice, contains, listing, paginate, text
from portal.web.auth import admin_required, safe_next
from portal.extensions import db
from portal.web.htmx import hx_redirect, is_partial
from portal.models import Group, Project, User, WorkspaceState
from portal.services import current_services
from portal.stages import DesiredState
from portal.workspaces import admission
from portal.workspaces.admin_actions import ACTIONS
from portal.workspaces.queue import queue
from portal.web.views.admin import bp

SORTS = {"owner": User.username, "project": Project.name, "created": WorkspaceState.created_at,
         "updated": WorkspaceState.updated_at}


@bp.get("/workspaces")
@admin_required
def workspaces():
    q = text(request.args, "q")
    state = choice(request.args, "state", ("",) + admin_live.FILTERS)
    lst = listing(request.args, tuple(SORTS), "updated", default_desc=True, q=q, state=state)
    where = [or_(contains(User.username, q), contains(User.email, q), contains(User.name, q),
                 contains(Project.name, q), contains(Group.slug, q))] if q else []
    query = (db.select(WorkspaceState).join(User, WorkspaceState.user_id == User.id)
             .join(Project, WorkspaceState.project_id == Project.id).join(Group)
             .where(*where).order_by(*lst.order_by(SORTS), WorkspaceState.id))
    if not state:
        count = (db.select(db.func.count(WorkspaceState.id))
                 .join(User, WorkspaceState.user_id == User.id)
                 .join(Project, WorkspaceState.project_id == Project.id).join(Group).where(*where))
        page = paginate(query, count, lst)
        live, coder_error = admin_live.states_of(current_services(), page.items)
    else:
        rows = db.session.scalars(query).all()
        live, coder_error = admin_live.states_of(current_services(), rows)
        keep = [r for r in rows if (live[r.id].stuck if state == "stuck" else live[r.id].state == state)]
        start = (lst.page - 1) * lst.per
        page = Page(keep[start:start + lst.per], len(keep), lst.page, lst.per)
    context = dict(page=page, lst=lst, q=q, state=state, live=live, states=page.items,
                   line=admission.line(),
                   coder_error=coder_error, filters=admin_live.FILTERS, show_owner=True,
                   base=url_for("admin.workspaces"), section="workspaces")
    if is_partial():
        return render_template("admin/_workspaces_table.html", **context)
    return render_template("admin/workspaces.html", **context)


def _state(user_id: int, project_id: int, action: str) -> WorkspaceState:
    if action not in ACTIONS:
        abort(404)
    row = db.session.scalar(db.select(WorkspaceState).where(
        WorkspaceState.user_id == user_id, WorkspaceState.project_id == project_id))
    if row is None:
        abort(404)
    return row


def _back() -> str:
    return safe_next(request.values.get("next")) or url_for("admin.workspaces")


@bp.get("/workspaces/<int:user_id>/<int:project_id>/<action>")
@admin_required
def workspace_confirm(user_id: int, project_id: int, action: str):
    row = _state(user_id, project_id, action)
    return render_template("admin/workspace_confirm.html", row=row, action=action, back=_back(),
                           section="workspaces")


@bp.post("/workspaces/<int:user_id>/<int:project_id>/<action>")
@admin_required
def workspace_action(user_id: int, project_id: int, action: str):
    row = _state(user_id, project_id, action)
    name = row.coder_workspace_name or row.project.workspace_name
    owner = row.user.display_name
    if action == "delete" and request.form.get("confirm") != "y":
        return render_template("admin/workspace_confirm.html", row=row, action=action,
                               back=_back(), error="Confirm the deletion.",
                               section="workspaces"), 400
    if not row.coder_workspace_id:
        flash(f"{name} has not been created in Coder yet: nothing to {action}.", "warning")
        return hx_redirect(_back())
    if not queue().enqueue("workspace_action", row.id, action, current_user.id):
        flash(f"The provisioning worker is out of reach: nothing was done to {name}; try again "
              "in a moment.", "error")
        return hx_redirect(_back())
    if action != "delete":  # what the pages show from now on; the worker does it
        row.desired_state = DesiredState.running if action == "start" else DesiredState.stopped
        db.session.commit()
    flash(f"{name} of {owner}: {action} requested; the worker does it (the audit log says "
          "when).", "success")
    return hx_redirect(_back())
