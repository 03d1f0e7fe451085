"""The reconciler tier as production runs it: gunicorn (web) + `flask portal worker`
processes on PostgreSQL + Redis, the simulated Coder and Gitea in a process of their own.

- a closed tab: the workspace is running within build time + 10 s with no further request;
- two workers: every person's pass runs once, nothing is created twice;
- kill -9 of a worker mid-pass: another worker completes it after the lease, no duplicate;
- the broker down: the web tier still answers and shows "queued"; work resumes when it returns.
"""
from __future__ import annotations

import threading
import time

import pytest
import requests

from portal.extensions import db
from portal.models import AuditEvent, WorkspaceState
from tests.fixtures.app import base_env, build_app
from tests.process_helpers import (HttpPerson, stage_of, start_devstack, start_gunicorn,
                                   start_worker)

pytestmark = pytest.mark.postgres
LEASE_SECONDS = 3
BUILD_SECONDS = 2.0


@pytest.fixture
def production(tmp_path, pg_url, redis_server):
    """(devstack, gunicorn, env, in-process app on the same database for reading rows)."""
    devstack = start_devstack(build_seconds=BUILD_SECONDS, agent_seconds=0.3)
    workers = []
    try:
        env = base_env(tmp_path, DATABASE_URL=pg_url, **devstack.env, PORTAL_QUEUE_URL=redis_server.url,
                       PORTAL_RECONCILE_LEASE_SECONDS=LEASE_SECONDS)
        app = build_app(env)  # migrates the fresh database
        server = start_gunicorn(env, tmp_path, workers=2)

        def worker(threads: int = 2):
            workers.append(start_worker(env, tmp_path, threads))
            return workers[-1]
        try:
            yield devstack, server, worker, app
        finally:
            for w in workers:
                w.stop()
            server.stop()
            with app.app_context():
                db.engine.dispose()
    finally:
        devstack.stop()


def rows(app, pid: int) -> list[WorkspaceState]:
    with app.app_context():
        return db.session.scalars(db.select(WorkspaceState)
                                  .where(WorkspaceState.project_id == pid)).all()


def wait_ready(app, pid: int, timeout: float) -> float:
    """Seconds until the row the worker writes says ready (no request to the portal)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        found = rows(app, pid)
        if found and found[0].stage == "ready":
            return time.monotonic() - start
        time.sleep(0.2)
    pytest.fail(f"not ready within {timeout} s: {[(r.stage, r.last_error) for r in rows(app, pid)]}")


def creates(app, pid: int) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(AuditEvent.id)).where(
            AuditEvent.action == "workspace.create", AuditEvent.target == f"proj-{pid}"))


def assert_one_of_everything(devstack, app, pid: int) -> None:
    workspaces = [w for w in devstack.coder_state()["workspaces"] if w.endswith(f"/proj-{pid}")]
    assert len(workspaces) == 1, workspaces
    assert creates(app, pid) == 1
    assert len(rows(app, pid)) == 1


def test_a_closed_tab_still_gets_its_workspace(production):
    devstack, server, worker, app = production
    worker()
    person = HttpPerson(server.url, "ada@example.com")
    person.sign_in()
    pid = person.create_project("Closed Tab", "Away")
    assert stage_of(person.code(pid, "open")) == "repository"  # the only request: tab closed
    seconds = wait_ready(app, pid, BUILD_SECONDS + 10)
    print(f"ready {seconds:.1f} s after the open, no poll (build {BUILD_SECONDS} s)")
    assert_one_of_everything(devstack, app, pid)


def test_two_workers_run_each_pass_once(production):
    devstack, server, worker, app = production
    worker(), worker()
    people = [HttpPerson(server.url, f"p{i}@example.com") for i in range(6)]
    pids = []
    for i, person in enumerate(people):
        person.sign_in()
        pids.append(person.create_project(f"Pair {i}", "Both"))
    threads = [threading.Thread(target=p.code, args=(pid, "open")) for p, pid in zip(people, pids)]
    [t.start() for t in threads]
    [t.join(15) for t in threads]
    for pid in pids:
        wait_ready(app, pid, BUILD_SECONDS + 30)
        assert_one_of_everything(devstack, app, pid)


def test_a_worker_killed_mid_pass_is_taken_over(production):
    devstack, server, worker, app = production
    first = worker(threads=1)
    person = HttpPerson(server.url, "grace@example.com")
    person.sign_in()
    pid = person.create_project("Crash Lease", "Halfway")
    devstack.coder_faults(slow_seconds=0.8)  # the pass holds its lease for seconds
    person.code(pid, "open")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (rows(app, pid) and rows(app, pid)[0].lease_owner):
        time.sleep(0.05)
    assert rows(app, pid)[0].lease_owner, "the kill should land inside the pass"
    first.kill()
    devstack.coder_faults(slow_seconds=0)
    worker()  # another worker: the sweep finds the row once the dead pass's lease is over
    wait_ready(app, pid, LEASE_SECONDS + 40)
    assert_one_of_everything(devstack, app, pid)


def test_broker_down_the_web_answers_queued_and_work_resumes(production, redis_server):
    devstack, server, worker, app = production
    worker()
    person = HttpPerson(server.url, "lin@example.com")
    person.sign_in()
    pid = person.create_project("No Broker", "Later")
    redis_server.stop()
    body = person.code(pid, "open")
    assert "Queued" in body and "load delay" in body, body[:400]
    assert "Queued" in person.code(pid)  # a poll reads the row: no broker needed
    assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
    redis_server.start()
    # The minute's housekeeping restarts the observation chain; its sweep enqueues the row.
    wait_ready(app, pid, 90)
    assert_one_of_everything(devstack, app, pid)
