"""`flask portal reconcile --all [--apply]`: drift introduced in the simulated Gitea, reported, repaired."""
from portal.extensions import db
from portal.models import Group, Membership, Project, Role, User
from tests.collab_helpers import make_group, membership_of, person, post, user_id


def reconcile(app, *args):
    return app.test_cli_runner().invoke(args=["portal", "reconcile", *args])


def setup_group(stack):
    lead = person(stack.app, "lead@example.com")
    person(stack.app, "bob@example.com")
    person(stack.app, "rita@example.com")
    make_group(lead)
    post(lead, "/groups/ml-team/members", who="bob", role="contributor")
    post(lead, "/groups/ml-team/members", who="rita", role="reader")
    with stack.app.app_context():
        group = db.session.scalar(db.select(Group))
        db.session.add_all([Project(group=group, slug="vision", name="Vision"),
                            Project(group=group, slug="speech", name="Speech")])
        db.session.commit()
    return lead


def test_clean_state_reports_no_drift(stack):
    setup_group(stack)
    result = reconcile(stack.app, "--all")
    # the projects were never opened: their repositories are missing
    assert result.exit_code == 1 and "repository vision" in result.output
    assert reconcile(stack.app, "--all", "--apply").exit_code == 0
    result = reconcile(stack.app, "--all")
    assert result.exit_code == 0, result.output
    assert "No drift" in result.output


def test_gitea_down_change_then_reconcile_repairs(stack):
    lead = setup_group(stack)
    reconcile(stack.app, "--all", "--apply")
    stack.gitea.sim.set_faults(down=True)
    rita = user_id(stack.app, "rita@example.com")
    resp = post(lead, f"/groups/ml-team/members/{rita}/role", role="contributor")
    assert resp.status_code == 303
    assert membership_of(stack.app, "rita@example.com", "ml-team")["sync_pending"]
    assert reconcile(stack.app, "--all").exit_code == 2  # Gitea unreadable: said, not a traceback
    stack.gitea.sim.reset_faults()
    result = reconcile(stack.app, "--all")
    assert result.exit_code == 1
    assert "wrong role" in result.output and "member rita" in result.output
    result = reconcile(stack.app, "--all", "--apply")
    assert result.exit_code == 0, result.output
    assert "Changed:" in result.output and "No drift remains." in result.output
    assert stack.gitea.sim.team_members("ml-team", "Contributors") == {"lead", "bob", "rita"}
    assert stack.gitea.sim.team_members("ml-team", "Readers") == set()
    assert not membership_of(stack.app, "rita@example.com", "ml-team")["sync_pending"]


def test_drift_made_in_the_simulator_is_reported_and_repaired(stack):
    setup_group(stack)
    assert reconcile(stack.app, "--all", "--apply").exit_code == 0
    sim = stack.gitea.sim
    sim.state.create_user({"username": "mallory", "email": "mallory@example.com",
                           "password": "long-enough-password", "must_change_password": False})
    sim.add_team_member("ml-team", "Readers", "mallory")          # extra
    sim.remove_team_member("ml-team", "Contributors", "bob")      # missing
    sim.add_team_member("ml-team", "Readers", "bob")              # ...and wrong role
    sim.add_team_member("ml-team", "Contributors", "rita")        # reader who could push
    sim.delete_repo("ml-team", "speech")                           # missing repository
    result = reconcile(stack.app, "--all")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].split() == ["GROUP", "DRIFT", "OBJECT", "DETAIL"]
    def row(kind, obj):
        return any(kind in line and obj in line for line in lines)
    assert row("extra", "member mallory") and row("wrong role", "member bob")
    assert row("wrong role", "member rita") and row("missing", "repository speech")
    assert "--apply" in result.output
    result = reconcile(stack.app, "--all", "--apply")
    assert result.exit_code == 0, result.output
    assert "removed mallory from Readers" in result.output
    assert "created repository ml-team/speech" in result.output
    assert sim.team_members("ml-team", "Contributors") == {"lead", "bob"}
    assert sim.team_members("ml-team", "Readers") == {"rita"}
    assert sim.repo("ml-team", "speech") is not None


def test_missing_org_and_team_and_extra_repo(stack):
    setup_group(stack)
    reconcile(stack.app, "--all", "--apply")
    sim = stack.gitea.sim
    sim.delete_team("ml-team", "Readers")
    client = stack.gitea.client()
    client.create_repo("ml-team", "hand-made")
    result = reconcile(stack.app, "--all", "--apply")
    assert "created the missing team" in result.output
    assert result.exit_code == 1 and "repository hand-made" in result.output  # never deleted
    assert sim.team_members("ml-team", "Readers") == {"rita"}
    assert sim.repo("ml-team", "hand-made") is not None
    sim.delete_repo("ml-team", "hand-made")
    assert reconcile(stack.app, "--all").exit_code == 0
    # a group whose organization vanished entirely
    with stack.app.app_context():
        group = Group(slug="new-group", name="New")
        lead = db.session.scalar(db.select(User).where(User.username == "lead"))
        db.session.add_all([group, Membership(user=lead, group=group, role=Role.lead)])
        db.session.commit()
    result = reconcile(stack.app, "--group", "new-group")
    assert result.exit_code == 1 and "organization" in result.output
    assert reconcile(stack.app, "--group", "new-group", "--apply").exit_code == 0
    assert sim.team_members("new-group", "Contributors") == {"lead"}
    assert reconcile(stack.app).exit_code == 2  # neither --all nor --group: usage error
    assert reconcile(stack.app, "--group", "nope").exit_code == 2


def test_paginated_team_lists_are_followed_to_the_end(stack):
    setup_group(stack)
    with stack.app.app_context():
        group = db.session.scalar(db.select(Group))
        for i in range(60):
            user = User(sub=f"s{i}", email=f"p{i}@example.com", username=f"p{i:02d}")
            db.session.add_all([user, Membership(user=user, group=group, role=Role.reader)])
        db.session.commit()
    sim = stack.gitea.sim
    for i in range(60):
        sim.state.create_user({"username": f"p{i:02d}", "email": f"p{i}@example.com",
                               "password": "long-enough-password", "must_change_password": False})
        sim.add_team_member("ml-team", "Readers", f"p{i:02d}")
    assert reconcile(stack.app, "--all", "--apply").exit_code == 0
    pages = [e for e in stack.gitea.exchanges if "/members" in e.path and "page=2" in (e.query or "")]
    assert pages, "the second page of the Readers team was never read"
    assert reconcile(stack.app, "--all").exit_code == 0
