"""Members of a group and their roles, kept in step with the group's Gitea teams.

Every change is applied to Gitea at once (the role's team in, the other out). When
Gitea cannot be reached the change is kept here with `sync_pending` and the reason in
`sync_error`; `flask portal reconcile --all --apply`, the lead's "Sync now" and the lazy
self-heal on opening a project apply it later. Removal also stops (or deletes) the
person's workspaces of the group's projects and, when no membership is left, revokes
their per-user Coder token. No Flask request objects here.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.people import tokens
from portal.clients.gitea import GiteaClient, GiteaTeam
from portal.clients.http import NotFound, ServiceError
from portal.extensions import db
from portal.groups.gitea_sync import CONTRIBUTORS, READERS, GiteaIdentityConflict, ensure_user, team_for
from portal.models import Group, Membership, Project, Role, User, WorkspaceState, utcnow
from portal.services import Services
from portal.workspaces.bulk import stop_or_delete_all

log = logging.getLogger(__name__)

# Opening a project re-checks the person's Gitea team at most this often (lazy self-heal).
HEAL_AFTER = dt.timedelta(minutes=10)


class MembershipError(Exception):
    """A refused change; `message` is for people, `status` the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


@dataclass
class Outcome:
    """What a change did: the person-facing messages, and whether Gitea is behind."""

    membership: Membership | None = None
    messages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    pending: bool = False


def parse_role(value: object) -> Role:
    try:
        return Role(str(value or "").strip().lower())
    except ValueError:
        raise MembershipError("Choose a role: lead, contributor or reader.") from None


def get(group: Group, user_id: int) -> Membership | None:
    return db.session.scalar(db.select(Membership).where(Membership.group_id == group.id,
                                                         Membership.user_id == user_id))


def _last_lead(m: Membership, doing: str) -> MembershipError:
    return MembershipError(
        f"{m.user.display_name} is the last lead of “{m.group.name}” and cannot be {doing}. "
        "Make someone else a lead first.", 409)


def _unless_last_lead(m: Membership, statement) -> None:
    """Run an UPDATE or DELETE of `m` only if it leaves the group a lead, as ONE atomic
    step: the statement's WHERE reads the row's current role and counts the other leads.
    SQLite runs one writer at a time, so two leads demoting each other cannot both see two
    leads; on PostgreSQL the group's lead rows are locked first (FOR UPDATE), so the second
    statement waits and then counts again. Raises MembershipError: 409 when `m` is the last
    lead, 404 when the membership is gone."""
    doing = "removed" if statement.is_delete else "demoted"
    if db.engine.dialect.name == "postgresql":
        db.session.execute(db.select(Membership.id).where(
            Membership.group_id == m.group_id, Membership.role == Role.lead).with_for_update())
    others = (db.select(db.func.count(Membership.id)).where(
        Membership.group_id == m.group_id, Membership.role == Role.lead,
        Membership.id != m.id).scalar_subquery())
    done = db.session.execute(statement.where(
        Membership.id == m.id, db.or_(Membership.role != Role.lead, others > 0))
        .execution_options(synchronize_session=False))
    if done.rowcount == 1:
        return
    db.session.rollback()
    if db.session.get(Membership, m.id) is None:
        raise MembershipError("This person is no longer a member of the group.", 404)
    raise _last_lead(m, doing)


# -- Gitea ------------------------------------------------------------------------------
def group_teams(gitea: GiteaClient, group: Group) -> dict[str, GiteaTeam]:
    """The group's portal teams, creating the organization and teams when missing."""
    try:
        return gitea.ensure_teams(group.slug)
    except NotFound:
        gitea.create_org(group.slug, full_name=group.name)
        return gitea.ensure_teams(group.slug)


def _put(gitea: GiteaClient, team_id: int, user: User) -> None:
    try:
        gitea.add_team_member(team_id, user.username)
    except NotFound:  # no Gitea account yet (never opened a project): create it, then add
        ensure_user(gitea, user)
        gitea.add_team_member(team_id, user.username)


def mark_sync(m: Membership, error: str | None) -> None:
    """Record how applying `m` to Gitea went: synced now (None), or pending with the reason."""
    m.sync_pending = error is not None
    m.sync_error = error[:1000] if error else None
    if error is None:
        m.synced_at = utcnow()


def _failure(exc: Exception) -> str:
    if isinstance(exc, ServiceError):
        return exc.user_message
    return str(exc)


def sync(services: Services, m: Membership) -> bool:
    """Apply `m.role` to Gitea now. True when applied, else marked pending (never raises)."""
    try:
        teams = group_teams(services.gitea, m.group)
        mine, other = team_for(m.role)
        _put(services.gitea, teams[mine].id, m.user)
        services.gitea.remove_team_member(teams[other].id, m.user.username)
    except (ServiceError, GiteaIdentityConflict) as exc:
        mark_sync(m, _failure(exc))
        log.warning("Gitea sync of %s in %s pending: %s", m.user.username, m.group.slug, _failure(exc))
        return False
    mark_sync(m, None)
    return True


def sync_pending(services: Services, group: Group | None = None) -> tuple[int, int]:
    """Retry every pending membership (of one group): (applied, still pending)."""
    query = db.select(Membership).where(Membership.sync_pending.is_(True))
    if group is not None:
        query = query.where(Membership.group_id == group.id)
    done = left = 0
    for m in db.session.scalars(query).all():
        if sync(services, m):
            done += 1
            audit.record(None, "member.sync", f"{m.group.slug}/{m.user.username}", role=m.role.value)
        else:
            left += 1
    db.session.commit()
    return done, left


def _sync_outcome(services: Services, m: Membership, out: Outcome) -> Outcome:
    if not sync(services, m):
        out.pending = True
        out.warnings.append(f"Gitea could not be updated ({m.sync_error}). The change is saved "
                            "and marked “sync pending”; it is applied by the next sync.")
    return out


# -- changes ------------------------------------------------------------------------------
def add(services: Services, actor: User | None, group: Group, user: User, role: Role,
        *, via: str = "direct") -> Outcome:
    if get(group, user.id) is not None:
        raise MembershipError(f"{user.display_name} is already a member of “{group.name}”; "
                              "change their role in the list instead.", 409)
    m = Membership(user=user, group=group, role=role, sync_pending=True)
    db.session.add(m)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise MembershipError(f"{user.display_name} was just added by someone else.", 409) from None
    audit.record(actor, "member.add", f"{group.slug}/{user.username}", role=role.value, via=via)
    db.session.commit()
    out = _sync_outcome(services, m, Outcome(m, [f"{user.display_name} is now a {role.value}."]))
    db.session.commit()
    if services.settings.prewarm == "members":  # a joiner's workspaces, built and stopped
        from portal.workspaces import intent
        for project in list(group.projects):
            intent.prewarm(project, [user])
    return out


def change_role(services: Services, actor: User | None, m: Membership, role: Role) -> Outcome:
    if m.role == role:
        out = Outcome(m, [f"{m.user.display_name} already is a {role.value}."])
        if m.sync_pending:
            _sync_outcome(services, m, out)
            db.session.commit()
        return out
    old = m.role
    if role != Role.lead:
        _unless_last_lead(m, db.update(Membership).values(role=role, sync_pending=True))
        db.session.refresh(m)
    else:
        m.role = role
    m.sync_pending = True
    audit.record(actor, "member.role", f"{m.group.slug}/{m.user.username}", old=old.value,
                 new=role.value)
    db.session.commit()
    out = _sync_outcome(services, m, Outcome(m, [f"{m.user.display_name} is now a {role.value}."]))
    db.session.commit()
    return out


def remove(services: Services, actor: User | None, m: Membership) -> Outcome:
    """Remove a member: out of the Gitea teams, workspaces stopped, token revoked if last."""
    user, group, role = m.user, m.group, m.role
    target = f"{group.slug}/{user.username}"
    _unless_last_lead(m, db.delete(Membership))
    db.session.expunge(m)
    audit.record(actor, "member.remove", target, role=role.value)
    db.session.commit()
    out = Outcome(None, [f"{user.display_name} was removed from “{group.name}”."])
    _remove_from_teams(services, actor, group, user, out)
    _stop_workspaces(services, actor, group, user, out)
    if not db.session.scalar(db.select(Membership.id).where(Membership.user_id == user.id).limit(1)):
        try:
            if tokens.revoke_coder_token(services, user):
                out.messages.append("Their workspace credentials were revoked.")
        except ServiceError as exc:
            db.session.rollback()
            audit.record(actor, "token.revoke_failed", f"coder:{user.username}",
                         reason=exc.user_message)
            out.warnings.append(f"Their Coder token could not be revoked now ({exc.user_message}); "
                                "it expires on its own within hours.")
    db.session.commit()
    return out


def remove_from_teams(services: Services, actor: User | None, group: Group, user: User) -> str | None:
    """Take the person out of the group's Gitea teams (audited): None, or why Gitea failed."""
    out = Outcome()
    _remove_from_teams(services, actor, group, user, out)
    return out.warnings[0] if out.pending else None


def _remove_from_teams(services: Services, actor: User | None, group: Group, user: User,
                       out: Outcome) -> None:
    try:
        teams = {t.name.lower(): t for t in services.gitea.list_teams(group.slug)}
        for name in (CONTRIBUTORS, READERS):
            if name.lower() in teams:
                services.gitea.remove_team_member(teams[name.lower()].id, user.username)
    except NotFound:
        pass  # no organization: nothing to remove from
    except ServiceError as exc:
        out.pending = True
        audit.record(actor, "gitea.team_remove_pending", f"{group.slug}/{user.username}",
                     reason=exc.user_message)
        out.warnings.append(f"Gitea could not be updated ({exc.user_message}): their Git access "
                            "is removed by the next sync (flask portal reconcile --all --apply).")
        return
    audit.record(actor, "gitea.team_remove", f"{group.slug}/{user.username}")


def _stop_workspaces(services: Services, actor: User | None, group: Group, user: User,
                     out: Outcome) -> None:
    delete = services.settings.removal_policy == "delete"
    states = db.session.scalars(db.select(WorkspaceState).join(Project).where(
        WorkspaceState.user_id == user.id, Project.group_id == group.id)).all()
    result = stop_or_delete_all(services, actor, states, delete=delete, reason="member removed")
    verb = "deleted" if delete else "stopped"
    if result.failed:
        out.warnings.append(f"Not every workspace of theirs could be {verb}: {result.detail}")
    elif states:
        out.messages.append(f"Their workspaces were {verb}.")


# -- lazy self-heal (called by provisioning before the Coder step) ------------------------
def heal_team_membership(services: Services, user: User, project: Project,
                         state: WorkspaceState) -> None:
    """Check and repair the person's team membership when unknown, pending or old.

    A fresh check (or a fresh repository pass) costs no call at all; otherwise one
    team list and two membership reads, plus the repair. Gitea trouble never blocks
    the Code tab: the membership is marked pending instead.
    """
    m = db.session.scalar(db.select(Membership).where(  # by id: the group is loaded only to repair
        Membership.group_id == project.group_id, Membership.user_id == user.id))
    if m is None:
        return  # an admin who is not a member: provisioning handled the team already
    fresh = tokens.aware(m.synced_at) or tokens.aware(state.repo_ready_at)
    if not m.sync_pending and fresh is not None and utcnow() - fresh < HEAL_AFTER:
        return
    gitea = services.gitea
    try:
        teams = group_teams(gitea, m.group)
        mine, other = team_for(m.role)
        repaired = []
        if not gitea.is_team_member(teams[mine].id, user.username):
            _put(gitea, teams[mine].id, user)
            repaired.append(f"added to {mine}")
        if gitea.is_team_member(teams[other].id, user.username):
            gitea.remove_team_member(teams[other].id, user.username)
            repaired.append(f"removed from {other}")
    except (ServiceError, GiteaIdentityConflict) as exc:
        mark_sync(m, _failure(exc))
        db.session.commit()
        return
    if repaired:
        audit.record(None, "gitea.team_repair", f"{m.group.slug}/{user.username}",
                     changes=repaired, via="self-heal")
    mark_sync(m, None)
    db.session.commit()
