"""The dashboard: the person's groups and projects with their workspace states."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import update

from .. import tokens
from ..clients.coder import readiness
from ..clients.http import ServiceError
from ..extensions import db
from ..models import Group, Membership, WorkspaceState, utcnow
from ..services import services

bp = Blueprint("dashboard", __name__)
LABELS = {"ready": "running", "pending": "starting", "building": "starting",
          "starting_agent": "starting", "stopping": "stopping", "stopped": "stopped",
          "failed": "failed", "deleting": "not created", "deleted": "not created"}


def workspace_states(user) -> dict[int, str]:
    """project id -> state label, from ONE Coder call with the person's own token."""
    token = tokens.stored(services(), user, tokens.CODER_TOKEN)
    if token is None:
        return {}
    try:
        workspaces = services().coder.as_user(token).list_workspaces("me")
    except ServiceError:
        return {"*": "status unavailable"}
    states, ready_ids = {}, []
    for ws in workspaces:
        name = ws.get("name", "")
        if name.startswith("proj-") and name[5:].isdigit():
            stage = readiness(ws).stage
            states[int(name[5:])] = LABELS.get(stage, "starting")
            if stage == "ready" and isinstance(ws.get("id"), str):
                ready_ids.append(ws["id"])
    if ready_ids:  # what we just saw lets an "Open Code" from here skip its status read
        db.session.execute(update(WorkspaceState).where(
            WorkspaceState.user_id == user.id, WorkspaceState.stage == "ready",
            WorkspaceState.coder_workspace_id.in_(ready_ids)).values(observed_at=utcnow())
            .execution_options(synchronize_session=False))
        db.session.commit()
    return states


@bp.get("/")
@login_required
def index():
    memberships = db.session.scalars(
        db.select(Membership).join(Group).where(Membership.user_id == current_user.id)
        .order_by(Group.name)).all()
    states = workspace_states(current_user) if any(m.group.projects for m in memberships) else {}
    unavailable = states.get("*")
    return render_template("dashboard/index.html", memberships=memberships,
                           states={k: v for k, v in states.items() if k != "*"},
                           unavailable=unavailable)
