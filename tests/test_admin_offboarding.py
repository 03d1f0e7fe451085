"""Offboarding against the simulated Coder, Gitea and LiteLLM: every effect, its audit
events, sign-in refused, and a retry after Gitea went down mid-offboarding."""
from __future__ import annotations

import re
import time

from portal.people import github_tokens, offboarding
from portal.workspaces import provisioning
from portal.clients import http
from portal.devstack.coder_state import ApiError
from portal.extensions import db
from portal.models import AuditEvent, Membership, Offboarding, Project, Role, User, UserSecret
from portal.services import current_services
from tests.collab_helpers import make_group, person, post, user_id
from tests.fixtures.app import csrf_from
from tests.provisioning_helpers import run_until_done

GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5" * 3 + "F6g7H8"


def _world(stack):
    """A lead's group; Bob a contributor with a running workspace and every credential."""
    lead = person(stack.app, "lead@example.com")
    bob_client = person(stack.app, "bob@example.com")
    admin = person(stack.app, "root@example.com", admin=True)
    make_group(lead)
    post(lead, "/groups/ml-team/members", who="bob", role="contributor")
    assert post(bob_client, "/groups/ml-team/projects/new", name="Vision", slug="vision",
                description="").status_code == 303
    with stack.app.app_context():
        bob = db.session.scalar(db.select(User).where(User.username == "bob"))
        project = db.session.scalar(db.select(Project))
        provisioning.want_running(bob, project)
        status, _ = run_until_done(bob, project, Role.contributor)
        assert status.ready
        github_tokens.store(current_services(), bob, GITHUB_TOKEN)
        ws_id = provisioning.workspace_state(bob, project).coder_workspace_id
        kinds = set(db.session.scalars(db.select(UserSecret.kind).where(UserSecret.user_id == bob.id)))
        pid = project.id
    # Bob opens the IDE: the hand-off has Coder mint an application-connect key for him.
    status = bob_client.get(f"/projects/{pid}/code/status", headers={"HX-Request": "true"})
    assert "<iframe" in status.get_data(as_text=True)
    return admin, bob_client, ws_id, kinds


def _kinds(app, email):
    with app.app_context():
        uid = db.session.scalar(db.select(User.id).where(User.email == email))
        return set(db.session.scalars(db.select(UserSecret.kind).where(UserSecret.user_id == uid)))


def _actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(db.select(AuditEvent.action).order_by(AuditEvent.id)))


def refusal(store, token: str) -> tuple[int, bool]:
    """The simulated Coder's answer to a key: (status, whether it says "not active")."""
    try:
        store.authenticate(token)
    except ApiError as exc:
        return exc.status, "not active" in exc.message
    return 200, False


def _until_done(admin, bob_id: int, timeout: float = 30.0) -> str:
    """The progress fragment (a read) polled as the page does, until the worker has finished."""
    deadline = time.monotonic() + timeout
    while True:
        resp = admin.get(f"/admin/users/{bob_id}/offboarding", headers={"HX-Request": "true"})
        assert resp.status_code == 200
        page = resp.get_data(as_text=True)
        assert "<html" not in page  # the fragment, which replaces itself
        if 'data-status="running"' not in page.split(">")[0]:
            return page
        assert time.monotonic() < deadline, "offboarding did not finish"
        time.sleep(0.05)


def test_offboarding_removes_every_access_and_audits_each_step(ai_stack, start_worker):
    stack = ai_stack
    admin, bob_client, ws_id, kinds = _world(stack)
    assert {"coder_token", "gitea_token", "litellm_key", "github_token"} <= kinds
    assert stack.gitea.sim.team_members("ml-team", "Contributors") == {"lead", "bob"}
    assert stack.litellm.sim.keys_of("bob")
    bob = user_id(stack.app, "bob@example.com")

    page = admin.get(f"/admin/users/{bob}/offboard").get_data(as_text=True)
    assert "Type their username" in page and "ML Team" in page
    wrong = post(admin, f"/admin/users/{bob}/offboard", confirm="bobby", workspaces="stop")
    assert wrong.status_code == 400 and "to confirm" in wrong.get_data(as_text=True)
    bad = post(admin, f"/admin/users/{bob}/offboard", confirm="bob", workspaces="explode")
    assert bad.status_code == 400 and "stop or delete" in bad.get_data(as_text=True)
    assert _actions(stack.app).count("user.offboard") == 0

    resp = post(admin, f"/admin/users/{bob}/offboard", confirm="bob", workspaces="stop")
    assert resp.status_code == 303 and resp.location.endswith(f"/admin/users/{bob}/offboarding")
    progress = admin.get(resp.location).get_data(as_text=True)
    assert 'hx-trigger="load' in progress and progress.count('data-status="pending"') == len(offboarding.STEPS)
    calls: list = []
    http.call_listeners.append(calls.append)
    try:
        admin.get(resp.location, headers={"HX-Request": "true"})  # a poll is a read
    finally:
        http.call_listeners.remove(calls.append)
    assert calls == []
    start_worker(stack.app)  # the worker's job does the steps
    page = _until_done(admin, bob)
    assert 'data-testid="offboarding-done"' in page
    assert [name for name, _ in offboarding.STEPS
            if not re.search(rf'data-testid="step-{name}" data-status="ok"', page)] == []

    # the effects, each in the system that holds it
    assert stack.gitea.sim.team_members("ml-team", "Contributors") == {"lead"}
    assert stack.gitea.sim.tokens_of("bob") == []
    with stack.app.app_context():
        ws = current_services().coder.get_workspace_by_id(ws_id)
        assert ws.latest_build.transition == "stop"
        assert db.session.get(User, bob).active is False
        assert db.session.scalar(db.select(Membership).where(Membership.user_id == bob)) is None
    store = stack.coder.sim.store   # the portal's API token is gone (app-connect keys are Coder's own)
    assert not [k for k in store.keys.values() if store.users[k.user_id].username == "bob"
                and k.scope != "application_connect"]
    assert stack.litellm.sim.keys_of("bob") == []
    assert _kinds(stack.app, "bob@example.com") == set()
    # Coder: suspended, so the IDE's application-connect keys Coder minted are refused too;
    # Gitea: blocked (prohibit_login), its OIDC link kept.
    bob_coder = next(u for u in store.users.values() if u.username == "bob")
    assert bob_coder.status == "suspended"
    app_keys = [k for k in store.keys.values() if k.user_id == bob_coder.id]
    assert app_keys, "the IDE hand-off minted an application key"
    assert [refusal(store, k.token) for k in app_keys] == [(401, True)] * len(app_keys)
    bob_gitea = stack.gitea.sim.state.user("bob")
    assert bob_gitea.prohibit_login is True

    # sign-in refused with a clear message; the open session ends at once
    assert bob_client.get("/").status_code == 302
    fresh = stack.app.test_client()
    token = csrf_from(fresh, "/auth/dev")
    refused = fresh.post("/auth/dev", data={"csrf_token": token, "email": "bob@example.com"})
    assert refused.status_code == 403 and "has been deactivated" in refused.get_data(as_text=True)

    actions = _actions(stack.app)
    expected = ("user.offboard", "user.deactivate", "member.remove", "gitea.team_remove",
                "workspace.stop", "token.revoke", "ai_key.revoke", "github_token.delete",
                "user.offboard_done", *(f"offboard.{n}" for n, _ in offboarding.STEPS))
    assert [action for action in expected if action not in actions] == []
    with stack.app.app_context():
        steps = db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.action.like("offboard.%"))).all()
        assert all(e.actor_label == "root@example.com" and e.target == "user:bob" for e in steps)
        assert all(e.details["result"] == "ok" for e in steps)
    # the detail page shows the person deactivated and the audit trail
    detail = admin.get(f"/admin/users/{bob}").get_data(as_text=True)
    assert "deactivated" in detail and "offboard.github_token" in detail


def test_retry_after_gitea_was_down_mid_offboarding(stack, start_worker):
    admin, _, ws_id, _ = _world(stack)
    bob = user_id(stack.app, "bob@example.com")
    assert post(admin, f"/admin/users/{bob}/offboard", confirm="BOB",
                workspaces="delete").status_code == 303
    with stack.app.app_context():  # the first step, as the job would do it
        step = offboarding.run_next(current_services(), db.session.scalar(db.select(Offboarding)))
        assert (step.name, step.status) == ("deactivate", "ok")
    stack.gitea.sim.set_faults(down=True)              # Gitea goes down mid-offboarding
    start_worker(stack.app)                            # the queued job does the rest
    page = _until_done(admin, bob)
    assert 'data-testid="offboarding-incomplete"' in page and "Retry" in page
    assert 'data-testid="step-gitea_teams" data-status="failed"' in page
    assert 'data-testid="step-gitea_token" data-status="failed"' in page
    assert 'data-testid="step-coder_token" data-status="ok"' in page
    assert 'data-testid="step-workspaces" data-status="ok"' in page
    stack.gitea.sim.reset_faults()
    assert stack.gitea.sim.team_members("ml-team", "Contributors") == {"lead", "bob"}
    with stack.app.app_context():
        run = db.session.scalar(db.select(Offboarding))
        assert run.status == "incomplete" and run.groups == ["ml-team"]
        ws = current_services().coder.get_workspace_by_id(ws_id)
        assert ws is None or ws.latest_build.transition == "delete"
    assert "user.offboard_incomplete" in _actions(stack.app)

    # the retry continues: done steps are skipped, the failed ones succeed now
    assert post(admin, f"/admin/users/{bob}/offboard", confirm="bob",
                workspaces="delete").status_code == 303
    page = _until_done(admin, bob)
    assert 'data-testid="offboarding-done"' in page
    assert 'data-testid="step-gitea_teams" data-status="ok"' in page
    assert 'data-testid="step-gitea_token" data-status="ok"' in page
    assert 'data-testid="step-deactivate" data-status="skipped"' in page
    assert 'data-testid="step-coder_token" data-status="skipped"' in page
    assert stack.gitea.sim.team_members("ml-team", "Contributors") == {"lead"}
    assert stack.gitea.sim.tokens_of("bob") == []
    assert _kinds(stack.app, "bob@example.com") == set()
    actions = _actions(stack.app)
    assert "user.offboard_retry" in actions and actions[-1] == "user.offboard_done"


def test_offboarding_refuses_self_and_unknown_people(stack):
    admin = person(stack.app, "root@example.com", admin=True)
    me = user_id(stack.app, "root@example.com")
    resp = post(admin, f"/admin/users/{me}/offboard", confirm="root", workspaces="stop")
    assert resp.status_code == 400 and "cannot offboard yourself" in resp.get_data(as_text=True)
    assert admin.get("/admin/users/99999/offboard").status_code == 404
    assert admin.get("/admin/users/99999/offboarding").status_code == 404


def test_reactivate_undoes_the_account_steps_but_not_the_memberships(stack, start_worker):
    admin, _, _, _ = _world(stack)
    bob = user_id(stack.app, "bob@example.com")
    start_worker(stack.app)
    assert post(admin, f"/admin/users/{bob}/offboard", confirm="bob",
                workspaces="stop").status_code == 303
    assert 'data-testid="offboarding-done"' in _until_done(admin, bob)
    store = stack.coder.sim.store
    assert next(u for u in store.users.values() if u.username == "bob").status == "suspended"

    stack.gitea.sim.set_faults(down=True)  # Gitea is down: that step fails and can be retried
    page = post(admin, f"/admin/users/{bob}/reactivate").get_data(as_text=True)
    assert page.count('data-status="failed"') == 1 and "Reactivate again" in page
    assert stack.gitea.sim.state.user("bob").prohibit_login is True
    stack.gitea.sim.reset_faults()
    resp = post(admin, f"/admin/users/{bob}/reactivate")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'data-status="failed"' not in page
    assert next(u for u in store.users.values() if u.username == "bob").status == "active"
    assert stack.gitea.sim.state.user("bob").prohibit_login is False
    # the groups are listed for the admin to re-add, never restored silently
    assert 'data-testid="former-ml-team"' in page and "contributor" in page
    assert stack.gitea.sim.team_members("ml-team", "Contributors") == {"lead"}
    with stack.app.app_context():
        assert db.session.get(User, bob).active is True
        assert db.session.scalar(db.select(Membership).where(Membership.user_id == bob)) is None
        assert db.session.scalar(db.select(Offboarding)) is None
    assert {"user.reactivate", "coder.user_activate", "gitea.user_unblock"} <= set(_actions(stack.app))
    again = person(stack.app, "bob@example.com")  # they can sign in again
    assert again.get("/").status_code == 200
