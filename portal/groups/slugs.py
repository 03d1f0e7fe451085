"""Group and project short names: derived from the display name, validated, unique."""
from __future__ import annotations

from portal.extensions import db
from portal.models import Group, Project, User
from portal.groups.names import slugify, validate_group_slug, validate_project_slug

GROUP_SLUG_MAX = 40
PROJECT_SLUG_MAX = 60


def group_slug(name: str, slug: str | None) -> tuple[str, str | None]:
    """(slug, reason it can't be used or None)."""
    slug = (slug or "").strip().lower() or slugify(name or "", GROUP_SLUG_MAX)
    if not slug:
        return "", "Use at least one letter or digit."
    reason = validate_group_slug(slug)
    if reason:
        return slug, reason
    return slug, ("This short name is taken; choose another." if name_taken(slug) else None)


def name_taken(name: str) -> bool:
    """Gitea has one namespace for people and organisations: a group slug must not be a username."""
    name = name.lower()
    return (db.session.scalar(db.select(Group.id).where(db.func.lower(Group.slug) == name)) is not None
            or db.session.scalar(db.select(User.id).where(db.func.lower(User.username) == name)) is not None)


def project_slug(group: Group, name: str, slug: str | None) -> tuple[str, str | None]:
    slug = (slug or "").strip().lower() or slugify(name or "", PROJECT_SLUG_MAX)
    if not slug:
        return "", "Use at least one letter or digit."
    reason = validate_project_slug(slug)
    if reason:
        return slug, reason
    if len(slug) > PROJECT_SLUG_MAX:
        return slug, f"At most {PROJECT_SLUG_MAX} characters."
    taken = db.session.scalar(db.select(Project.id).where(Project.group_id == group.id,
                                                          db.func.lower(Project.slug) == slug))
    return slug, ("A project with this short name exists in the group." if taken else None)
