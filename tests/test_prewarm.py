"""Pre-warmed workspaces (PORTAL_PREWARM): built when a project is created (and, under
`members`, when someone joins), then stopped; shown as "prepared"; never for a deactivated
person; a first open is a start, not a first build."""
from __future__ import annotations

import time

import pytest

from portal.extensions import db
from portal.models import User, WorkspaceState
from tests.collab_helpers import make_group, person, post
from tests.test_code_tab import create_project, open_code


def wait_rows(app, want, timeout: float = 30.0) -> list[WorkspaceState]:
    deadline = time.monotonic() + timeout
    while True:
        with app.app_context():
            found = db.session.scalars(db.select(WorkspaceState)).all()
        if want(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def prepared(rows) -> bool:
    return bool(rows) and all(r.stage == "stopped" and r.prepared for r in rows)


@pytest.fixture
def prewarm_stack(make_stack_app, start_worker, coder_sim, gitea_sim):
    def make(mode: str):
        app = make_stack_app(PORTAL_PREWARM=mode)
        start_worker(app)
        return app
    return make


def test_creating_a_project_prepares_the_creators_workspace(prewarm_stack, coder_sim):
    app = prewarm_stack("creator")
    lead = person(app, "lead@example.com")
    _, pid = create_project(lead)
    rows = wait_rows(app, prepared)
    assert prepared(rows) and len(rows) == 1, [(r.stage, r.prepared) for r in rows]
    assert coder_sim.sim.state()["workspaces"] == [f"lead/proj-{pid}"]
    assert "prepared" in lead.get(f"/projects/{pid}").get_data(as_text=True)
    builds = coder_sim.sim.count("/builds", "POST")
    assert builds == 1  # the stop once built; never left running
    body, stages = open_code(lead, pid)  # the first open: a start
    assert stages[-1] == "ready" and "workspace" not in stages
    assert coder_sim.sim.state()["workspaces"] == [f"lead/proj-{pid}"]  # not created twice
    assert coder_sim.sim.count("/builds", "POST") == 2  # the stop, then this start


def test_members_mode_prepares_a_joiner_but_never_a_deactivated_person(prewarm_stack):
    app = prewarm_stack("members")
    lead = person(app, "lead@example.com")
    person(app, "bob@example.com")
    person(app, "gone@example.com")
    slug = make_group(lead)
    assert post(lead, f"/groups/{slug}/members", who="gone@example.com", role="reader").status_code in (200, 303)
    with app.app_context():
        gone = db.session.scalar(db.select(User).where(User.email == "gone@example.com"))
        gone.active = False  # deactivated, still listed as a member
        db.session.commit()
        gone_id = gone.id
    resp = post(lead, f"/groups/{slug}/projects/new", name="Warm")
    assert resp.status_code == 303
    pid = int(resp.location.rsplit("/", 1)[-1])
    assert post(lead, f"/groups/{slug}/members", who="bob@example.com", role="contributor").status_code in (200, 303)
    rows = wait_rows(app, lambda r: len(r) == 2 and prepared(r))
    assert len(rows) == 2 and prepared(rows), [(r.user_id, r.stage) for r in rows]
    assert gone_id not in {r.user_id for r in rows} and {r.project_id for r in rows} == {pid}


def test_off_prepares_nothing(prewarm_stack, coder_sim):
    app = prewarm_stack("off")
    lead = person(app, "lead@example.com")
    create_project(lead)
    time.sleep(1.0)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(WorkspaceState.id))) == 0
    assert coder_sim.sim.state()["workspaces"] == []
