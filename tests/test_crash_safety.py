"""Crash safety: SIGKILL of gunicorn workers mid-provisioning loses nothing and creates nothing twice.

Production shape: `gunicorn -w 2 wsgi:app` on PostgreSQL, the simulated Coder and Gitea in a
process of their own (`python -m portal.devstack`), a person driving the Code tab over HTTP.
The portal keeps its state in the database (DESIGN §3), so after the master respawns its
workers the next poll carries on; a pass killed while holding its lease blocks the row only
until the lease (PORTAL_RECONCILE_LEASE_SECONDS, 3 s here) expires.
"""
from __future__ import annotations

import threading
import time

import pytest
import requests

from portal.extensions import db
from portal.models import WorkspaceState, utcnow
from portal.tokens import aware
from tests.fixtures.app import base_env, build_app
from tests.process_helpers import HttpPerson, stage_of, start_devstack, start_gunicorn

pytestmark = pytest.mark.postgres
LEASE_SECONDS = 3


@pytest.fixture
def production(tmp_path, pg_url):
    """(devstack, gunicorn, in-process app on the same database for reading rows)."""
    devstack = start_devstack(build_seconds=2.0, agent_seconds=0.3)
    try:
        env = base_env(tmp_path, DATABASE_URL=pg_url, **devstack.env,
                       PORTAL_RECONCILE_LEASE_SECONDS=LEASE_SECONDS,
                       PORTAL_PASS_WAIT="")  # the production default: passes beside the request
        app = build_app(env)  # migrates the fresh database
        server = start_gunicorn(env, tmp_path, workers=2)
        try:
            yield devstack, server, app
        finally:
            server.stop()
            with app.app_context():
                db.engine.dispose()
    finally:
        devstack.stop()


def poll_until(person: HttpPerson, pid: int, want: str, timeout: float = 30.0) -> list[str]:
    """Poll the Code tab until stage `want`, riding out workers that are being respawned."""
    stages: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            stage = stage_of(person.code(pid))
        except requests.RequestException:
            stage = "(no answer)"
        if not stages or stages[-1] != stage:
            stages.append(stage)
        if stage == want or stage == "failed":
            return stages
        time.sleep(0.2)
    pytest.fail(f"never reached {want}: {stages}")


def assert_one_of_everything(devstack, app, pid: int, repo: str) -> None:
    workspaces = [w for w in devstack.coder_state()["workspaces"] if w.endswith(f"/proj-{pid}")]
    assert len(workspaces) == 1, workspaces
    assert devstack.gitea_state()["repos"] == [repo]
    with app.app_context():
        rows = db.session.scalars(db.select(WorkspaceState)
                                  .where(WorkspaceState.project_id == pid)).all()
        assert len(rows) == 1 and rows[0].stage == "ready"


def test_killing_every_worker_mid_build_loses_nothing(production):
    devstack, server, app = production
    person = HttpPerson(server.url, "ada@example.com")
    person.sign_in()
    pid = person.create_project("Crash Team", "Survivor")
    assert stage_of(person.code(pid, "open")) in ("account", "repository")
    assert "building" in poll_until(person, pid, "building")

    killed = server.kill_workers()
    assert len(killed) == 2
    stages = poll_until(person, pid, "ready")
    assert stages[-1] == "ready", stages
    assert not set(killed) & set(server.worker_pids())  # really new workers
    assert_one_of_everything(devstack, app, pid, "crash-team/survivor")


def test_a_pass_killed_holding_its_lease_is_taken_over_after_the_lease(production):
    devstack, server, app = production
    person = HttpPerson(server.url, "grace@example.com")
    person.sign_in()
    pid = person.create_project("Crash Lease", "Halfway")
    assert poll_until(person, pid, "account")[-1] == "account"  # the repository stage is done

    # Coder answers slowly: the next pass (token, then the workspace create) holds its lease
    # for seconds; kill every worker in the middle of it.
    devstack.coder_faults(slow_seconds=0.8)
    in_flight = threading.Thread(target=lambda: _quietly(person, pid), daemon=True)
    in_flight.start()
    time.sleep(1.2)
    server.kill_workers()
    in_flight.join(10)
    with app.app_context():
        row = db.session.scalar(db.select(WorkspaceState).where(WorkspaceState.project_id == pid))
        assert row.lease_owner is not None, "the kill should land inside the pass"
        held_until = aware(row.lease_until)
    assert held_until > utcnow()
    devstack.coder_faults(slow_seconds=0)

    server.wait_ready()
    # While the dead pass's lease lasts, polls show the stored stage and act on nothing.
    if utcnow() < held_until:
        assert stage_of(person.code(pid)) in ("account", "workspace")
    stages = poll_until(person, pid, "ready", timeout=LEASE_SECONDS + 25)
    assert stages[-1] == "ready", stages
    assert_one_of_everything(devstack, app, pid, "crash-lease/halfway")
    assert len(devstack.coder_state()["workspaces"]) == 1


def _quietly(person: HttpPerson, pid: int) -> None:
    try:
        person.code(pid, timeout=15)
    except requests.RequestException:
        pass  # its worker was killed: the connection drops
