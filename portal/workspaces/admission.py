"""Admission control: never more workspaces running than the host holds; a fair line for the rest.

Works only on the database and on a passed-in Occupancy (Coder's live state, read by the
caller: portal/workspaces/occupancy.py), so it is testable alone and any worker may call it.

- Limits: PORTAL_MAX_RUNNING_WORKSPACES (None: no limit) and PORTAL_MAX_RUNNING_PER_PERSON,
  seeded into the capacity_limits row at first use; an admin changes them there.
- The line: AdmissionEntry rows, FIFO by id, one per (person, project), in the database (a
  restart loses no place). `request()` takes a place (or keeps the one it has) and says
  whether the pass may start now; `admit_waiting()` gives the free places to the first in
  line and returns them (the worker enqueues their passes). An admitted entry holds its
  place until its start is sent (`started()`), and for any occupancy read before that
  start, so a read taken before another pass's start never lets two passes take one place.
- Decisions are serialised by a row lock (an UPDATE of the limits row first): two passes
  never give away the same free place.
- Pre-warming (`may_prewarm`) takes a place only when nobody waits, so it never pushes a
  person's open back; its build then counts like any other (it is in Coder's live list).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import AdmissionEntry, CapacityLimits, Project, User, utcnow
from portal.people.tokens import aware
from portal.workspaces.occupancy import Occupancy, Occupant

HOLD = dt.timedelta(seconds=90)  # an admitted place not used (or not yet seen in Coder) this long ends


@dataclass(frozen=True)
class Limits:
    max_running: int | None
    max_per_person: int | None

    @property
    def unlimited(self) -> bool:
        return self.max_running is None and self.max_per_person is None


@dataclass(frozen=True)
class Decision:
    admitted: bool
    ahead: int = 0                      # people before this one in line
    over_personal: bool = False         # the person already runs their limit
    least_recent: Occupant | None = None  # what they could stop to get a place
    prewarm: bool = False               # a pre-warm declined (it holds no place in line)


def _row(settings) -> CapacityLimits:
    row = db.session.get(CapacityLimits, 1)
    if row is None:
        db.session.add(CapacityLimits(id=1, max_running=settings.max_running,
                                      max_per_person=settings.max_per_person))
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
        row = db.session.get(CapacityLimits, 1)
    return row


def limits(settings) -> Limits:
    row = _row(settings)
    return Limits(row.max_running, row.max_per_person)


def set_limits(settings, max_running: int | None, max_per_person: int | None) -> Limits:
    """An admin's change (the caller audits and commits)."""
    for value in (max_running, max_per_person):
        if value is not None and not 1 <= value <= 10_000:
            raise ValueError("A limit is a whole number from 1 to 10000, or empty for none.")
    row = _row(settings)
    row.max_running, row.max_per_person = max_running, max_per_person
    return Limits(max_running, max_per_person)


def _lock(settings) -> None:
    """Serialise admission decisions: the first statement of the transaction takes the
    limits row's write lock (PostgreSQL row lock; SQLite's database write lock)."""
    _row(settings)
    db.session.execute(update(CapacityLimits).where(CapacityLimits.id == 1)
                       .values(updated_at=utcnow()).execution_options(synchronize_session=False))


def _entry(user_id: int, project_id: int) -> AdmissionEntry | None:
    return db.session.scalar(db.select(AdmissionEntry).where(
        AdmissionEntry.user_id == user_id, AdmissionEntry.project_id == project_id))


def line() -> list[AdmissionEntry]:
    """Everyone waiting, first first (for the admin page and positions)."""
    return list(db.session.scalars(db.select(AdmissionEntry).where(
        AdmissionEntry.admitted_at.is_(None)).order_by(AdmissionEntry.id)))


def position(user: User, project: Project) -> int | None:
    """1-based place in line; None when not waiting."""
    entry = _entry(user.id, project.id)
    if entry is None or entry.admitted_at is not None:
        return None
    return 1 + db.session.scalar(db.select(db.func.count(AdmissionEntry.id)).where(
        AdmissionEntry.admitted_at.is_(None), AdmissionEntry.id < entry.id))


def _held(occupancy: Occupancy, now: dt.datetime) -> list[AdmissionEntry]:
    """Admitted places still held: not started yet, or started after this occupancy was
    read (so it cannot show them). Entries older than HOLD are dropped."""
    held = []
    for entry in db.session.scalars(db.select(AdmissionEntry).where(
            AdmissionEntry.admitted_at.is_not(None))):
        since = aware(entry.started_at or entry.admitted_at)
        if since is not None and now - since > HOLD:
            db.session.delete(entry)
        elif entry.started_at is None or occupancy.read_at <= aware(entry.started_at):
            held.append(entry)
    return held


def _admit(settings, occupancy: Occupancy, lim: Limits,
           only: AdmissionEntry | None = None) -> list[AdmissionEntry]:
    """Give the free places in line order; with `only`, mark that entry alone (a pass asks
    for itself: the others are admitted by admit_waiting, which enqueues their passes)."""
    now = utcnow()
    held = _held(occupancy, now)
    free = (None if lim.max_running is None
            else lim.max_running - occupancy.total - len(held))
    usernames = dict(db.session.execute(db.select(User.id, User.username)).all())
    per_person = occupancy.per_owner()
    for entry in held:
        per_person[usernames.get(entry.user_id, "").lower()] += 1
    admitted = []
    for entry in line():
        if free is not None and free <= 0:
            break
        name = usernames.get(entry.user_id, "").lower()
        if lim.max_per_person is not None and per_person[name] >= lim.max_per_person:
            continue  # their own limit: they keep their place, the next one goes
        if only is None or entry.id == only.id:
            entry.admitted_at = now
            admitted.append(entry)
        per_person[name] += 1
        if free is not None:
            free -= 1
    return admitted


def admit_waiting(settings, occupancy: Occupancy) -> list[tuple[int, int]]:
    """Give free places to the first in line; (user id, project id) of those admitted now.

    The worker calls this after its batched observation and enqueues their passes."""
    lim = limits(settings)
    _lock(settings)
    admitted = [(e.user_id, e.project_id) for e in _admit(settings, occupancy, lim)]
    db.session.commit()
    return admitted


def request(settings, user: User, project: Project, occupancy: Occupancy,
            size_name: str | None = None) -> Decision:
    """A pass wants to start or create (user, project)'s workspace: may it now?"""
    lim = limits(settings)
    if lim.unlimited:
        return Decision(True)
    _lock(settings)
    entry = _entry(user.id, project.id)
    if entry is not None and entry.started_at is not None:
        db.session.delete(entry)  # an earlier start's place: this is a new request
        db.session.flush()
        entry = None
    if entry is None:
        entry = AdmissionEntry(user_id=user.id, project_id=project.id, size_name=size_name,
                               requested_at=utcnow())
        db.session.add(entry)
        db.session.flush()
    if entry.admitted_at is None:
        _admit(settings, occupancy, lim, only=entry)
    if entry.admitted_at is not None:
        db.session.commit()
        return Decision(True)
    mine = occupancy.of_owner(user.username)
    over = lim.max_per_person is not None and len(mine) >= lim.max_per_person
    ahead = db.session.scalar(db.select(db.func.count(AdmissionEntry.id)).where(
        AdmissionEntry.admitted_at.is_(None), AdmissionEntry.id < entry.id))
    db.session.commit()
    return Decision(False, ahead=ahead, over_personal=over,
                    least_recent=occupancy.least_recently_used(user.username) if over else None)


def started(user: User, project: Project, workspace_id: str) -> None:
    """The pass sent the start: hold the place until Coder's list shows the workspace."""
    entry = _entry(user.id, project.id)
    if entry is not None:
        entry.started_at, entry.coder_workspace_id = utcnow(), workspace_id


def leave(user: User, project: Project) -> None:
    """The person no longer wants the workspace running: give the place up."""
    entry = _entry(user.id, project.id)
    if entry is not None:
        db.session.delete(entry)


def may_prewarm(settings, occupancy: Occupancy) -> bool:
    """A pre-warm build may start only with a free place and nobody waiting."""
    lim = limits(settings)
    if lim.max_running is None:
        return True
    now = utcnow()
    held = _held(occupancy, now)
    waiting = len(line())
    db.session.commit()
    return waiting == 0 and occupancy.total + len(held) < lim.max_running
