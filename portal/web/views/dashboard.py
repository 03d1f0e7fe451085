"""The dashboard: the person's groups and projects with their workspace states.

The states are the rows the provisioning worker writes (portal/workspaces): the same source as
the Overview and the Code tab, and no outbound call in the request.
"""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from portal.extensions import db
from portal.models import Group, Membership, WorkspaceState
from portal.stages import Stage

bp = Blueprint("dashboard", __name__)


def workspace_states(user) -> dict[int, str]:
    """project id -> state label, from the person's rows (one query)."""
    rows = db.session.execute(db.select(WorkspaceState.project_id, WorkspaceState.stage,
                                        WorkspaceState.prepared)
                              .where(WorkspaceState.user_id == user.id)).all()
    return {pid: ("prepared" if prepared and stage == Stage.stopped else stage.label)
            for pid, stage, prepared in rows}


@bp.get("/")
@login_required
def index():
    memberships = db.session.scalars(
        db.select(Membership).join(Group).where(Membership.user_id == current_user.id)
        .order_by(Group.name)).all()
    states = workspace_states(current_user) if any(m.group.projects for m in memberships) else {}
    return render_template("dashboard/index.html", memberships=memberships, states=states,
                           unavailable=None)
