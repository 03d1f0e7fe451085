"""Projects: create inside a group (leads and contributors) from a starter, empty or an
import; the Overview tab with the repository's files."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.groups import starters
from portal.extensions import db
from portal.web.form_feedback import place_slug_reason, feedback, touched_fields
from portal.web.forms import ProjectForm
from portal.models import Project, WorkspaceState
from portal.groups.permissions import can_create_project, effective_role, group_for, project_for
from portal.services import current_services
from portal.groups.slugs import project_slug
from portal.web.views.sizes import size_context

bp = Blueprint("projects", __name__)


@bp.get("/groups/<slug>/projects/check")
@login_required
def check(slug: str):
    """HTMX: the New project form checked as a whole; messages for the fields typed in."""
    group, _ = group_for(current_user, slug)
    form = ProjectForm(formdata=request.args, meta={"csrf": False})
    form.validate()
    pslug, reason = project_slug(group, request.args.get("name", "")[:200],
                                 request.args.get("slug", "")[:200])
    touched = touched_fields(request.args.get("touched"), request.args)
    return render_template("_form_feedback.html", fields=feedback(form, touched, pslug, reason))


@bp.route("/groups/<slug>/projects/new", methods=["GET", "POST"])
@login_required
def new(slug: str):
    group, role = group_for(current_user, slug)
    if not can_create_project(current_user, role):
        abort(403, "Readers cannot create projects. Ask a lead of the group to make you a contributor.")
    form = ProjectForm()
    offered = starters.offered(current_services())  # cached: normally no Gitea call (starters.py)
    if form.validate_on_submit():
        source_url = (form.source_url.data or "").strip() or None
        starter, choice_error = _starter_choice(form, source_url)
        pslug, reason = project_slug(group, form.name.data.strip(), form.slug.data)
        if reason:
            place_slug_reason(form, reason)
        if choice_error:
            field, message = choice_error
            field.errors = [message]
        if not reason and not choice_error:
            project = Project(group=group, slug=pslug, name=form.name.data.strip(),
                              description=(form.description.data or "").strip(),
                              source_url=source_url, starter=starter,
                              created_by_id=current_user.id)
            db.session.add(project)
            try:
                db.session.flush()
                audit.record(current_user, "project.create", f"{group.slug}/{pslug}",
                             project_id=project.id, source_url=project.source_url,
                             starter=project.starter)
                db.session.commit()
            except IntegrityError:
                db.session.rollback()
                form.slug.errors = ["A project with this short name was just created; choose another."]
            else:
                _prewarm(project)
                flash(f"Project “{project.name}” created. Open its Code tab to start working.", "success")
                return redirect(url_for("projects.show", project_id=project.id), 303)
    status = 400 if form.is_submitted() else 200
    return render_template("projects/new.html", form=form, group=group,
                           starter_options=_starter_options(offered),
                           starters_unavailable=offered is None), status


def _starter_choice(form: ProjectForm, source_url: str | None):
    """(the starter to store or None, None) or (None, (field, message)) when refused."""
    choice = (form.starter.data or "").strip() or starters.EMPTY
    if choice == starters.IMPORT or (source_url and choice == starters.EMPTY):
        if not source_url:
            return None, (form.source_url, "Enter the URL of the repository to import.")
        return None, None
    if source_url:
        return None, (form.source_url, "Choose “import from a URL” to import, or leave the URL "
                                       "empty to start from a starter.")
    starter, reason = starters.choose(current_services(), choice)
    return (None, (form.starter, reason)) if reason else (starter, None)


def _starter_options(offered: list[starters.Starter] | None) -> list[tuple[str, str, str]]:
    """(value, label, description) of each choice of the form, empty and import included."""
    options = [(s.name, s.name, s.description) for s in offered or ()]
    if not any(value == starters.EMPTY for value, _l, _d in options):
        options.append((starters.EMPTY, starters.EMPTY, "A repository with a README only"))
    options.append((starters.IMPORT, "import from a URL", "An existing repository (URL below)"))
    return options


def _prewarm(project: Project) -> None:
    """PORTAL_PREWARM: the creator's (or every member's) workspace is built and stopped."""
    from portal.services import current_services
    from portal.workspaces import intent
    mode = current_services().settings.prewarm
    intent.prewarm(project, intent.prewarm_targets(project, current_user, mode))


@bp.get("/projects/<int:project_id>")
@login_required
def show(project_id: int):
    project, role = project_for(current_user, project_id)
    state = db.session.scalar(db.select(WorkspaceState).where(
        WorkspaceState.user_id == current_user.id, WorkspaceState.project_id == project.id))
    return render_template("projects/overview.html", project=project,
                           role=effective_role(current_user, role), state=state, tab="overview",
                           listing=starters.files(current_services(), project),
                           **size_context(current_user, project, state))
