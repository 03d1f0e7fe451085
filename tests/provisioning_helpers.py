"""Helpers for tests that drive reconcile directly."""
from __future__ import annotations

import time

from portal.workspaces import provisioning
from portal.extensions import db
from portal.models import Group, Membership, Project, Role, User
from portal.services import current_services


def seed(email: str = "ada@example.com", group: str = "ml-team", project: str = "vision",
         role: Role = Role.lead) -> tuple[User, Project]:
    """A person, a group and a project in the portal's database (inside an app context)."""
    user = db.session.scalar(db.select(User).where(User.email == email))
    if user is None:
        user = User(sub=f"sub-{email}", email=email, name=email.split("@")[0].title(),
                    username=email.split("@")[0].replace(".", "-"))
        db.session.add(user)
    grp = db.session.scalar(db.select(Group).where(Group.slug == group))
    if grp is None:
        grp = Group(slug=group, name=group.title())
        db.session.add(grp)
    db.session.flush()
    if not db.session.scalar(db.select(Membership).where(Membership.user_id == user.id,
                                                         Membership.group_id == grp.id)):
        db.session.add(Membership(user=user, group=grp, role=role))
    proj = db.session.scalar(db.select(Project).where(Project.group_id == grp.id, Project.slug == project))
    if proj is None:
        proj = Project(group=grp, slug=project, name=project.title())
        db.session.add(proj)
    db.session.commit()
    return user, proj


def run_until_done(user, project, role=Role.lead, timeout: float = 30.0, pause: float = 0.05):
    """Call reconcile until ready or failed; return (final status, stages seen in order)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        status = provisioning.reconcile(current_services(), user, project, role)
        if not seen or seen[-1] != status.stage:
            seen.append(status.stage)
        if status.done or time.monotonic() > deadline:
            return status, seen
        time.sleep(pause)


def seed_in_flight(count: int, email: str = "ada@example.com", before_create=None) -> list:
    """`count` projects of one person whose workspaces exist in the (simulated) Coder and whose
    rows say "building": what the worker's tick observes. Inside an app context."""
    from portal.people import tokens
    from portal.models import Group, Project, WorkspaceState, utcnow
    from portal.workspaces.workspace_spec import workspace_parameters

    user, first = seed(email=email)
    run_until_done(user, first)  # the person's Gitea and Coder accounts and tokens
    if before_create is not None:
        before_create()  # e.g. slow the simulated builds down
    svc = current_services()
    as_user = svc.coder.as_user(tokens.coder_token(svc, user))
    template = svc.coder.template_by_name(svc.coder.organization_id(), svc.settings.coder_template)
    params = workspace_parameters(svc, user, first)
    group = db.session.get(Group, first.group_id)
    rows = []
    for i in range(count):
        project = Project(group=group, slug=f"p{i}", name=f"P{i}")
        db.session.add(project)
        db.session.flush()
        ws = as_user.create_workspace("me", project.workspace_name, template.id, params)
        rows.append(WorkspaceState(user_id=user.id, project_id=project.id, stage="building",
                                   desired_state="running", stage_started_at=utcnow(),
                                   coder_workspace_id=ws.id,
                                   coder_workspace_name=project.workspace_name))
    db.session.add_all(rows)
    db.session.commit()
    return rows
