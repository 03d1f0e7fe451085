"""The reconciler tier's shared clock in the database: claims and heartbeats (WorkerBeat rows).

A claim lets one worker of many do a duty (the observation tick, the minute's housekeeping):
a conditional UPDATE wins or loses atomically on SQLite and PostgreSQL alike. The beat time
of a duty is what /readyz, `doctor` and the admin System page read as "the worker ran".
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import WorkerBeat, utcnow
from portal.people.tokens import aware


def _row(name: str) -> None:
    if db.session.get(WorkerBeat, name) is None:
        db.session.add(WorkerBeat(name=name))
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()


IDLE = "idle:"  # an owner resting between idle ticks: a new chain may take the duty over


def claim(name: str, owner: str, hold: dt.timedelta, *, wake: bool = False) -> bool:
    """Take (or keep) duty `name` for `hold`; False while another owner holds it. With `wake`,
    an owner that rests (`rest`) loses the duty to this one (work came in: look now, not at
    the resting owner's next turn); that owner's next claim then fails and its chain ends."""
    _row(name)
    now = utcnow()
    free = [WorkerBeat.until.is_(None), WorkerBeat.until < now, WorkerBeat.owner == owner,
            WorkerBeat.owner == IDLE + owner]
    if wake:
        free.append(WorkerBeat.owner.startswith(IDLE))
    result = db.session.execute(
        update(WorkerBeat).where(WorkerBeat.name == name, or_(*free))
        .values(owner=owner, until=now + hold).execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount == 1


def rest(name: str, owner: str, hold: dt.timedelta) -> None:
    """The owner keeps duty `name` for `hold` with nothing to do: a waking claim may take it."""
    db.session.execute(
        update(WorkerBeat).where(WorkerBeat.name == name, WorkerBeat.owner == owner)
        .values(owner=IDLE + owner, until=utcnow() + hold)
        .execution_options(synchronize_session=False))
    db.session.commit()


def beat(name: str, **info) -> None:
    """Record that duty `name` ran now (with a few figures for the System page)."""
    _row(name)
    db.session.execute(update(WorkerBeat).where(WorkerBeat.name == name)
                       .values(beat_at=utcnow(), info=info or None)
                       .execution_options(synchronize_session=False))
    db.session.commit()


def last(name: str) -> WorkerBeat | None:
    return db.session.get(WorkerBeat, name)


def seconds_since(name: str) -> float | None:
    """Seconds since duty `name` last ran; None if it never did."""
    row = last(name)
    when = aware(row.beat_at) if row is not None else None
    return None if when is None else max(0.0, (utcnow() - when).total_seconds())


def worker_problem(stale_seconds: int) -> str | None:
    """Why the reconciler tier looks absent (for /readyz, `doctor`, the System page), or None."""
    since = seconds_since("tick")
    fix = "start one: `flask --app wsgi portal worker` (compose: the `worker` service)"
    if since is None:
        return f"no worker has run yet: {fix}"
    if since > stale_seconds:
        return f"no worker has run for {since:.0f} s: {fix}"
    return None
