"""Members and roles against the simulated Gitea and Coder: team moves, removal, refusals."""
import datetime as dt
import time

from portal.workspaces import provisioning
from portal.people import tokens
from portal.extensions import db
from portal.groups.invitations import apply_at_sign_in, email_verified
from portal.models import (AuditEvent, Invitation, Membership, Project, Role, User, UserSecret,
                           WorkspaceState)
from portal.services import current_services
from tests.collab_helpers import make_group, membership_of, person, post, user_id
from tests.provisioning_helpers import run_until_done


def test_group_creation_puts_the_lead_in_contributors(stack):
    lead = person(stack.app, "lead@example.com")
    make_group(lead)
    assert stack.gitea.sim.team_members("ml-team", "Contributors") == {"lead"}
    assert membership_of(stack.app, "lead@example.com", "ml-team")["sync_pending"] is False


def test_invite_by_username_then_role_change_moves_the_team(stack):
    lead = person(stack.app, "lead@example.com")
    person(stack.app, "bob@example.com")
    make_group(lead)
    resp = post(lead, "/groups/ml-team/members", who="BOB", role="reader")
    assert resp.status_code == 303
    assert stack.gitea.sim.team_members("ml-team", "Readers") == {"bob"}
    bob = user_id(stack.app, "bob@example.com")
    resp = post(lead, f"/groups/ml-team/members/{bob}/role", htmx=True, role="contributor")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "Bob is now a contributor." in page and "<html" not in page
    assert stack.gitea.sim.team_members("ml-team", "Readers") == set()
    assert stack.gitea.sim.team_members("ml-team", "Contributors") == {"lead", "bob"}
    post(lead, f"/groups/ml-team/members/{bob}/role", role="reader")
    assert stack.gitea.sim.team_members("ml-team", "Contributors") == {"lead"}
    assert stack.gitea.sim.team_members("ml-team", "Readers") == {"bob"}
    with stack.app.app_context():
        actions = list(db.session.scalars(db.select(AuditEvent.action)))
    assert actions.count("member.role") == 2 and "member.add" in actions


def test_bad_input_gets_clear_4xx(stack):
    lead = person(stack.app, "lead@example.com")
    reader = person(stack.app, "rita@example.com")
    make_group(lead)
    post(lead, "/groups/ml-team/members", who="rita@example.com", role="reader")
    # One world for every case (they change nothing), compared as one table so that a
    # failing case does not hide the others.
    cases = {("nobody-here", "reader"): (400, "has signed in"),
             ("not an email@", "reader"): (400, "not a valid email"),
             ("x@example.com", "owner"): (400, "Choose a role"),
             ("", "reader"): (400, "Enter an email"),
             ("rita", "reader"): (409, "already a member")}
    answers = {(who, role, htmx): post(lead, "/groups/ml-team/members", htmx=htmx,
                                       who=who, role=role)
               for who, role in cases for htmx in (False, True)}
    assert {case: (r.status_code, cases[case[:2]][1] in r.get_data(as_text=True))
            for case, r in answers.items()} == \
        {case: (cases[case[:2]][0], True) for case in answers}
    me = user_id(stack.app, "lead@example.com")
    resp = post(lead, f"/groups/ml-team/members/{me}/role", role="reader")
    assert resp.status_code == 409 and "last lead" in resp.get_data(as_text=True)
    resp = post(lead, f"/groups/ml-team/members/{me}/remove", htmx=True)
    assert resp.status_code == 409 and "last lead" in resp.get_data(as_text=True)
    assert post(lead, "/groups/ml-team/members/99999/role", role="reader").status_code == 404
    # a reader sees the list but may not change it
    assert reader.get("/groups/ml-team/members").status_code == 200
    assert post(reader, "/groups/ml-team/members", who="x@example.com", role="lead").status_code == 403
    assert post(reader, f"/groups/ml-team/members/{me}/remove").status_code == 403


def test_second_lead_allows_first_to_step_down(stack):
    lead = person(stack.app, "lead@example.com")
    person(stack.app, "bob@example.com")
    make_group(lead)
    post(lead, "/groups/ml-team/members", who="bob", role="lead")
    me = user_id(stack.app, "lead@example.com")
    resp = post(lead, f"/groups/ml-team/members/{me}/role", role="contributor")
    assert resp.status_code == 303
    assert membership_of(stack.app, "lead@example.com", "ml-team")["role"] == "contributor"
    assert post(lead, "/groups/ml-team/members", who="x@example.com", role="reader").status_code == 403


def test_gitea_down_keeps_change_pending_until_sync(stack):
    lead = person(stack.app, "lead@example.com")
    person(stack.app, "bob@example.com")
    make_group(lead)
    post(lead, "/groups/ml-team/members", who="bob", role="reader")
    bob = user_id(stack.app, "bob@example.com")
    stack.gitea.sim.set_faults(down=True)
    resp = post(lead, f"/groups/ml-team/members/{bob}/role", role="contributor")
    assert resp.status_code == 303
    state = membership_of(stack.app, "bob@example.com", "ml-team")
    assert state["role"] == "contributor" and state["sync_pending"] and state["sync_error"]
    page = lead.get("/groups/ml-team/members").get_data(as_text=True)
    assert "sync pending" in page and "Sync now" in page and "Gitea could not be updated" in page
    resp = post(lead, "/groups/ml-team/members/sync", htmx=True)
    assert "still unreachable" in resp.get_data(as_text=True)
    stack.gitea.sim.reset_faults()
    resp = post(lead, "/groups/ml-team/members/sync", htmx=True)
    assert resp.status_code == 200 and "up to date" in resp.get_data(as_text=True)
    assert stack.gitea.sim.team_members("ml-team", "Contributors") == {"lead", "bob"}
    assert not membership_of(stack.app, "bob@example.com", "ml-team")["sync_pending"]


def test_removal_stops_workspaces_revokes_token_and_audits(stack):
    lead = person(stack.app, "lead@example.com")
    bob_client = person(stack.app, "bob@example.com")
    make_group(lead)
    post(lead, "/groups/ml-team/members", who="bob", role="contributor")
    resp = post(bob_client, "/groups/ml-team/projects/new", name="Vision", slug="vision", description="")
    assert resp.status_code == 303
    with stack.app.app_context():
        bob = db.session.scalar(db.select(User).where(User.username == "bob"))
        project = db.session.scalar(db.select(Project))
        provisioning.want_running(bob, project)
        status, _ = run_until_done(bob, project, Role.contributor)
        assert status.ready
        ws_id = provisioning.workspace_state(bob, project).coder_workspace_id
        project_id = project.id
    resp = post(lead, f"/groups/ml-team/members/{user_id(stack.app, 'bob@example.com')}/remove",
                htmx=True)
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "was removed" in page and "workspaces were stopped" in page and "credentials were revoked" in page
    assert stack.gitea.sim.team_members("ml-team", "Contributors") == {"lead"}
    with stack.app.app_context():
        ws = current_services().coder.get_workspace_by_id(ws_id)
        assert ws.latest_build.transition == "stop"
        assert db.session.scalar(db.select(UserSecret).where(
            UserSecret.kind == tokens.CODER_TOKEN, UserSecret.user_id == bob.id)) is None
        actions = set(db.session.scalars(db.select(AuditEvent.action)))
    assert {"member.remove", "gitea.team_remove", "workspace.stop", "token.revoke"} <= actions
    assert bob_client.get(f"/projects/{project_id}").status_code == 404
    assert bob_client.get("/groups/ml-team").status_code == 404


def test_removal_policy_delete(make_stack_app, gitea_sim, coder_sim):
    app = make_stack_app(PORTAL_REMOVAL_POLICY="delete")
    lead = person(app, "lead@example.com")
    person(app, "bob@example.com")
    make_group(lead)
    post(lead, "/groups/ml-team/members", who="bob", role="reader")
    with app.app_context():
        bob = db.session.scalar(db.select(User).where(User.username == "bob"))
        grp_project = Project(group_id=db.session.scalar(db.select(Membership.group_id)), slug="p",
                              name="P")
        db.session.add(grp_project)
        db.session.commit()
        status, _ = run_until_done(bob, grp_project, Role.reader)
        assert status.ready
    post(lead, f"/groups/ml-team/members/{user_id(app, 'bob@example.com')}/remove")
    deadline = time.monotonic() + 5
    while coder_sim.sim.state()["workspaces"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert coder_sim.sim.state()["workspaces"] == []
    with app.app_context():
        assert db.session.scalar(db.select(WorkspaceState)) is None
        assert "workspace.delete" in set(db.session.scalars(db.select(AuditEvent.action)))


def test_self_heal_repairs_team_when_check_is_old(stack):
    lead = person(stack.app, "lead@example.com")
    make_group(lead)
    post(lead, "/groups/ml-team/projects/new", name="Vision", slug="vision", description="")
    with stack.app.app_context():
        user = db.session.scalar(db.select(User))
        project = db.session.scalar(db.select(Project))
        run_until_done(user, project)
        stack.gitea.sim.remove_team_member("ml-team", "Contributors", "lead")
        stack.gitea.sim.add_team_member("ml-team", "Readers", "lead")
        # fresh check: a re-open makes no Gitea call at all
        before = len(stack.gitea.exchanges)
        assert provisioning.reconcile(current_services(), user, project, Role.lead).ready
        assert len(stack.gitea.exchanges) == before
        m = db.session.scalar(db.select(Membership))
        m.synced_at = provisioning.utcnow() - dt.timedelta(hours=1)
        state = provisioning.workspace_state(user, project)
        state.repo_ready_at = m.synced_at
        db.session.commit()
        assert provisioning.reconcile(current_services(), user, project, Role.lead).ready
        assert stack.gitea.sim.team_members("ml-team", "Contributors") == {"lead"}
        assert stack.gitea.sim.team_members("ml-team", "Readers") == set()
        assert "gitea.team_repair" in set(db.session.scalars(db.select(AuditEvent.action)))


def test_invitation_for_newcomer_applied_at_sign_in_case_insensitively(stack):
    lead = person(stack.app, "lead@example.com")
    make_group(lead)
    resp = post(lead, "/groups/ml-team/members", htmx=True, who="Carol@Example.COM", role="reader")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "carol@example.com is invited" in page
    assert "No email was sent" in page  # no SMTP_URL here: said, not a 500
    assert 'data-testid="invitation-carol@example.com"' in page
    carol = person(stack.app, "carol@example.com")
    assert carol.get("/groups/ml-team").status_code == 200
    assert membership_of(stack.app, "carol@example.com", "ml-team")["role"] == "reader"
    assert stack.gitea.sim.team_members("ml-team", "Readers") == {"carol"}
    with stack.app.app_context():
        assert db.session.scalar(db.select(Invitation)).accepted_at is not None


def test_revoked_expired_and_unverified_invitations_are_not_applied(stack):
    lead = person(stack.app, "lead@example.com")
    make_group(lead)
    for email in ("dan@example.com", "eve@example.com", "fay@example.com"):
        post(lead, "/groups/ml-team/members", who=email, role="contributor")
    with stack.app.app_context():
        invs = {i.email: i for i in db.session.scalars(db.select(Invitation))}
        invs["eve@example.com"].expires_at = provisioning.utcnow() - dt.timedelta(minutes=1)
        db.session.commit()
        dan_id = invs["dan@example.com"].id
    resp = post(lead, f"/groups/ml-team/invitations/{dan_id}/revoke", htmx=True)
    assert "was revoked" in resp.get_data(as_text=True)
    page = lead.get("/groups/ml-team/members").get_data(as_text=True)
    assert "dan@example.com" not in page and "eve@example.com" not in page and "fay@example.com" in page
    person(stack.app, "dan@example.com")
    person(stack.app, "eve@example.com")
    assert membership_of(stack.app, "dan@example.com", "ml-team") is None
    assert membership_of(stack.app, "eve@example.com", "ml-team") is None
    assert not email_verified({"email_verified": False}) and not email_verified({"email_verified": "false"})
    assert email_verified({}) and email_verified({"email_verified": True})
    with stack.app.app_context():
        fay = User(sub="s-fay", email="fay@example.com", username="fay")
        db.session.add(fay)
        db.session.commit()
        assert apply_at_sign_in(current_services(), fay, {"email_verified": False}) == []
        assert apply_at_sign_in(current_services(), fay, {"email_verified": True})[0].slug == "ml-team"
    assert post(lead, "/groups/ml-team/invitations/424242/revoke").status_code == 404


def test_collaboration_settings(tmp_path):
    import pytest
    from portal.config import ConfigError, Settings
    from tests.fixtures.app import base_env
    settings = Settings.from_env(base_env(tmp_path))
    assert (settings.invitation_days, settings.removal_policy) == (14, "stop")
    settings = Settings.from_env(base_env(tmp_path, PORTAL_INVITATION_DAYS="3",
                                          PORTAL_REMOVAL_POLICY="DELETE"))
    assert (settings.invitation_days, settings.removal_policy) == (3, "delete")
    with pytest.raises(ConfigError, match="PORTAL_REMOVAL_POLICY"):
        Settings.from_env(base_env(tmp_path, PORTAL_REMOVAL_POLICY="archive"))
    with pytest.raises(ConfigError, match="PORTAL_INVITATION_DAYS"):
        Settings.from_env(base_env(tmp_path, PORTAL_INVITATION_DAYS="0"))
