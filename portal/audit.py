"""The audit trail: every privileged action, never a secret."""
from __future__ import annotations

from typing import Any

from portal.extensions import db
from portal.models import AuditEvent, User

_SECRET_HINTS = ("token", "secret", "password", "key")


def record(actor: User | None, action: str, target: str = "", **details: Any) -> AuditEvent:
    """Add an audit event to the session (committed with the caller's transaction)."""
    clean = {k: v for k, v in details.items() if not k.lower().endswith(_SECRET_HINTS)}
    event = AuditEvent(actor_id=actor.id if actor else None,
                       actor_label=actor.email if actor else "system",
                       action=action, target=target[:255], details=clean)
    db.session.add(event)
    return event
