"""The row lease: one pass at a time acts on a (person, project) row, in any worker.

A conditional UPDATE takes the lease when it is free, expired, or already ours, so two
workers never act on one row at once and a killed worker's lease simply runs out (the
sweep then enqueues the row again). `WorkspaceState.leased_elsewhere` reads it.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, update

from portal.extensions import db
from portal.models import WorkspaceState, utcnow


def acquire(state: WorkspaceState, owner: str, lease: dt.timedelta) -> bool:
    """Take (or extend) the row's lease for `lease`; False while another pass holds it."""
    now = utcnow()
    result = db.session.execute(
        update(WorkspaceState)
        .where(WorkspaceState.id == state.id,
               or_(WorkspaceState.lease_until.is_(None), WorkspaceState.lease_until < now,
                   WorkspaceState.lease_owner == owner))
        .values(lease_owner=owner, lease_until=now + lease)
        .execution_options(synchronize_session=False))
    db.session.commit()
    db.session.refresh(state)
    return result.rowcount == 1


def clear(state: WorkspaceState, owner: str) -> None:
    """Give the lease back in the current transaction (only if it is still ours)."""
    db.session.execute(update(WorkspaceState).where(WorkspaceState.id == state.id,
                                                    WorkspaceState.lease_owner == owner)
                       .values(lease_owner=None, lease_until=None)
                       .execution_options(synchronize_session=False))


def release(state: WorkspaceState, owner: str) -> None:
    """Drop what the pass left uncommitted and give the lease back."""
    db.session.rollback()
    clear(state, owner)
    db.session.commit()
