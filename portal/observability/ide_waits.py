"""Time to IDE: from the recorded intent (Code tab opened) to the iframe served.

The wait is kept in the database (ide_waits), because the request that records the intent,
the passes that do the work and the request that serves the iframe may run in different
processes. A pass that creates the workspace marks the wait `first_build`, one that starts a
stopped workspace marks it `start` (a mark never goes back to a lighter kind); otherwise the
workspace was already running. Serving the iframe deletes the row and observes the histogram
once, even when two polls serve it at the same moment. A wait older than the build timeout
(the person went away) starts again at the next open.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import IdeWait, Project, User, utcnow
from portal.people.tokens import aware
from portal.observability import metrics

STALE_AFTER = dt.timedelta(seconds=600)  # PORTAL_BUILD_TIMEOUT's default: a wait given up
LIGHTER = {"first_build": ("start", "running"), "start": ("running",)}


def intent(user: User, project: Project) -> None:
    """The person asked for their IDE (commits; call before the caller's own changes)."""
    if not metrics.enabled:
        return
    row = db.session.scalar(db.select(IdeWait).where(IdeWait.user_id == user.id,
                                                     IdeWait.project_id == project.id))
    now = utcnow()
    if row is not None:
        if now - aware(row.intent_at) > STALE_AFTER:
            row.intent_at, row.kind = now, "running"
            db.session.commit()
        return
    db.session.add(IdeWait(user_id=user.id, project_id=project.id, intent_at=now, kind="running"))
    try:
        db.session.commit()
    except IntegrityError:  # a second tab recorded the same wait at the same moment
        db.session.rollback()


def saw(user: User, project: Project, kind: str) -> None:
    """A pass had to build (`first_build`) or start (`start`) the workspace; in its transaction."""
    if not metrics.enabled:
        return
    db.session.execute(update(IdeWait)
                       .where(IdeWait.user_id == user.id, IdeWait.project_id == project.id,
                              IdeWait.kind.in_(LIGHTER[kind]))
                       .values(kind=kind).execution_options(synchronize_session=False))


def served(user: User, project: Project) -> None:
    """The iframe is being served: observe the wait once and forget it."""
    if not metrics.enabled:
        return
    row = db.session.scalar(db.select(IdeWait).where(IdeWait.user_id == user.id,
                                                     IdeWait.project_id == project.id))
    if row is None:
        return
    seconds, kind = (utcnow() - aware(row.intent_at)).total_seconds(), row.kind
    result = db.session.execute(delete(IdeWait).where(IdeWait.id == row.id)
                                .execution_options(synchronize_session=False))
    db.session.commit()
    if result.rowcount == 1:
        metrics.time_to_ide(kind, seconds)
