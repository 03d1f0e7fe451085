"""Groups: create (the creator becomes lead), view, inline short-name check."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.extensions import db
from portal.web.form_feedback import feedback, place_slug_reason, touched_fields
from portal.web.forms import GroupForm
from portal.models import Group, Membership, Role, utcnow
from portal.groups.permissions import can_create_project, can_manage_members, group_for
from portal.services import current_services
from portal.groups.slugs import group_slug

bp = Blueprint("groups", __name__, url_prefix="/groups")
GROUPS_PER_HOUR = 10  # each one creates a Gitea organisation; a person needs a few at most


def _created_lately() -> int:
    since = utcnow() - dt.timedelta(hours=1)
    return db.session.scalar(db.select(db.func.count(Group.id)).where(
        Group.created_by_id == current_user.id, Group.created_at >= since))


@bp.get("/check")
@login_required
def check():
    """HTMX: the New group form checked as a whole; messages for the fields typed in."""
    form = GroupForm(formdata=request.args, meta={"csrf": False})
    form.validate()
    slug, reason = group_slug(request.args.get("name", "")[:200], request.args.get("slug", "")[:200])
    touched = touched_fields(request.args.get("touched"), request.args)
    return render_template("_form_feedback.html", fields=feedback(form, touched, slug, reason))


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    form = GroupForm()
    if form.is_submitted() and _created_lately() >= GROUPS_PER_HOUR:
        form.name.errors = [f"You have created {GROUPS_PER_HOUR} groups in the last hour; "
                            "please wait before creating another."]
        return render_template("groups/new.html", form=form), 429
    if form.validate_on_submit():
        slug, reason = group_slug(form.name.data.strip(), form.slug.data)
        if reason:
            place_slug_reason(form, reason)
        else:
            group = Group(slug=slug, name=form.name.data.strip(),
                          description=(form.description.data or "").strip(),
                          created_by_id=current_user.id)
            db.session.add(group)
            db.session.add(Membership(user=current_user, group=group, role=Role.lead))
            audit.record(current_user, "group.create", slug, name=group.name)
            try:
                db.session.commit()
            except IntegrityError:
                db.session.rollback()
                form.slug.errors = ["This short name was just taken; choose another."]
            else:
                from portal.groups.membership import sync  # the lead's Gitea team, at once (or pending)
                sync(current_services(), group.memberships[0])
                db.session.commit()
                flash(f"Group “{group.name}” created. You are its lead.", "success")
                return redirect(url_for("groups.show", slug=group.slug), 303)
    status = 400 if form.is_submitted() else 200
    return render_template("groups/new.html", form=form), status


@bp.get("/<slug>")
@login_required
def show(slug: str):
    group, role = group_for(current_user, slug)
    members = sorted(group.memberships, key=lambda m: (m.role != Role.lead, m.user.display_name.lower()))
    return render_template("groups/show.html", group=group, role=role, members=members,
                           can_create=can_create_project(current_user, role),
                           can_manage=can_manage_members(current_user, role))
