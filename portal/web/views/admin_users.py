"""Admin: people. Search and pages, a person's detail, and offboarding in one action.

Offboarding: GET .../offboard shows the confirmation (type the username, choose stop
or delete for the workspaces), POST records it, enqueues the worker's `offboard` job and leads
to the progress page, whose status fragment reads the run (HTMX GET each second) and replaces
itself until done, so each step shows as the worker completes it. portal/people/offboarding.py
does the work. POST .../reactivate
undoes its account steps (portal/people/reactivation.py) and lists the groups to re-add by hand.
"""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_

from portal.workspaces import admin_live
from portal.people import ai_keys, offboarding, reactivation
from portal.web.admin_query import choice, contains, listing, paginate, text
from portal.web.auth import admin_required
from portal.web.errors import render_error
from portal.extensions import db
from portal.web.htmx import hx_redirect, is_partial
from portal.models import AuditEvent, Group, Membership, User, WorkspaceState
from portal.services import current_services
from portal.workspaces.queue import queue
from portal.web.views.admin import bp

SORTS = {"name": User.name, "email": User.email, "username": User.username,
         "last_seen": User.last_seen_at, "created": User.created_at}


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.get("/users")
@admin_required
def users():
    q = text(request.args, "q")
    status = choice(request.args, "status", ("", "active", "deactivated"))
    lst = listing(request.args, tuple(SORTS), "name", q=q, status=status)
    where = []
    if q:
        where.append(or_(contains(User.name, q), contains(User.email, q), contains(User.username, q)))
    if status:
        where.append(User.active.is_(status == "active"))
    query = db.select(User).where(*where).order_by(*lst.order_by(SORTS), User.id)
    page = paginate(query, db.select(db.func.count(User.id)).where(*where), lst)
    ids = [u.id for u in page.items]
    groups: dict[int, list[str]] = {i: [] for i in ids}
    for user_id, slug in db.session.execute(
            db.select(Membership.user_id, Group.slug).join(Group)
            .where(Membership.user_id.in_(ids)).order_by(Group.slug)):
        groups[user_id].append(slug)
    states = db.session.scalars(db.select(WorkspaceState).where(
        WorkspaceState.user_id.in_(ids), WorkspaceState.coder_workspace_id.is_not(None))).all()
    live, coder_error = admin_live.states_of(current_services(), states) if states else ({}, None)
    running = {i: 0 for i in ids}
    for s in states:
        running[s.user_id] += 1 if live[s.id].running else 0
    context = dict(page=page, lst=lst, q=q, status=status, groups=groups, running=running,
                   coder_error=coder_error, base=url_for("admin.users"), section="users")
    if is_partial():
        return render_template("admin/_users_table.html", **context)
    return render_template("admin/users.html", **context)


def _audit_trail(user: User, limit: int = 50) -> list[AuditEvent]:
    u = user.username
    targets = [u, user.email, f"user:{u}", f"coder:{u}", f"gitea:{u}", f"litellm:{u}"]
    return list(db.session.scalars(
        db.select(AuditEvent).where(or_(AuditEvent.actor_id == user.id,
                                        AuditEvent.target.in_(targets),
                                        AuditEvent.target.like(f"%/{_escape(u)}", escape="\\")))
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(limit)))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@bp.get("/users/<int:user_id>")
@admin_required
def user(user_id: int):
    person = _user(user_id)
    memberships = db.session.scalars(db.select(Membership).join(Group).where(
        Membership.user_id == person.id).order_by(Group.name)).all()
    states = db.session.scalars(db.select(WorkspaceState).where(
        WorkspaceState.user_id == person.id).order_by(WorkspaceState.project_id)).all()
    live, coder_error = admin_live.states_of(current_services(), states) if states else ({}, None)
    return render_template("admin/user.html", person=person, memberships=memberships,
                           states=states, live=live, coder_error=coder_error,
                           events=_audit_trail(person),
                           spend=ai_keys.key_spend(current_services(), person),
                           run=offboarding.current(person), section="users")


# -- offboarding ------------------------------------------------------------------------------
def _confirm_page(person: User, error: str | None = None, status: int = 200, choice_: str = "stop"):
    states = db.session.scalar(db.select(db.func.count(WorkspaceState.id)).where(
        WorkspaceState.user_id == person.id))
    groups = db.session.scalars(db.select(Group.name).join(Membership).where(
        Membership.user_id == person.id).order_by(Group.name)).all()
    return render_template("admin/offboard_confirm.html", person=person, error=error,
                           workspace_count=states, groups=groups, choice=choice_,
                           run=offboarding.current(person), section="users"), status


@bp.get("/users/<int:user_id>/offboard")
@admin_required
def offboard(user_id: int):
    return _confirm_page(_user(user_id))


@bp.post("/users/<int:user_id>/offboard")
@admin_required
def offboard_start(user_id: int):
    person = _user(user_id)
    action = (request.form.get("workspaces") or "stop").strip()
    if (request.form.get("confirm") or "").strip().lower() != person.username.lower():
        return _confirm_page(person, f"Type their username “{person.username}” to confirm.", 400,
                             action if action in offboarding.WORKSPACE_ACTIONS else "stop")
    try:
        offboarding.start(current_user, person, action)
    except offboarding.OffboardingError as exc:
        return _confirm_page(person, str(exc), 400)
    if not queue().enqueue("offboard", person.id):  # recorded: the housekeeping resumes it
        flash("The provisioning worker is out of reach: the offboarding is recorded and goes on "
              "once a worker runs again.", "warning")
    return hx_redirect(url_for("admin.offboarding_progress", user_id=person.id))


@bp.get("/users/<int:user_id>/offboarding")
@admin_required
def offboarding_progress(user_id: int):
    """The run's steps as the worker left them (a read: the page polls it while it runs)."""
    person = _user(user_id)
    run = offboarding.current(person)
    if run is None:
        return redirect(url_for("admin.offboard", user_id=person.id), 303)
    context = dict(person=person, run=run, steps=offboarding.view(run))
    if is_partial():
        return render_template("admin/_offboarding.html", **context)
    return render_template("admin/offboarding.html", section="users", **context)


@bp.post("/users/<int:user_id>/reactivate")
@admin_required
def reactivate(user_id: int):
    """Undo offboarding's account steps; the page lists the groups to re-add by hand."""
    person = _user(user_id)
    if person.id == current_user.id:
        return render_error(400, "You cannot reactivate yourself.")
    results = reactivation.reactivate(current_services(), current_user, person)
    return render_template("admin/reactivated.html", person=person, results=results,
                           former=reactivation.former_groups(person), section="users")
