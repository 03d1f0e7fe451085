"""Admission control: a host that never overfills, a FIFO line kept in the database.

The module alone (portal/workspaces/admission.py) against a host simulated in the test, then
today's reconcile passes against the simulated Coder (occupancy counted in the simulator).
"""
from __future__ import annotations

import pytest

from portal.workspaces import provisioning, workspace_actions
from portal.clients.coder_types import CoderWorkspace, workspace_from
from portal.extensions import db
from portal.models import AdmissionEntry, AuditEvent, Project, Role, User
from portal.services import current_services
from portal.workspaces import admission, occupancy
from tests.provisioning_helpers import seed

OCCUPYING = occupancy.OCCUPYING


def _host(running: dict[str, str]) -> occupancy.Occupancy:
    """Workspace id -> owner, as Coder's JSON, through the same parser as the live read."""
    return occupancy.from_workspaces([_running(ws, owner, ws) for ws, owner in running.items()])


def _running(ws_id: str, owner: str, name: str, **extra) -> CoderWorkspace:
    """A running workspace as Coder's JSON, parsed as the client parses a reply."""
    return workspace_from({"id": ws_id, "owner_name": owner, "name": name, **extra,
                           "latest_build": {"id": f"b-{ws_id}", "transition": "start",
                                            "status": "running", "job": {"status": "succeeded"}}},
                          "GET", "/workspaces")


def _people(n: int) -> list[tuple[User, Project]]:
    return [seed(email=f"p{i:02d}@example.com", project=f"proj{i:02d}") for i in range(n)]


def test_thirty_people_limit_ten_fifo_no_overfill_restart_keeps_places(make_app):
    app = make_app(PORTAL_MAX_RUNNING_WORKSPACES="10")
    running: dict[str, str] = {}
    served: list[int] = []
    with app.app_context():
        people = [(u.id, p.id) for u, p in _people(30)]
    ids = {uid: i for i, (uid, _) in enumerate(people)}
    last_ahead: dict[int, int] = {}

    def serve(uid: int, pid: int) -> None:
        user, project = db.session.get(User, uid), db.session.get(Project, pid)
        running[f"ws-{uid}"] = user.username
        admission.started(user, project, f"ws-{uid}")
        db.session.commit()
        served.append(ids[uid])

    with app.app_context():
        settings = current_services().settings
        for uid, pid in people:  # everyone opens at once, in this order
            decision = admission.request(settings, db.session.get(User, uid),
                                         db.session.get(Project, pid), _host(running))
            assert len(running) <= 10
            if decision.admitted:
                serve(uid, pid)
            else:
                last_ahead[uid] = decision.ahead
        assert served == list(range(10))
        assert [last_ahead[people[i][0]] for i in range(10, 30)] == list(range(20))

    tick = 0
    while len(served) < 30:
        tick += 1
        if tick == 5:  # the worker restarts mid-line: a new app on the same database
            app = make_app(PORTAL_MAX_RUNNING_WORKSPACES="10", upgrade=False)
        with app.app_context():
            running.pop(next(iter(running)))  # the longest-running person stops
            for uid, pid in admission.admit_waiting(current_services().settings, _host(running)):
                serve(uid, pid)
            assert len(running) <= 10, f"tick {tick}: {len(running)} running"
            for uid, _ in people[len(served):]:
                place = admission.position(db.session.get(User, uid),
                                           db.session.get(Project, people[ids[uid]][1]))
                assert place is not None and place - 1 < last_ahead[uid], "positions decrease"
                last_ahead[uid] = place - 1
        assert tick < 100
    assert served == list(range(30)), "served in the order they asked, no one skipped"


def test_personal_limit_skips_only_that_person_and_offers_the_least_recent(make_app):
    app = make_app(PORTAL_MAX_RUNNING_PER_PERSON="1", PORTAL_MAX_RUNNING_WORKSPACES="5")
    with app.app_context():
        settings = current_services().settings
        ada, first = seed()
        _, second = seed(project="second")
        bob, bobs = seed(email="bob@example.com", project="bobs")
        host = occupancy.from_workspaces([
            _running("old", "ada", first.workspace_name, last_used_at="2026-01-01T00:00:00Z")])
        decision = admission.request(settings, ada, second, host)
        assert not decision.admitted and decision.over_personal
        assert decision.least_recent is not None and decision.least_recent.workspace_id == "old"
        assert admission.request(settings, bob, bobs, host).admitted  # bob is not held back
        assert admission.position(ada, second) == 1  # ada keeps her place
        assert admission.admit_waiting(settings, occupancy.from_workspaces([])) == [
            (ada.id, second.id)]


@pytest.mark.parametrize("waiting, running, expected", [(0, 2, True), (1, 2, False), (0, 3, False)])
def test_prewarm_never_passes_a_waiting_person(make_app, waiting, running, expected):
    app = make_app(PORTAL_MAX_RUNNING_WORKSPACES="3")
    with app.app_context():
        settings = current_services().settings
        host = _host({f"w{i}": f"x{i}" for i in range(running)})
        for user, project in _people(waiting):
            db.session.add(AdmissionEntry(user_id=user.id, project_id=project.id))
        db.session.commit()
        assert admission.may_prewarm(settings, host) is expected


def test_limits_are_seeded_from_settings_then_kept_in_the_database(make_app):
    app = make_app(PORTAL_MAX_RUNNING_WORKSPACES="7", PORTAL_MAX_RUNNING_PER_PERSON="3")
    with app.app_context():
        settings = current_services().settings
        assert admission.limits(settings) == admission.Limits(7, 3)
        admission.set_limits(settings, 12, None)
        db.session.commit()
        assert admission.limits(settings) == admission.Limits(12, None)
        with pytest.raises(ValueError):
            admission.set_limits(settings, 0, 2)


def _occupying(sim) -> int:
    with sim.store.lock:
        return sum(1 for ws in sim.store.workspaces.values()
                   if ws.latest.transition == "start" and ws.latest.status(_now()) in OCCUPYING)


def _now():
    from portal.devstack.coder_state import now
    return now()


@pytest.mark.parametrize("limit, people", [(10, 30)])
def test_passes_against_the_simulated_coder_never_overfill(stack, make_stack_app, limit, people):
    app = make_stack_app(PORTAL_MAX_RUNNING_WORKSPACES=str(limit))
    with app.app_context():
        group = [(u.id, p.id) for u, p in _people(people)]
    order = {uid: i for i, (uid, _) in enumerate(group)}
    done: set[int] = set()
    ahead: dict[int, list[int]] = {}
    ticks, restarted = 0, False
    while len(done) < people:
        ticks += 1
        assert ticks < 600, f"served {len(done)} of {people}"
        if len(done) >= people // 2 and not restarted:  # a restart mid-line
            app, restarted = make_stack_app(PORTAL_MAX_RUNNING_WORKSPACES=str(limit)), True
        with app.app_context():
            for uid, pid in group:
                if uid in done:
                    continue
                user, project = db.session.get(User, uid), db.session.get(Project, pid)
                status = provisioning.reconcile(current_services(), user, project, Role.lead)
                assert not status.failed, status
                assert _occupying(stack.coder.sim) <= limit
                if status.stage == "waiting":
                    n = 0 if status.message == "you are next" else int(status.message.split()[0])
                    ahead.setdefault(uid, []).append(n)
                if status.ready:  # used, then stopped: the next one in line gets the place
                    workspace_actions.set_running(current_services(), user, project, running=False)
                    done.add(uid)
    with app.app_context():
        creates = db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.action == "workspace.create").order_by(AuditEvent.id)).all()
        users = {u.email: u.id for u in db.session.scalars(db.select(User))}
        created = [order[users[e.actor_label]] for e in creates]
    assert created == list(range(people)), "served in the order they asked, no one skipped"
    assert len(ahead) >= people - limit
    for seq in ahead.values():
        assert seq == sorted(seq, reverse=True), f"positions only decrease: {seq}"
