"""Members of a group: everyone in it sees the list; leads (and admins) invite, change roles, remove.

Every action answers the `_members.html` fragment to HTMX (target `#members`) and a 303
back to the page otherwise; refusals (bad input, last lead...) carry a clear message and a
4xx status, never a 500.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal.groups import invitations, membership
from portal.web.htmx import hx_redirect, is_partial
from portal.groups.membership import MembershipError
from portal.models import Role
from portal.groups.permissions import can_manage_members, group_for
from portal.services import current_services

bp = Blueprint("members", __name__)
ROLES = [r.value for r in Role]


def _context(group, role, **extra):
    members = sorted(group.memberships,
                     key=lambda m: (m.role != Role.lead, m.role != Role.contributor,
                                    m.user.display_name.lower()))
    manage = can_manage_members(current_user, role)
    return dict(group=group, role=role, members=members, can_manage=manage, roles=ROLES,
                invitations=invitations.pending(group) if manage else [],
                any_pending=any(m.sync_pending for m in members), **extra)


def _respond(group, role, *, messages=(), warnings=(), error=None, status=200, form=None):
    """The fragment (HTMX) or a redirect with flashes; errors re-render with their status."""
    if is_partial():
        return render_template("groups/_members.html", messages=list(messages),
                               warnings=list(warnings), error=error, form=form or {},
                               **_context(group, role)), status
    for text in messages:
        flash(text, "success")
    for text in warnings:
        flash(text, "warning")
    if error:
        return render_template("groups/members.html", messages=[], warnings=[], error=error,
                               form=form or {}, **_context(group, role)), status
    return redirect(url_for("members.index", slug=group.slug), 303)


def _managed(slug: str):
    group, role = group_for(current_user, slug)
    if not can_manage_members(current_user, role):
        abort(403, "Only the group's leads can manage its members.")
    return group, role


@bp.get("/groups/<slug>/members")
@login_required
def index(slug: str):
    group, role = group_for(current_user, slug)
    template = "groups/_members.html" if is_partial() else "groups/members.html"
    return render_template(template, messages=[], warnings=[], error=None, form={},
                           **_context(group, role))


@bp.post("/groups/<slug>/members")
@login_required
def invite(slug: str):
    group, role = _managed(slug)
    form = {"who": request.form.get("who", "")[:320], "role": request.form.get("role", "")}
    try:
        new_role = membership.parse_role(form["role"])
        # Absolute links come from PORTAL_URL, never from the request's Host header.
        svc = current_services()
        link = svc.settings.public_base(current_app.config.get("PORTAL_DEV_PORT")) + \
            url_for("groups.show", slug=group.slug)
        result = invitations.invite(svc, current_user, group, form["who"], new_role, link)
    except MembershipError as exc:
        return _respond(group, role, error=exc.message, status=exc.status, form=form)
    return _respond(group, role, messages=result.messages, warnings=result.warnings)


def _member(group, user_id: int):
    m = membership.get(group, user_id)
    if m is None:
        abort(404, "This person is not a member of the group.")
    return m


@bp.post("/groups/<slug>/members/<int:user_id>/role")
@login_required
def set_role(slug: str, user_id: int):
    group, role = _managed(slug)
    m = _member(group, user_id)
    try:
        out = membership.change_role(current_services(), current_user, m, membership.parse_role(
            request.form.get("role")))
    except MembershipError as exc:
        return _respond(group, role, error=exc.message, status=exc.status)
    if m.user_id == current_user.id:  # a lead who stepped down may no longer manage
        _, role = group_for(current_user, slug)
    return _respond(group, role, messages=out.messages, warnings=out.warnings)


@bp.post("/groups/<slug>/members/<int:user_id>/remove")
@login_required
def remove(slug: str, user_id: int):
    group, role = _managed(slug)
    m = _member(group, user_id)
    self_removal = m.user_id == current_user.id
    try:
        out = membership.remove(current_services(), current_user, m)
    except MembershipError as exc:
        return _respond(group, role, error=exc.message, status=exc.status)
    if self_removal and not current_user.is_admin:
        for text in out.messages + out.warnings:
            flash(text, "success")
        return hx_redirect(url_for("dashboard.index"))
    return _respond(group, role, messages=out.messages, warnings=out.warnings)


@bp.post("/groups/<slug>/invitations/<int:invitation_id>/revoke")
@login_required
def revoke(slug: str, invitation_id: int):
    group, role = _managed(slug)
    try:
        inv = invitations.revoke(current_user, group, invitation_id)
    except MembershipError as exc:
        return _respond(group, role, error=exc.message, status=exc.status)
    return _respond(group, role, messages=[f"The invitation of {inv.email} was revoked."])


@bp.post("/groups/<slug>/members/sync")
@login_required
def sync(slug: str):
    group, role = _managed(slug)
    done, left = membership.sync_pending(current_services(), group)
    if left:
        return _respond(group, role, warnings=[f"Gitea is still unreachable: {left} change(s) "
                                               "remain pending."])
    return _respond(group, role, messages=[f"Gitea is up to date ({done} change(s) applied)."])
