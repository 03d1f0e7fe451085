"""Who may do what in a group. Non-members get 404 for things they may not know exist."""
from __future__ import annotations

from flask import abort
from sqlalchemy import and_

from portal.extensions import db
from portal.models import Group, Membership, Project, Role, User


def role_in(user: User, group: Group) -> Role | None:
    """The person's role in the group, or None when they are not a member."""
    return db.session.scalar(db.select(Membership.role).where(Membership.user_id == user.id,
                                                              Membership.group_id == group.id))


def group_for(user: User, slug: str) -> tuple[Group, Role | None]:
    """The group and the person's role; 404 when it doesn't exist or they may not see it."""
    group = db.session.scalar(db.select(Group).where(Group.slug == slug))
    if group is None:
        abort(404)
    role = role_in(user, group)
    if role is None and not user.is_admin:
        abort(404)
    return group, role


def project_for(user: User, project_id: int) -> tuple[Project, Role | None]:
    # One query (every Code tab poll comes here): the project and the person's role in its group,
    # by group id, with neither the group nor the membership row loaded.
    row = db.session.execute(
        db.select(Project, Membership.role)
        .outerjoin(Membership, and_(Membership.group_id == Project.group_id,
                                    Membership.user_id == user.id))
        .where(Project.id == project_id)).first()
    if row is None:
        abort(404)
    project, role = row
    if role is None and not user.is_admin:
        abort(404)
    return project, role


def acting_role(user: User, project: Project) -> Role | None:
    """The role the person acts with on a project now (admins act as leads where they are not
    members), or None when they may no longer act on it (removed, deactivated)."""
    if not user.active:
        return None
    role = db.session.scalar(db.select(Membership.role).where(
        Membership.user_id == user.id, Membership.group_id == project.group_id))
    if role is None and not user.is_admin:
        return None
    return effective_role(user, role)


def can_create_project(user: User, role: Role | None) -> bool:
    return user.is_admin or (role is not None and role.can_write)


def can_manage_members(user: User, role: Role | None) -> bool:
    return user.is_admin or role == Role.lead


def effective_role(user: User, role: Role | None) -> Role:
    """Admins act as leads where they are not members."""
    if role is None and user.is_admin:
        return Role.lead
    assert role is not None
    return role
