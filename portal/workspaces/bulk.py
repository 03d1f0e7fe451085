"""Stop or delete a set of workspaces at once, audit each, summarise: what removing a member,
offboarding a person and deleting a project do to the workspaces concerned."""
from __future__ import annotations

from portal import audit
from portal.clients.coder import CoderStage, CoderWorkspace, readiness
from portal.clients.http import NotFound, ServiceError
from portal.extensions import db
from portal.models import User, WorkspaceState
from portal.services import Services
from portal.stages import DesiredState, Stage
from portal.steps import FAILED, OK, SKIPPED, StepResult

# What Coder may already be doing or have done, so that nothing is asked of it.
SETTLED = {False: (CoderStage.stopped, CoderStage.stopping, CoderStage.deleting,
                   CoderStage.deleted),
           True: (CoderStage.deleting, CoderStage.deleted)}


def stop_or_delete_all(services: Services, actor: User | None, states: list[WorkspaceState], *,
                       delete: bool, reason: str) -> StepResult:
    """Stop (or delete) these workspaces with the admin token; every one is wanted stopped.

    One batched read finds what Coder still has: a workspace it no longer has, or already has
    stopping (deleting), counts as done without a call. Each call is audited with `reason`.
    A done workspace's row is deleted (delete) or marked stopped; a failure is audited, keeps
    its row (a retry knows the workspace id) and makes the result FAILED. Commits.
    """
    ids = [s.coder_workspace_id for s in states if s.coder_workspace_id]
    live, unread = _read(services, ids)
    done, problems = 0, []
    for state in states:
        state.desired_state = DesiredState.stopped
        if state.coder_workspace_id:
            problem = unread or _settle(services, actor, state, live.get(state.coder_workspace_id),
                                        delete, reason)
            if problem is not None:
                name, owner = workspace_name(state), state.user.username
                audit.record(actor, "workspace.stop_failed", name, owner=owner, reason=problem)
                problems.append(f"{name} of {owner}: {problem}")
                continue
            done += 1
        if delete:
            db.session.delete(state)
        else:
            state.set_stage(Stage.stopped)
    db.session.commit()
    return _summary(bool(ids), done, problems, delete)


def _summary(any_in_coder: bool, done: int, problems: list[str], delete: bool) -> StepResult:
    verb = "deleted" if delete else "stopped"
    if not any_in_coder:
        return StepResult(SKIPPED, f"No workspace left to {'delete' if delete else 'stop'}.")
    if problems:
        return StepResult(FAILED, f"{done} {verb}, {len(problems)} failed: " + "; ".join(problems))
    return StepResult(OK, f"{done} workspace{'s' if done != 1 else ''} {verb}.")


def _read(services: Services, ids: list[str]) -> tuple[dict[str, CoderWorkspace], str | None]:
    """Coder's workspaces by id (one batched read), or why they could not be read."""
    if not ids:
        return {}, None
    try:
        return {ws.id: ws for ws in services.coder.workspaces_by_id(ids)}, None
    except ServiceError as exc:
        return {}, exc.user_message


def workspace_name(state: WorkspaceState) -> str:
    return state.coder_workspace_name or state.project.workspace_name


def _settle(services: Services, actor: User | None, state: WorkspaceState,
            workspace: CoderWorkspace | None,
            delete: bool, reason: str) -> str | None:
    """Stop or delete one workspace unless Coder has it settled; why it failed, or None."""
    if workspace is None or readiness(workspace).stage in SETTLED[delete]:
        return None
    try:
        if delete:
            services.coder.delete_workspace(state.coder_workspace_id)
        else:
            services.coder.stop_workspace(state.coder_workspace_id)
    except NotFound:
        return None
    except ServiceError as exc:
        return exc.user_message
    audit.record(actor, "workspace.delete" if delete else "workspace.stop", workspace_name(state),
                 owner=state.user.username, reason=reason)
    return None
