"""stop_or_delete_all: the one "stop or delete these workspaces, audit, summarise" of member
removal, offboarding and project deletion (portal/workspaces/bulk.py)."""
from __future__ import annotations

import pytest

from portal.workspaces import provisioning
from portal.devstack.coder import StatusOverride
from portal.extensions import db
from portal.models import AuditEvent, WorkspaceState
from portal.services import current_services
from portal.steps import FAILED, OK, SKIPPED
from portal.workspaces.bulk import stop_or_delete_all
from tests.provisioning_helpers import run_until_done, seed


def _ready(stack) -> tuple[WorkspaceState, str]:
    user, project = seed()
    provisioning.want_running(user, project)
    status, _ = run_until_done(user, project)
    assert status.ready
    state = provisioning.workspace_state(user, project)
    return state, state.coder_workspace_id


def _audited(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == action)))


@pytest.mark.parametrize("delete, transition, done", [(False, "stop", "stopped"),
                                                     (True, "delete", "deleted")])
def test_a_running_workspace_is_stopped_or_deleted_audited_and_summarised(stack, delete,
                                                                          transition, done):
    with stack.app.app_context():
        state, ws_id = _ready(stack)
        result = stop_or_delete_all(current_services(), None, [state], delete=delete,
                                    reason="test")
        assert result.status == OK and result.detail == f"1 workspace {done}."
        ws = current_services().coder.get_workspace_by_id(ws_id)
        assert ws is None or ws.latest_build.transition == transition
        [event] = _audited(f"workspace.{transition}")
        assert event.details["reason"] == "test" and event.details["owner"] == "ada"
        row = db.session.scalar(db.select(WorkspaceState))
        if delete:
            assert row is None
        else:
            assert row.stage == "stopped" and row.desired_state == "stopped"


def test_a_workspace_already_stopping_is_not_asked_again(stack):
    with stack.app.app_context():
        state, _ = _ready(stack)
        stop_or_delete_all(current_services(), None, [state], delete=False, reason="first")
        builds = stack.coder.sim.count("/builds", "POST")
        state = db.session.scalar(db.select(WorkspaceState))
        result = stop_or_delete_all(current_services(), None, [state], delete=False,
                                    reason="again")
        assert result.status == OK and stack.coder.sim.count("/builds", "POST") == builds
        assert len(_audited("workspace.stop")) == 1


@pytest.mark.parametrize("override", [
    StatusOverride(503, path="/builds", method="POST"),     # the stop call fails
    StatusOverride(503, path="/workspaces", method="GET"),  # the batched read fails
])
def test_a_failure_is_audited_keeps_the_row_and_fails_the_result(stack, override):
    with stack.app.app_context():
        state, ws_id = _ready(stack)
        stack.coder.sim.set_faults(status_override=override)
        result = stop_or_delete_all(current_services(), None, [state], delete=True,
                                    reason="test")
        stack.coder.sim.reset_faults()
        assert result.status == FAILED and result.detail.startswith("0 deleted, 1 failed: ")
        assert "of ada" in result.detail
        [event] = _audited("workspace.stop_failed")
        assert event.details["owner"] == "ada"
        row = db.session.scalar(db.select(WorkspaceState))
        assert row.coder_workspace_id == ws_id and row.desired_state == "stopped"
        assert current_services().coder.get_workspace_by_id(ws_id) is not None


def test_rows_without_a_workspace_in_coder_are_skipped_and_settled(stack):
    with stack.app.app_context():
        user, project = seed()
        state = provisioning.workspace_state(user, project)
        calls = stack.coder.sim.count()
        result = stop_or_delete_all(current_services(), None, [state], delete=False, reason="t")
        assert result.status == SKIPPED and stack.coder.sim.count() == calls
        assert db.session.scalar(db.select(WorkspaceState)).stage == "stopped"
        assert stop_or_delete_all(current_services(), None, [], delete=True,
                                  reason="t").status == SKIPPED
