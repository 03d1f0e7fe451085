"""The workspace vocabularies (portal/stages.py) and the state rules on WorkspaceState."""
import datetime as dt
import json

import pytest

from portal.clients.coder_status import CoderStage
from portal.models import READY_TRUST, WorkspaceState, utcnow
from portal.stages import DesiredState, LiveState, Stage, live_of, stage_of


@pytest.mark.parametrize("coder, stage, live", [
    (CoderStage.not_created, Stage.workspace, LiveState.not_created),
    (CoderStage.pending, Stage.building, LiveState.starting),
    (CoderStage.building, Stage.building, LiveState.starting),
    (CoderStage.starting_agent, Stage.starting, LiveState.starting),
    (CoderStage.ready, Stage.ready, LiveState.running),
    (CoderStage.stopping, Stage.building, LiveState.stopping),
    (CoderStage.stopped, Stage.building, LiveState.stopped),
    (CoderStage.failed, Stage.building, LiveState.failed),
    (CoderStage.deleting, Stage.workspace, LiveState.deleting),
    (CoderStage.deleted, Stage.workspace, LiveState.missing),
])
def test_one_map_from_coder_stages(coder, stage, live):
    assert (stage_of(coder), live_of(coder)) == (stage, live)


@pytest.mark.parametrize("stage, label", [
    (Stage.ready, "running"), (Stage.failed, "failed"), (Stage.stopped, "stopped"),
    (Stage.building, "starting"), (Stage.repository, "starting"), (Stage.waiting, "starting"),
])
def test_dashboard_label_of_a_stage(stage, label):
    assert stage.label == label


def test_members_are_their_strings_in_text_and_json():
    assert Stage.ready == "ready" and f"{Stage.ready}" == "ready"
    assert str(DesiredState.running) == "running"
    assert json.dumps({"stage": Stage.building}) == '{"stage": "building"}'


@pytest.mark.parametrize("owner, until, expected", [
    (None, None, False),
    ("w1", dt.timedelta(seconds=30), True),
    ("w1", dt.timedelta(seconds=-1), False),
])
def test_leased_elsewhere(owner, until, expected):
    now = utcnow()
    state = WorkspaceState(lease_owner=owner, lease_until=now + until if until else None)
    assert state.leased_elsewhere(now) is expected


@pytest.mark.parametrize("stage, app_url, age, fresh", [
    (Stage.ready, "http://app/", dt.timedelta(seconds=1), True),
    (Stage.ready, "http://app/", READY_TRUST + dt.timedelta(seconds=1), False),
    (Stage.ready, None, dt.timedelta(seconds=1), False),
    (Stage.starting, "http://app/", dt.timedelta(seconds=1), False),
])
def test_ready_is_fresh(stage, app_url, age, fresh):
    now = utcnow()
    state = WorkspaceState(stage=stage, app_url=app_url, observed_at=now - age)
    assert state.ready_is_fresh(now) is fresh


def test_set_stage_restarts_the_clock_only_on_a_change():
    started = utcnow() - dt.timedelta(minutes=5)
    state = WorkspaceState(stage=Stage.building, stage_started_at=started, status_message="seen")
    state.set_stage(Stage.building, "trouble")
    assert (state.stage_started_at, state.status_message, state.last_error) == (
        started, "seen", "trouble")
    later = started + dt.timedelta(minutes=5)
    assert state.stage_older_than(299, later) and not state.stage_older_than(300, later)
    state.set_stage(Stage.ready)
    assert state.stage == Stage.ready and state.stage_started_at > started
    assert state.status_message is None and state.last_error is None
