"""Records behind `flask portal provision`: the person, group and project, created if missing."""
from __future__ import annotations

from portal import audit
from portal.extensions import db
from portal.web.forms import EMAIL_RE
from portal.models import Group, Membership, Project, Role, User
from portal.groups.names import unique_name, username_from, validate_group_slug, validate_project_slug
from portal.groups.slugs import name_taken


def ensure_records(email: str, group_slug: str, project_slug: str) -> tuple[User, Project, Role]:
    """(user, project, role) for provisioning; raises ValueError with a message for bad input."""
    import re
    email = email.strip().lower()
    if not re.match(EMAIL_RE, email):
        raise ValueError(f"not a valid email address: {email!r}")
    for slug, check in ((group_slug, validate_group_slug), (project_slug, validate_project_slug)):
        reason = check(slug)
        if reason:
            raise ValueError(f"{slug!r}: {reason}")
    user = db.session.scalar(db.select(User).where(User.email == email))
    if user is None:
        sub = f"provisioned:{email}"
        base = username_from(None, email, sub)
        username = unique_name(base, name_taken, identity=sub)
        user = User(sub=sub, email=email, name=email.split("@")[0], username=username)
        db.session.add(user)
    group = db.session.scalar(db.select(Group).where(Group.slug == group_slug))
    if group is None and name_taken(group_slug):
        raise ValueError(f"{group_slug!r} is a person's username; Gitea needs another name for the group")
    if group is None:
        group = Group(slug=group_slug, name=group_slug)
        db.session.add(group)
        audit.record(None, "group.create", group_slug, via="cli")
    db.session.flush()
    membership = db.session.scalar(db.select(Membership).where(Membership.user_id == user.id,
                                                               Membership.group_id == group.id))
    if membership is None:
        membership = Membership(user=user, group=group, role=Role.lead)
        db.session.add(membership)
    project = db.session.scalar(db.select(Project).where(Project.group_id == group.id,
                                                         Project.slug == project_slug))
    if project is None:
        project = Project(group=group, slug=project_slug, name=project_slug)
        db.session.add(project)
        db.session.flush()
        audit.record(None, "project.create", f"{group_slug}/{project_slug}", via="cli")
    db.session.commit()
    return user, project, membership.role
