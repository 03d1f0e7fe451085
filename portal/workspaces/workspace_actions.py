"""Start or stop a person's workspace at once (tests and operators; the Overview records the
intent instead and the worker acts: portal/workspaces/intent.py)."""
from __future__ import annotations

from portal import audit
from portal.people import tokens
from portal.extensions import db
from portal.models import Project, User
from portal.workspaces.provisioning import workspace_state
from portal.services import Services
from portal.stages import DesiredState, Stage
from portal.workspaces.workspace_spec import workspace_parameters


def set_running(services: Services, user: User, project: Project, running: bool) -> str:
    """Stop or start the person's workspace now; returns a message for the page."""
    state = workspace_state(user, project)
    state.desired_state = DesiredState.running if running else DesiredState.stopped
    db.session.commit()
    if not state.coder_workspace_id:
        return "Your workspace has not been created yet." if not running else "Starting…"
    as_user = services.coder.as_user(tokens.coder_token(services, user))
    if running:
        as_user.start_workspace(state.coder_workspace_id,
                                rich_parameter_values=workspace_parameters(services, user, project))
        state.set_stage(Stage.building)
    else:
        as_user.stop_workspace(state.coder_workspace_id)
        state.set_stage(Stage.stopped)
    audit.record(user, "workspace.start" if running else "workspace.stop", project.workspace_name)
    db.session.commit()
    return "Your workspace is starting." if running else "Your workspace is stopping."
