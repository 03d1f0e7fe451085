"""The minute's periodic work (Huey periodic task, one worker a minute by a claim).

What used to wait for a person's request: Coder token rotation, keep-alive of watched IDEs,
Gitea membership retries, offboardings left half-way, the hourly drift check (report only
unless PORTAL_DRIFT_APPLY=1), and every ten minutes the platform's versions and Coder's app
wildcard for the web tier (platform.py). It also restarts the observation chain if it was lost (a
broker restart, a worker killed mid-tick): a live chain ignores the extra tick.
"""
from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Callable

from flask import Flask

from portal.groups import drift, membership
from portal.people import offboarding, tokens
from portal.clients.http import ServiceError
from portal.extensions import db
from portal.models import Group, Offboarding, User, UserSecret, WorkspaceState, utcnow
from portal.services import Services, current_services
from portal.stages import Stage
from portal.workspaces.workspace_spec import WORKSPACE_TTL_MS
from portal.workspaces import beats, platform

log = logging.getLogger(__name__)
WATCHED_IDE = dt.timedelta(minutes=6)   # the open IDE's keep-alive POST comes every 5 minutes
ABANDONED = dt.timedelta(minutes=2)     # an offboarding still "running" after this is resumed
DRIFT_EVERY = dt.timedelta(hours=1)


def run(app: Flask) -> dict[str, object]:
    if not beats.claim("housekeeping", uuid.uuid4().hex, dt.timedelta(seconds=50)):
        return {}
    app.extensions["portal.queue"].enqueue("tick")
    svc = current_services()
    done: dict[str, object] = {}
    for name, step in (("tokens", rotate_tokens), ("keepalive", keep_alive),
                       ("memberships", retry_memberships), ("offboarding", resume_offboarding),
                       ("drift", check_drift), ("platform", read_platform)):
        try:
            done[name] = step(svc)
        except Exception as exc:  # noqa: BLE001 - one duty's trouble never stops the others
            db.session.rollback()
            log.exception("housekeeping step %s failed", name)
            done[name] = f"failed: {type(exc).__name__}"
    beats.beat("housekeeping", **done)
    return done


def rotate_tokens(svc: Services) -> int:
    """Coder tokens of active people that expire soon are rotated before anyone needs them."""
    soon = utcnow() + tokens.ROTATE_BEFORE
    users = db.session.scalars(db.select(User).join(UserSecret, UserSecret.user_id == User.id)
                               .where(UserSecret.kind == tokens.CODER_TOKEN,
                                      UserSecret.expires_at < soon, User.active.is_(True))).all()
    for user in users:
        _quietly(lambda: tokens.coder_token(svc, user))
    return len(users)


def keep_alive(svc: Services) -> int:
    """Push out the auto-stop deadline of every workspace whose IDE is open (watched)."""
    since = utcnow() - WATCHED_IDE
    rows = db.session.scalars(db.select(WorkspaceState).where(
        WorkspaceState.stage == Stage.ready, WorkspaceState.watched_at > since,
        WorkspaceState.coder_workspace_id.is_not(None))).all()
    deadline = utcnow() + dt.timedelta(milliseconds=WORKSPACE_TTL_MS)
    for row in rows:
        _quietly(lambda: svc.coder.extend_deadline(row.coder_workspace_id, deadline))
    return len(rows)


def retry_memberships(svc: Services) -> int:
    return membership.sync_pending(svc)[0]


def resume_offboarding(svc: Services) -> int:
    runs = [run for run in db.session.scalars(db.select(Offboarding).where(
        Offboarding.status == "running")) if offboarding.stalled(run, utcnow() - ABANDONED)]
    for run in runs:
        offboarding.run_all(svc, run)
    return len(runs)


def check_drift(svc: Services) -> int | str:
    if not beats.claim("drift", uuid.uuid4().hex, DRIFT_EVERY):
        return "not due"
    report = drift.find(svc, list(db.session.scalars(db.select(Group)).all()))
    if report.drift and svc.settings.drift_apply:
        drift.apply(svc, report)
    beats.beat("drift", differences=len(report.drift), applied=svc.settings.drift_apply)
    return len(report.drift)


def read_platform(svc: Services) -> str:
    if not beats.claim(platform.NAME, uuid.uuid4().hex, platform.READ_EVERY):
        return "not due"
    platform.read(svc)
    return "read"


def _quietly(call: Callable[[], object]) -> None:
    try:
        call()
    except ServiceError as exc:
        db.session.rollback()
        log.warning("housekeeping: %s", exc.user_message)
