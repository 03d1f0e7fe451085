"""reconcile() against the simulated Coder and Gitea over real HTTP."""
import threading
from urllib.parse import urlsplit

import pytest

from portal.workspaces import provisioning, workspace_actions
from portal.people import tokens
from portal.extensions import db
from portal.models import AuditEvent, Role, UserSecret, WorkspaceState
from portal.services import current_services
from tests.provisioning_helpers import run_until_done, seed


def test_first_open_reaches_ready_through_named_stages(stack):
    with stack.app.app_context():
        user, project = seed()
        provisioning.want_running(user, project)
        status, seen = run_until_done(user, project)
        assert status.ready, status
        assert seen[0] == "account" and seen[-1] == "ready"
        assert "building" in seen or "starting" in seen
        # The worker's pass stores the plain app URL; the web tier asks for the hand-off.
        assert status.iframe_url is None
        assert urlsplit(status.app_url).hostname.startswith("code-server--main--proj-")
        assert status.app_url.endswith("?folder=%2Fhome%2Fcoder%2Fproject")
        assert project.clone_url and project.clone_url.endswith("/ml-team/vision.git")
        actions = set(db.session.scalars(db.select(AuditEvent.action)))
        assert {"workspace.create", "token.mint"} <= actions
    assert stack.coder.sim.state()["workspaces"] == [f"ada/proj-{project.id}"]


def test_reopen_of_running_workspace_reuses_everything(stack):
    with stack.app.app_context():
        user, project = seed()
        run_until_done(user, project)
        before = len(stack.coder.sim.requests)
        gitea_before = len(stack.gitea.exchanges)
        status = provisioning.reconcile(current_services(), user, project, Role.lead)
        assert status.ready
        assert len(stack.gitea.exchanges) == gitea_before  # Gitea untouched on re-open
        assert len(stack.coder.sim.requests) - before <= 2  # status + hand-off


def test_failed_build_shows_reason_and_retry_succeeds(stack):
    stack.coder.sim.fail_builds = 1
    stack.coder.sim.fail_message = "terraform apply: docker daemon unreachable"
    with stack.app.app_context():
        user, project = seed()
        status, _ = run_until_done(user, project)
        assert status.failed and "docker daemon unreachable" in status.message
        # while failed, polls make no calls
        before = len(stack.coder.sim.requests)
        assert provisioning.reconcile(current_services(), user, project, Role.lead).failed
        assert len(stack.coder.sim.requests) == before
        provisioning.want_running(user, project, retry=True)
        status, _ = run_until_done(user, project)
        assert status.ready


def test_stopped_workspace_starts_again_when_opened(stack):
    with stack.app.app_context():
        user, project = seed()
        run_until_done(user, project)
        workspace_actions.set_running(current_services(), user, project, running=False)
        status, _ = run_until_done(user, project, timeout=0.5)
        assert status.stopped or not status.ready
        provisioning.want_running(user, project)
        status, seen = run_until_done(user, project)
        assert status.ready and "building" in seen
    assert len(stack.coder.sim.state()["workspaces"]) == 1


def test_coder_down_is_transient_and_resumes(stack):
    with stack.app.app_context():
        user, project = seed()
        assert provisioning.reconcile(current_services(), user, project, Role.lead).stage == "account"
        stack.coder.sim.set_faults(status_override={"status": 503})
        status = provisioning.reconcile(current_services(), user, project, Role.lead)
        assert status.transient and not status.failed
        assert "not reachable" in status.message and "Retrying automatically" in status.message
        stack.coder.sim.reset_faults()
        status, _ = run_until_done(user, project)
        assert status.ready


def test_revoked_person_token_is_replaced(stack):
    with stack.app.app_context():
        user, project = seed()
        run_until_done(user, project)
        stack.coder.sim.revoke_tokens(user.username)
        status, _ = run_until_done(user, project)
        assert status.ready


def test_person_token_refused_at_the_create_is_replaced_and_the_workspace_made(stack):
    """The token was minted, then Coder stopped honouring it (revoked, or a Coder that lost
    it) before the workspace existed: the create's 401 renews it, it is never an admin fault."""
    with stack.app.app_context():
        user, project = seed()
        provisioning.want_running(user, project)
        status = provisioning.reconcile(current_services(), user, project, Role.lead)
        assert status.stage == "account"  # the repository's pass: no workspace yet
        tokens.coder_token(current_services(), user)  # minted and stored
        stack.coder.sim.revoke_tokens(user.username)
        status = provisioning.reconcile(current_services(), user, project, Role.lead)
        assert status.transient and "Renewing your workspace credentials" in status.message
        assert "administrator" not in status.message
        status, _ = run_until_done(user, project)
        assert status.ready


def test_token_rotates_before_expiry_and_old_one_is_deleted(stack):
    import datetime as dt
    with stack.app.app_context():
        user, project = seed()
        run_until_done(user, project)
        row = db.session.scalar(db.select(UserSecret).where(UserSecret.kind == tokens.CODER_TOKEN))
        old_key, old_value = row.key_id, row.value
        row.expires_at = provisioning.utcnow() + dt.timedelta(minutes=5)
        db.session.commit()
        new = tokens.coder_token(current_services(), user)
        db.session.refresh(row)
        assert row.key_id != old_key and row.value != old_value and new not in row.value
        assert stack.coder.sim.count("/keys/tokens", "POST") == 2
        assert stack.coder.sim.count(f"/keys/{old_key.split('/')[1]}", "DELETE") == 1


def test_stage_timeout_fails_with_retry(stack, make_stack_app):
    app = make_stack_app(PORTAL_BUILD_TIMEOUT="10")
    stack.coder.sim.build_seconds = 60
    with app.app_context():
        user, project = seed()
        status, _ = run_until_done(user, project, timeout=1.0)
        assert status.stage == "building"
        state = db.session.scalar(db.select(WorkspaceState))
        state.stage_started_at = provisioning.utcnow() - __import__("datetime").timedelta(seconds=30)
        db.session.commit()
        status = provisioning.reconcile(current_services(), user, project, Role.lead)
        assert status.failed and "did not become ready within 10 s" in status.message


def _concurrent(app, stack):
    with app.app_context():
        user, project = seed()
        user_id, project_id = user.id, project.id
    errors, results = [], []

    def worker():
        try:
            with app.app_context():
                from portal.models import Project, User
                u, p = db.session.get(User, user_id), db.session.get(Project, project_id)
                status, _ = run_until_done(u, p, timeout=120, pause=0.02)
                results.append(status)
        except Exception as exc:  # noqa: BLE001 - the test reports any
            errors.append(repr(exc))

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert len(results) == 20 and all(r.ready for r in results), [r for r in results if not r.ready][:3]
    assert stack.coder.sim.state()["workspaces"] == [f"ada/proj-{project_id}"]
    repos = sorted(f"{o}/{n}" for (o, n) in stack.gitea.sim.state.repos)
    assert repos == ["ml-team/vision"], repos
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(WorkspaceState.id))) == 1
        assert db.session.scalar(db.select(db.func.count(UserSecret.id)).where(
            UserSecret.kind == tokens.CODER_TOKEN)) == 1
    assert stack.coder.sim.count("/keys/tokens", "POST") == 1  # one token minted for the person


def test_twenty_concurrent_polls_create_once_sqlite(stack):
    _concurrent(stack.app, stack)


@pytest.mark.postgres
def test_twenty_concurrent_polls_create_once_postgres(stack, make_stack_app, pg_url):
    _concurrent(make_stack_app(DATABASE_URL=pg_url), stack)


def test_interrupted_provisioning_completes_after_restart(stack, make_stack_app, tmp_path):
    stack.coder.sim.build_seconds = 1.5
    with stack.app.app_context():
        user, project = seed()
        status, seen = run_until_done(user, project, timeout=0.6)
        assert not status.ready and status.stage in ("building", "starting")
    # a new app instance on the same database (a restarted worker)
    fresh = make_stack_app()
    with fresh.app_context():
        from portal.models import Project, User
        u = db.session.scalar(db.select(User))
        p = db.session.scalar(db.select(Project))
        status, _ = run_until_done(u, p)
        assert status.ready
    assert len(stack.coder.sim.state()["workspaces"]) == 1


def test_replaced_template_is_looked_up_again(stack):
    """A template pushed anew gets a new id: the cached one must not fail the next create."""
    from portal.workspaces.workspace_spec import TEMPLATE_IDS
    with stack.app.app_context():
        user, project = seed()
        settings = current_services().settings
        TEMPLATE_IDS[(settings.coder_url, settings.coder_template)] = (
            __import__("time").monotonic(), "00000000-0000-0000-0000-000000000000")
        status, _ = run_until_done(user, project)
        assert status.ready, status
