"""Offboarding a person in one admin action, as an idempotent sequence of steps.

`start()` records the intent (an `Offboarding` row: the workspace choice, every step
"pending", the groups whose Gitea teams must lose the person); the worker's `offboard` job
(portal/workspaces/jobs.py) runs `run_all()`, whose `run_next()` performs ONE pending step and
stores its result (ok / skipped / failed with a reason), so the admin page, which only reads
the row, shows each step as it completes; the worker's housekeeping resumes a run nobody has
advanced for a while (`stalled`). A failed step never stops the others; `start()` again (the page's Retry) runs
the steps again: each checks what is left to do (the groups still pending are stored),
so a retry after a service was down continues where the first run stopped. Order: deactivate
first (no new sign-in; every portal session ends), suspend the Coder user (Coder refuses
every session and application key of a suspended user, so an open IDE stops working), the
Gitea teams, workspaces, the Coder token, the Gitea token, block the Gitea user
(`prohibit_login`), the LiteLLM key and the GitHub token. portal/people/reactivation.py undoes
the account, Coder and Gitea steps; memberships are re-added by hand.

Every step and the run's start and end land in the audit log. No Flask request objects.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Callable

from portal.people import ai_keys, github_tokens, tokens
from portal import audit
from portal.groups import membership
from portal.web import sessions
from portal.clients.http import ServiceError
from portal.extensions import db
from portal.models import (Group, Membership, Offboarding, Project, User, WorkspaceState, aware,
                           utcnow)
from portal.services import Services
from portal.steps import FAILED, OK, SKIPPED, StepResult
from portal.workspaces.bulk import stop_or_delete_all

log = logging.getLogger(__name__)

STEPS: tuple[tuple[str, str], ...] = (
    ("deactivate", "Deactivate the portal account"),
    ("coder_suspend", "Suspend the Coder user (ends every IDE session)"),
    ("gitea_teams", "Remove from every group's Gitea teams"),
    ("workspaces", "Stop or delete every workspace"),
    ("coder_token", "Revoke the Coder token"),
    ("gitea_token", "Revoke the Gitea token"),
    ("gitea_block", "Block the Gitea user (no sign-in, API or git)"),
    ("litellm_key", "Revoke the LiteLLM key"),
    ("github_token", "Delete the GitHub token"),
)
LABELS = dict(STEPS)
WORKSPACE_ACTIONS = ("stop", "delete")
PENDING = "pending"


class OffboardingError(Exception):
    """A refused request (message for the admin)."""


@dataclass(frozen=True)
class StepView:
    name: str
    label: str
    status: str
    detail: str


def current(user: User) -> Offboarding | None:
    return db.session.scalar(db.select(Offboarding).where(Offboarding.user_id == user.id))


def view(run: Offboarding | None) -> list[StepView]:
    steps = (run.steps if run else {}) or {}
    return [StepView(name, label, steps.get(name, {}).get("status", PENDING),
                     steps.get(name, {}).get("detail", "")) for name, label in STEPS]


def _groups_of(user: User) -> list[str]:
    """Groups whose teams may hold the person: memberships, and projects they opened
    (admins who are not members sit in Contributors)."""
    slugs = set(db.session.scalars(db.select(Group.slug).join(Membership).where(
        Membership.user_id == user.id)))
    slugs |= set(db.session.scalars(db.select(Group.slug).join(Project).join(
        WorkspaceState, WorkspaceState.project_id == Project.id).where(
        WorkspaceState.user_id == user.id)))
    return sorted(slugs)


def start(actor: User, user: User, workspace_action: str) -> Offboarding:
    """Record the offboarding, or its retry (every step pending again; done ones are skipped)."""
    if workspace_action not in WORKSPACE_ACTIONS:
        raise OffboardingError("Choose what happens to their workspaces: stop or delete.")
    if actor.id == user.id:
        raise OffboardingError("You cannot offboard yourself.")
    run = current(user)
    retry = run is not None
    if run is None:
        run = Offboarding(user_id=user.id, groups=[])
        db.session.add(run)
    # Every step is idempotent, so a retry simply runs them all again: what was done is
    # skipped, what failed (or what appeared since) is done now.
    asked = utcnow().isoformat()
    run.steps = {name: {"status": PENDING, "at": asked} for name, _ in STEPS}
    run.groups = sorted(set(run.groups or []) | set(_groups_of(user)))
    run.actor_id, run.status, run.finished_at = actor.id, "running", None
    run.workspace_action = workspace_action
    audit.record(actor, "user.offboard_retry" if retry else "user.offboard", f"user:{user.username}",
                 workspaces=workspace_action)
    db.session.commit()
    return run


def run_next(services: Services, run: Offboarding) -> StepView | None:
    """Perform the next pending step; None (and the run finished) when none is left."""
    pending = [name for name, _ in STEPS if run.steps.get(name, {}).get("status") == PENDING]
    if not pending:
        _finish(run)
        return None
    name = pending[0]
    user = db.session.get(User, run.user_id)
    actor = db.session.get(User, run.actor_id) if run.actor_id else None
    try:
        result = _RUNNERS[name](services, actor, user, run)
    except ServiceError as exc:
        db.session.rollback()
        result = StepResult(FAILED, exc.user_message)
    except Exception as exc:  # noqa: BLE001 - a step's failure is reported, never a 500
        db.session.rollback()
        log.exception("offboarding step %s failed", name)
        result = StepResult(FAILED, str(exc) or type(exc).__name__)
    run = db.session.get(Offboarding, run.id)
    run.steps = {**run.steps, name: {"status": result.status, "detail": result.detail,
                                     "at": utcnow().isoformat()}}
    audit.record(actor, f"offboard.{name}", f"user:{user.username}", result=result.status,
                 detail=result.detail)
    db.session.commit()
    if len(pending) == 1:
        _finish(run)
    return StepView(name, LABELS[name], result.status, result.detail)


def stalled(run: Offboarding, before: dt.datetime) -> bool:
    """A running offboarding none of whose steps has moved since `before` (its job was lost or
    its worker killed): the housekeeping resumes it."""
    moved = [dt.datetime.fromisoformat(s["at"]) for s in (run.steps or {}).values() if s.get("at")]
    last = max(moved, default=aware(run.created_at))
    return run.status == "running" and aware(last) < before


def run_all(services: Services, run: Offboarding) -> list[StepView]:
    """Every pending step in order (housekeeping resumes an abandoned run); the results."""
    done = []
    while (step := run_next(services, run)) is not None:
        done.append(step)
        run = db.session.get(Offboarding, run.id)
    return done


def _finish(run: Offboarding) -> None:
    if run.status != "running":
        return
    failed = [n for n, s in run.steps.items() if s.get("status") == FAILED]
    run.status = "incomplete" if failed else "done"
    run.finished_at = utcnow()
    user = db.session.get(User, run.user_id)
    actor = db.session.get(User, run.actor_id) if run.actor_id else None
    audit.record(actor, "user.offboard_incomplete" if failed else "user.offboard_done",
                 f"user:{user.username}", failed=failed)
    db.session.commit()


# -- the steps ------------------------------------------------------------------------------
def _deactivate(services: Services, actor: User | None, user: User, run: Offboarding) -> StepResult:
    if not user.active:
        return StepResult(SKIPPED, "The account was already deactivated.")
    user.active = False
    sessions.end_everywhere(user)
    audit.record(actor, "user.deactivate", f"user:{user.username}")
    db.session.commit()
    return StepResult(OK, "They can no longer sign in; every open session has ended.")


def _coder_suspend(services: Services, actor: User | None, user: User, run: Offboarding) -> StepResult:
    found = services.coder.set_user_active(user.username, False)
    if found is None:
        return StepResult(SKIPPED, "They had no Coder user.")
    audit.record(actor, "coder.user_suspend", f"coder:{user.username}")
    db.session.commit()
    return StepResult(OK, "Suspended: Coder refuses every session and IDE key of theirs.")


def _gitea_block(services: Services, actor: User | None, user: User, run: Offboarding) -> StepResult:
    found = services.gitea.set_prohibit_login(user.username, True)
    if found is None:
        return StepResult(SKIPPED, "They had no Gitea user.")
    audit.record(actor, "gitea.user_block", f"gitea:{user.username}")
    db.session.commit()
    return StepResult(OK, "Blocked: Gitea refuses their sign-in, API calls and git access.")


def _gitea_teams(services: Services, actor: User | None, user: User, run: Offboarding) -> StepResult:
    # Portal access goes at once (so no sync puts them back); Gitea follows, group by group.
    for m in db.session.scalars(db.select(Membership).where(Membership.user_id == user.id)).all():
        audit.record(actor, "member.remove", f"{m.group.slug}/{user.username}", role=m.role.value,
                     via="offboarding")
        db.session.delete(m)
    db.session.commit()
    slugs = list(run.groups or [])
    if not slugs:
        return StepResult(SKIPPED, "No group's Gitea team left to leave.")
    done, failures = [], []
    for slug in slugs:
        group = db.session.scalar(db.select(Group).where(Group.slug == slug))
        problem = (membership.remove_from_teams(services, actor, group, user)
                   if group is not None else None)
        db.session.commit()
        if problem is None:
            done.append(slug)
        else:
            failures.append(f"{slug}: {problem}")
    run = db.session.get(Offboarding, run.id)
    run.groups = [s for s in slugs if s not in done]
    db.session.commit()
    if failures:
        return StepResult(FAILED, f"Removed from {len(done)} of {len(slugs)} groups. "
                          + "; ".join(failures))
    return StepResult(OK, f"Removed from the teams of {', '.join(done)}.")


def _workspaces(services: Services, actor: User | None, user: User, run: Offboarding) -> StepResult:
    states = db.session.scalars(db.select(WorkspaceState).where(
        WorkspaceState.user_id == user.id)).all()
    return stop_or_delete_all(services, actor, states, delete=run.workspace_action == "delete",
                              reason="offboarding")


def _coder_token(services: Services, actor: User | None, user: User, run: Offboarding) -> StepResult:
    if tokens.revoke_coder_token(services, user):
        return StepResult(OK, "Revoked in Coder and forgotten here.")
    return StepResult(SKIPPED, "No Coder token was held.")


def _gitea_token(services: Services, actor: User | None, user: User, run: Offboarding) -> StepResult:
    if tokens.revoke_gitea_token(services, user):
        return StepResult(OK, "Revoked in Gitea and forgotten here.")
    return StepResult(SKIPPED, "No Gitea token was held.")


def _litellm_key(services: Services, actor: User | None, user: User, run: Offboarding) -> StepResult:
    if ai_keys.revoke_ai_key(services, user):
        return StepResult(OK, "Deleted in LiteLLM and forgotten here.")
    return StepResult(SKIPPED, "No LiteLLM key was held.")


def _github_token(services: Services, actor: User | None, user: User, run: Offboarding) -> StepResult:
    if github_tokens.delete(user):
        return StepResult(OK, "Deleted.")
    return StepResult(SKIPPED, "No GitHub token was stored.")


_RUNNERS: dict[str, Callable[[Services, User | None, User, Offboarding], StepResult]] = {
    "deactivate": _deactivate, "coder_suspend": _coder_suspend, "gitea_block": _gitea_block,
    "gitea_teams": _gitea_teams, "workspaces": _workspaces,
    "coder_token": _coder_token, "gitea_token": _gitea_token, "litellm_key": _litellm_key,
    "github_token": _github_token,
}
