"""Admin: groups (member and project counts; an admin acts as any group's lead on its
members page) and projects (delete with a confirmation, optionally the repo and workspaces)."""
from __future__ import annotations

from flask import abort, flash, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_

from portal.web.admin_query import choice, contains, listing, paginate, text
from portal.web.auth import admin_required
from portal.extensions import db
from portal.web.htmx import hx_redirect, is_partial
from portal.models import Group, Membership, Project, WorkspaceState
from portal.groups.projects_admin import delete_project
from portal.services import current_services
from portal.steps import WARNING
from portal.web.views.admin import bp

_members = (db.select(db.func.count(Membership.id)).where(Membership.group_id == Group.id)
            .correlate(Group).scalar_subquery())
_projects = (db.select(db.func.count(Project.id)).where(Project.group_id == Group.id)
             .correlate(Group).scalar_subquery())
GROUP_SORTS = {"name": Group.name, "slug": Group.slug, "members": _members,
               "projects": _projects, "created": Group.created_at}

_workspaces = (db.select(db.func.count(WorkspaceState.id))
               .where(WorkspaceState.project_id == Project.id).correlate(Project).scalar_subquery())
PROJECT_SORTS = {"name": Project.name, "group": Group.slug, "workspaces": _workspaces,
                 "created": Project.created_at}


@bp.get("/groups")
@admin_required
def groups():
    q = text(request.args, "q")
    lst = listing(request.args, tuple(GROUP_SORTS), "name", q=q)
    where = [or_(contains(Group.name, q), contains(Group.slug, q))] if q else []
    query = (db.select(Group, _members.label("members"), _projects.label("projects"))
             .where(*where).order_by(*lst.order_by(GROUP_SORTS), Group.id))
    page = paginate(query, db.select(db.func.count(Group.id)).where(*where), lst, scalars=False)
    context = dict(page=page, lst=lst, q=q, base=url_for("admin.groups"), section="groups")
    if is_partial():
        return render_template("admin/_groups_table.html", **context)
    return render_template("admin/groups.html", **context)


@bp.get("/projects")
@admin_required
def projects():
    q = text(request.args, "q")
    group = text(request.args, "group", 40)
    lst = listing(request.args, tuple(PROJECT_SORTS), "group", q=q, group=group)
    where = []
    if q:
        where.append(or_(contains(Project.name, q), contains(Project.slug, q)))
    if group:
        where.append(Group.slug == group)
    query = (db.select(Project, _workspaces.label("workspaces")).join(Group).where(*where)
             .order_by(*lst.order_by(PROJECT_SORTS), Project.name, Project.id))
    page = paginate(query, db.select(db.func.count(Project.id)).join(Group).where(*where), lst,
                    scalars=False)
    context = dict(page=page, lst=lst, q=q, group=group, base=url_for("admin.projects"),
                   section="projects")
    if is_partial():
        return render_template("admin/_projects_table.html", **context)
    return render_template("admin/projects.html", **context)


def _project(project_id: int) -> Project:
    project = db.session.get(Project, project_id)
    if project is None:
        abort(404)
    return project


def _confirm(project: Project, error: str | None = None, status: int = 200, form=None):
    count = db.session.scalar(db.select(db.func.count(WorkspaceState.id)).where(
        WorkspaceState.project_id == project.id))
    return render_template("admin/project_delete.html", project=project, error=error,
                           workspace_count=count, form=form or {}, result=None,
                           section="projects"), status


@bp.get("/projects/<int:project_id>/delete")
@admin_required
def project_delete(project_id: int):
    return _confirm(_project(project_id))


@bp.post("/projects/<int:project_id>/delete")
@admin_required
def project_delete_confirmed(project_id: int):
    project = _project(project_id)
    form = request.form
    choice(form, "delete_repo", ("", "y"))
    choice(form, "delete_workspaces", ("", "y"))
    if (form.get("confirm") or "").strip().lower() != project.slug.lower():
        return _confirm(project, f"Type the project's short name “{project.slug}” to confirm.",
                        400, form)
    label = f"{project.group.slug}/{project.slug}"
    result = delete_project(current_services(), current_user, project,
                            delete_repo=form.get("delete_repo") == "y",
                            delete_workspaces=form.get("delete_workspaces") == "y")
    if result.deleted:
        for what, step in result.steps:
            flash(f"{what}: {step.detail}", "warning" if step.status == WARNING else "success")
        flash(f"Project {label} was deleted.", "success")
        return hx_redirect(url_for("admin.projects"))
    return render_template("admin/project_delete.html", project=project, result=result,
                           error="The project was kept because a step failed; retry when the "
                                 "service is back.", workspace_count=0, form=form,
                           section="projects"), 502


