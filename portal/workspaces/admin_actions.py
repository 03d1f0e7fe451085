"""What an admin asks of one workspace, done by the worker with the admin Coder token (the
owner's is not needed): Start, Stop or Delete from the Workspaces page, Stop of an idle one from
the Capacity page (it may have no portal row: started outside the portal). The web tier only
records and enqueues (portal/web/views/admin_workspaces.py, admin_capacity.py); the outcome is
audited, so the admin reads it in the audit log."""
from __future__ import annotations

import logging

from portal import audit
from portal.clients.http import NotFound, ServiceError
from portal.extensions import db
from portal.models import User, WorkspaceState
from portal.services import current_services
from portal.stages import DesiredState

log = logging.getLogger(__name__)
ACTIONS = ("start", "stop", "delete")


def run_workspace_action(state_id: int, action: str, actor_id: int) -> str | None:
    """Start, stop or delete the workspace of this portal row; the audited outcome, or None
    when there is nothing to act on any more (the row is gone or was never built)."""
    state, actor = db.session.get(WorkspaceState, state_id), db.session.get(User, actor_id)
    if action not in ACTIONS or state is None or not state.coder_workspace_id:
        return None
    name = state.coder_workspace_name or state.project.workspace_name
    owner = state.user.username
    coder = current_services().coder
    try:
        {"start": coder.start_workspace, "stop": coder.stop_workspace,
         "delete": coder.delete_workspace}[action](state.coder_workspace_id)
    except NotFound:
        if action != "delete":  # Coder no longer has it: nothing to start or stop
            return _failed(actor, action, name, "Coder no longer knows this workspace.",
                           owner=owner, via="admin")
    except ServiceError as exc:
        return _failed(actor, action, name, exc.user_message, owner=owner, via="admin")
    audit.record(actor, f"workspace.{action}", name, owner=owner, via="admin")
    if action == "delete":
        db.session.delete(state)  # opening the Code tab again creates a fresh one
    else:
        state.desired_state = DesiredState.running if action == "start" else DesiredState.stopped
    db.session.commit()
    return f"workspace.{action}"


def _failed(actor: User | None, action: str, target: str, reason: str, **details) -> str:
    """Coder refused or could not be reached: nothing changed here; the failure is audited."""
    db.session.rollback()
    log.warning("admin %s of %s: %s", action, target, reason)
    audit.record(actor, f"workspace.{action}_failed", target, reason=reason, **details)
    db.session.commit()
    return f"workspace.{action}_failed"


def run_stop_idle(workspace_id: str, actor_id: int) -> str:
    """An admin stops an idle workspace from the Capacity page, by Coder's id."""
    actor = db.session.get(User, actor_id)
    try:
        current_services().coder.stop_workspace(workspace_id)
    except ServiceError as exc:
        return _failed(actor, "stop", workspace_id, exc.user_message, via="admin_capacity")
    audit.record(actor, "workspace.stop", workspace_id, via="admin_capacity", idle=True)
    db.session.commit()
    return "workspace.stop"
