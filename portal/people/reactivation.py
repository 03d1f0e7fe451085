"""Reactivating an offboarded person: the admin's undo of offboarding's account steps.

Three steps, each idempotent and audited: the portal account is active again, the Coder
user is activated (PUT /users/{user}/status/activate), the Gitea user is unblocked
(`prohibit_login: false`). Group memberships are NOT restored: `former_groups()` lists
what offboarding removed, so the admin (or the groups' leads) re-add what still applies.
Tokens and keys are minted afresh when the person next opens a workspace. A failed step
is reported and the admin presses Reactivate again. No Flask request objects.
"""
from __future__ import annotations

from dataclasses import dataclass

from portal import audit
from portal.clients.http import ServiceError
from portal.extensions import db
from portal.models import AuditEvent, Offboarding, User
from portal.steps import FAILED, OK, SKIPPED, StepResult
from portal.services import Services


@dataclass(frozen=True)
class FormerMembership:
    group: str      # the group's short name
    role: str


def reactivate(services: Services, actor: User, user: User) -> list[tuple[str, StepResult]]:
    """Undo the account, Coder and Gitea steps of offboarding; each step's result."""
    results = []
    if user.active:
        results.append(("Portal account", StepResult(SKIPPED, "It was already active.")))
    else:
        user.active = True
        results.append(("Portal account", StepResult(OK, "They can sign in again.")))
    audit.record(actor, "user.reactivate", f"user:{user.username}")
    db.session.commit()
    for label, action, call in (
            ("Coder user", "coder.user_activate",
             lambda: services.coder.set_user_active(user.username, True)),
            ("Gitea user", "gitea.user_unblock",
             lambda: services.gitea.set_prohibit_login(user.username, False))):
        try:
            found = call()
        except ServiceError as exc:
            result = StepResult(FAILED, f"{exc.user_message} Press Reactivate again to retry.")
        else:
            result = (StepResult(OK, "Active again.") if found is not None
                      else StepResult(SKIPPED, "They have none; it is created when needed."))
        audit.record(actor, action, f"user:{user.username}", result=result.status,
                     detail=result.detail)
        results.append((label, result))
    if all(r.status != FAILED for _, r in results):
        db.session.execute(db.delete(Offboarding).where(Offboarding.user_id == user.id))
    db.session.commit()
    return results


def former_groups(user: User) -> list[FormerMembership]:
    """The memberships offboarding removed (from the audit log), newest role per group."""
    events = db.session.scalars(db.select(AuditEvent).where(
        AuditEvent.action == "member.remove", AuditEvent.target.like(f"%/{_escape(user.username)}",
                                                                     escape="\\"))
        .order_by(AuditEvent.id.desc())).all()
    seen: dict[str, FormerMembership] = {}
    for event in events:
        details = event.details or {}
        slug = event.target.rsplit("/", 1)[0]
        if details.get("via") == "offboarding" and slug not in seen:
            seen[slug] = FormerMembership(slug, str(details.get("role", "")))
    return sorted(seen.values(), key=lambda m: m.group)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
