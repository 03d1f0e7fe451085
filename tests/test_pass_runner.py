"""Code tab passes beside the request (portal/pass_runner.py) with the production's short wait.

The rest of the suite lets a poll wait for its whole pass (tests/fixtures/app.py); here the
wait is short, as in production, and Gitea slower than it, so a poll must answer from the
stored state while its pass goes on, join a pass already running instead of starting another,
and show the trouble a pass met even when it did not wait for it.
"""
from __future__ import annotations

import logging
import re
import time

from portal import provisioning
from portal.extensions import db
from portal.models import Membership, WorkspaceState
from tests.fixtures.app import dev_sign_in
from tests.test_code_tab import STAGE_RE, create_project, csrf

DELAY_RE = re.compile(r"load delay:(\d+)ms")


def _client(make_stack_app):
    app = make_stack_app(PORTAL_PASS_WAIT="0.05")
    client = app.test_client()
    dev_sign_in(client, "ada@example.com", "Ada Lovelace")
    _, pid = create_project(client)
    headers = {"HX-Request": "true", "X-CSRFToken": csrf(client, f"/projects/{pid}/code")}
    return client, pid, headers


def _poll_until(client, pid, headers, done, timeout=20.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        body = client.post(f"/projects/{pid}/code/status", headers=headers).get_data(as_text=True)
        if done(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def _user_creates(gitea_sim) -> int:
    return sum(1 for x in gitea_sim.recorder.exchanges
               if x.method == "POST" and x.path.endswith("/admin/users"))


def test_a_poll_answers_from_the_stored_state_while_its_pass_goes_on(make_stack_app, gitea_sim):
    client, pid, headers = _client(make_stack_app)
    gitea_sim.sim.set_faults(slow_seconds=0.4)  # every Gitea call: a pass takes seconds
    body = client.post(f"/projects/{pid}/code/open", headers=headers).get_data(as_text=True)
    # Had the view waited for the pass, it would show the next stage.
    assert STAGE_RE.search(body).group(1) == "repository"
    assert DELAY_RE.search(body).group(1) == "1000"  # a pass is under way: look again in a second
    again = client.post(f"/projects/{pid}/code/status", headers=headers).get_data(as_text=True)
    assert STAGE_RE.search(again).group(1) == "repository"  # joined the running pass
    gitea_sim.sim.reset_faults()
    body = _poll_until(client, pid, headers, lambda b: STAGE_RE.search(b).group(1) != "repository")
    # The next stages follow (a quick pass may be shown by the poll that ran it: any of them).
    assert STAGE_RE.search(body).group(1) in ("account", "workspace", "building"), body[:400]
    assert _user_creates(gitea_sim) == 1  # two polls during one pass: one pass, one account
    body = _poll_until(client, pid, headers, lambda b: "<iframe" in b)
    assert "<iframe" in body, body[:400]


def test_a_poll_that_did_not_wait_shows_the_trouble_its_pass_met(make_stack_app, gitea_sim):
    client, pid, headers = _client(make_stack_app)
    gitea_sim.sim.set_faults(slow_seconds=0.2, status_override=500)
    client.post(f"/projects/{pid}/code/open", headers=headers)
    body = _poll_until(client, pid, headers, lambda b: "Retrying automatically" in b)
    assert "Retrying automatically" in body and STAGE_RE.search(body).group(1) == "repository"
    assert DELAY_RE.search(body).group(1) == "3000"  # transient trouble: poll slowly
    gitea_sim.sim.reset_faults()
    body = _poll_until(client, pid, headers, lambda b: "<iframe" in b)
    assert "<iframe" in body and "Retrying automatically" not in body, body[:400]


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


def test_a_pass_that_crashes_unseen_is_logged_and_run_again(make_stack_app, monkeypatch):
    client, pid, headers = _client(make_stack_app)
    real = provisioning.reconcile
    calls = []

    def crash_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.2)  # longer than the poll waits
            raise RuntimeError("bug in a pass")
        return real(*args, **kwargs)

    monkeypatch.setattr(provisioning, "reconcile", crash_once)
    seen = _Records()  # on the module's logger: the migrations' fileConfig replaces root's handlers
    logger = logging.getLogger("portal.pass_runner")
    logger.addHandler(seen)
    try:
        body = client.post(f"/projects/{pid}/code/open", headers=headers).get_data(as_text=True)
        assert STAGE_RE.search(body).group(1) == "repository"
        body = _poll_until(client, pid, headers, lambda b: "<iframe" in b)
    finally:
        logger.removeHandler(seen)
    assert "<iframe" in body, body[:400]
    assert any("Code tab pass" in r.getMessage() and r.exc_info for r in seen.records)


def test_a_queued_pass_of_a_member_removed_meanwhile_does_nothing(make_stack_app, gitea_sim):
    client, pid, headers = _client(make_stack_app)
    app = client.application
    with app.app_context():
        member = db.session.scalar(db.select(Membership))
        user_id = member.user_id
        db.session.delete(member)  # removed between the poll that queued the pass and its start
        db.session.commit()
    before = len(gitea_sim.recorder.exchanges)
    assert app.extensions["portal.passes"].submit(user_id, pid).result(timeout=10) is None
    assert len(gitea_sim.recorder.exchanges) == before  # not put back into a Gitea team
    with app.app_context():  # the row the Code tab page made is as it was: no pass touched it
        state = db.session.scalar(db.select(WorkspaceState))
        assert state.stage == "repository" and state.repo_ready_at is None
        assert state.lease_owner is None and state.observed_at is None
