"""How often the tier looks and the page asks: the status partial's back-off, the tick woken by
new work, and a pass's one small occupancy read when only the per-person limit applies."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from portal.extensions import db
from portal.models import WorkerBeat
from portal.services import current_services
from portal.stages import Stage
from portal.web.views.code import poll_seconds
from portal.workspaces import beats, gate, occupancy, provisioning
from portal.workspaces.status import Status
from tests.test_admission import _running
from tests.provisioning_helpers import seed

HOLD = dt.timedelta(seconds=7)


@pytest.mark.parametrize("stage, waited, pending, transient, expected", [
    (Stage.repository, 0.0, False, False, 0.5),    # a stage just entered: its first delay
    (Stage.repository, 3.9, False, False, 0.5),    # ... for its first 4 s
    (Stage.repository, 7.5, False, False, 1.5),    # then a fifth of the time spent in it
    (Stage.repository, 600.0, False, False, 2.0),  # up to its ceiling
    (Stage.building, 1.0, False, False, 0.25),     # a short build is seen at once
    (Stage.building, 6.0, False, False, 1.25),
    (Stage.building, 300.0, False, False, 2.0),    # a long build: every 2 s
    (Stage.starting, 0.5, False, False, 0.25),     # the IDE is shown soon after it is ready
    (Stage.starting, 60.0, False, False, 1.0),
    (Stage.waiting, 600.0, False, False, 5.0),     # a long line: every 5 s
    (Stage.starting, 0.0, True, False, 1.0),       # queued: at least 1 s
    (Stage.building, 0.0, False, True, 3.0),       # a service is down: 3 s
])
def test_the_partial_backs_off_with_the_time_spent_in_a_stage(stage, waited, pending,
                                                              transient, expected):
    status = Status(stage, "…", pending=pending, transient=transient)
    assert poll_seconds(status, waited) == expected


def test_a_new_chain_takes_over_a_resting_tick_and_the_resting_one_ends(app):
    with app.app_context():
        assert beats.claim("tick", "old", HOLD)
        assert not beats.claim("tick", "new", HOLD, wake=True)  # busy: nobody takes over
        beats.rest("tick", "old", HOLD)                          # idle between looks
        assert not beats.claim("tick", "other", HOLD)            # only a waking claim may
        assert beats.claim("tick", "old", HOLD)                  # the owner itself goes on
        beats.rest("tick", "old", HOLD)
        assert beats.claim("tick", "new", HOLD, wake=True)       # new work wakes the tier
        assert db.session.get(WorkerBeat, "tick").owner == "new"
        assert not beats.claim("tick", "old", HOLD)              # the old chain's next turn ends it


class RecordingCoder:
    """Coder's workspace searches, recorded (the admin token sees every workspace)."""

    def __init__(self, mine):
        self.queries, self.mine = [], mine

    def list_workspaces(self, owner):
        self.queries.append(f"owner:{owner}")
        return self.mine

    def search_workspaces(self, q):
        self.queries.append(q)
        return []


def test_only_a_per_person_limit_reads_the_persons_own_workspaces(make_app):
    app = make_app(PORTAL_MAX_RUNNING_PER_PERSON="1")
    with app.app_context():
        user, project = seed()
        state = provisioning.workspace_state(user, project)
        coder = RecordingCoder([_running("ws-1", user.username, "other")])
        svc = dataclasses.replace(current_services(), coder=coder)
        decision = gate.ask(svc, user, project, state)
        assert coder.queries == [f"owner:{user.username}"]  # one call, not the host's three
        assert not decision.admitted and decision.over_personal  # their one place is taken


def test_a_host_wide_limit_reads_the_whole_host(make_app):
    app = make_app(PORTAL_MAX_RUNNING_WORKSPACES="5")
    with app.app_context():
        user, project = seed()
        state = provisioning.workspace_state(user, project)
        coder = RecordingCoder([])
        svc = dataclasses.replace(current_services(), coder=coder)
        assert gate.ask(svc, user, project, state).admitted
        assert coder.queries == [f"status:{s}" for s in occupancy.OCCUPYING]
