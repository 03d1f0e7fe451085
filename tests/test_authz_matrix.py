"""Authorization matrix: every route of the portal × every kind of person, from the URL map.

A route without a row in EXPECT fails `test_every_route_has_a_row`: add its expected
statuses here when you add a route. Columns: anonymous, signed-in non-member
("outsider"), reader, contributor, lead (of the group) and admin (not a member).
"login" means a redirect to the sign-in page. Non-members get 404 for groups and
projects they may not know exist; members without the right get 403.
"""
from __future__ import annotations

import itertools

import pytest

from portal.extensions import db
from portal.models import Group, Invitation, Membership, Project, Role, User
from tests.fixtures.app import csrf_from, dev_sign_in

PEOPLE = ("anonymous", "outsider", "reader", "contributor", "lead", "admin")
LOGIN = "login"


def row(anonymous, outsider, reader, contributor, lead, admin) -> dict:
    return dict(zip(PEOPLE, (anonymous, outsider, reader, contributor, lead, admin)))


def everyone(status) -> dict:
    return dict.fromkeys(PEOPLE, status)


def signed_in(status, anonymous=LOGIN) -> dict:
    return row(anonymous, status, status, status, status, status)


MEMBERS_SEE = row(LOGIN, 404, 200, 200, 200, 200)
MEMBERS_ACT = row(LOGIN, 404, 303, 303, 303, 303)
WRITERS_ONLY = row(LOGIN, 404, 403, 200, 200, 200)
LEADS_ONLY = row(LOGIN, 404, 403, 403, 303, 303)


def ADMIN_ONLY(status) -> dict:  # every /admin/ route: sign-in for anonymous, 403 for the rest
    return row(LOGIN, 403, 403, 403, 403, status)

# (endpoint, method) -> expected status per person.
EXPECT: dict[tuple[str, str], dict] = {
    ("static", "GET"): everyone(200),
    ("health.healthz", "GET"): everyone(200),
    ("health.readyz", "GET"): everyone(503),            # Coder and Gitea are unreachable here
    ("observability.metrics", "GET"): everyone(200),    # from loopback (test_observability.py)
    ("auth.login", "GET"): signed_in(302, anonymous=200),  # signed in: on to the dashboard
    ("auth.oidc_start", "GET"): everyone(404),          # no OIDC issuer configured (dev)
    ("auth.callback", "GET"): everyone(404),
    ("auth.dev_login", "GET"): everyone(200),
    ("auth.dev_login", "POST"): everyone(302),
    ("auth.logout", "POST"): everyone(303),
    ("auth.signed_out", "GET"): everyone(200),
    ("dashboard.index", "GET"): signed_in(200),
    ("admin.index", "GET"): ADMIN_ONLY(200),
    ("admin.system", "GET"): ADMIN_ONLY(200),
    ("admin.users", "GET"): ADMIN_ONLY(200),
    ("admin.user", "GET"): ADMIN_ONLY(200),
    ("admin.offboard", "GET"): ADMIN_ONLY(200),
    ("admin.offboard_start", "POST"): ADMIN_ONLY(400),          # sent without the typed username
    ("admin.offboarding_progress", "GET"): ADMIN_ONLY(303),     # none started: to the confirmation
    ("admin.reactivate", "POST"): ADMIN_ONLY(200),              # Coder/Gitea unreachable: shown failed
    ("admin.groups", "GET"): ADMIN_ONLY(200),
    ("admin.projects", "GET"): ADMIN_ONLY(200),
    ("admin.project_delete", "GET"): ADMIN_ONLY(200),
    ("admin.project_delete_confirmed", "POST"): ADMIN_ONLY(400),  # sent without the typed name
    ("admin.workspaces", "GET"): ADMIN_ONLY(200),
    ("admin.workspace_confirm", "GET"): ADMIN_ONLY(404),        # the target has no workspace
    ("admin.workspace_action", "POST"): ADMIN_ONLY(404),
    ("admin.audit", "GET"): ADMIN_ONLY(200),
    ("admin.audit_csv", "GET"): ADMIN_ONLY(200),
    ("admin.capacity", "GET"): ADMIN_ONLY(200),
    ("admin.capacity_limits", "POST"): ADMIN_ONLY(303),
    ("admin.capacity_stop", "POST"): ADMIN_ONLY(303),         # queued for the worker
    ("admin.capacity_size_save", "POST"): ADMIN_ONLY(400),    # sent without the size's values
    ("admin.capacity_size_delete", "POST"): ADMIN_ONLY(400),  # no such size
    ("settings.index", "GET"): signed_in(200),
    ("settings.save_github_token", "POST"): signed_in(400),   # sent without a token
    ("settings.delete_github_token", "POST"): signed_in(303),
    ("settings.sign_out_everywhere", "POST"): signed_in(303),
    ("groups.check", "GET"): signed_in(200),
    ("groups.new", "GET"): signed_in(200),
    ("groups.new", "POST"): signed_in(303),
    ("groups.show", "GET"): MEMBERS_SEE,
    ("projects.check", "GET"): MEMBERS_SEE,
    ("projects.new", "GET"): WRITERS_ONLY,
    ("projects.new", "POST"): row(LOGIN, 404, 403, 303, 303, 303),
    ("projects.show", "GET"): MEMBERS_SEE,
    ("code.tab", "GET"): MEMBERS_SEE,                    # readers open Code too
    ("code.open_", "POST"): MEMBERS_SEE,
    ("code.status", "POST"): MEMBERS_SEE,
    ("code.status", "GET"): MEMBERS_SEE,
    ("code.retry", "POST"): MEMBERS_SEE,
    ("code.keepalive", "POST"): row(LOGIN, 404, 204, 204, 204, 204),
    ("code.workspace_action", "POST"): MEMBERS_ACT,
    ("sizes.choose", "POST"): row(LOGIN, 404, 400, 400, 400, 400),          # sent without a size
    ("sizes.project_default", "POST"): row(LOGIN, 404, 403, 403, 400, 400),  # likewise
    ("sizes.make_room", "POST"): MEMBERS_ACT,
    ("members.index", "GET"): MEMBERS_SEE,
    ("members.invite", "POST"): LEADS_ONLY,
    ("members.set_role", "POST"): LEADS_ONLY,
    ("members.remove", "POST"): LEADS_ONLY,
    ("members.revoke", "POST"): LEADS_ONLY,
    ("members.sync", "POST"): LEADS_ONLY,
}

_counter = itertools.count()


def form_for(endpoint: str) -> dict:
    """Valid form data, so that a permitted request succeeds (unique names each time)."""
    n = next(_counter)
    return {
        "auth.dev_login": {"email": f"someone{n}@example.com"},
        "groups.new": {"name": f"Group {n}", "slug": f"group-{n}"},
        "projects.new": {"name": f"Project {n}", "slug": f"project-{n}"},
        "members.invite": {"who": f"new{n}@example.com", "role": "reader"},
        "members.set_role": {"role": "reader"},
    }.get(endpoint, {})


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from tests.fixtures.app import base_env, build_app
    app = build_app(base_env(tmp_path_factory.mktemp("matrix")))
    emails = {p: f"{p}@example.com" for p in PEOPLE[1:]}
    for person, email in emails.items():
        client = app.test_client()
        dev_sign_in(client, email, person.title(), admin=person == "admin")
    with app.app_context():
        users = {p: db.session.scalar(db.select(User).where(User.email == e)) for p, e in emails.items()}
        target = User(sub="sub-target", email="target@example.com", username="target")
        group = Group(slug="team", name="Team")
        db.session.add_all([target, group])
        for person in ("reader", "contributor", "lead"):
            db.session.add(Membership(user=users[person], group=group, role=Role(person)))
        project = Project(group=group, slug="app", name="App")
        db.session.add(project)
        db.session.commit()
        ids = {"project_id": project.id, "user_id": target.id, "slug": "team",
               "target": target.id, "group": group.id}
    return app, emails, ids


def reseed(app, ids) -> int:
    """Put back what a permitted request may have changed: the target member, the invitation."""
    with app.app_context():
        m = db.session.scalar(db.select(Membership).where(Membership.user_id == ids["target"]))
        if m is None:
            db.session.add(Membership(user_id=ids["target"], group_id=ids["group"], role=Role.reader))
        inv = db.session.scalar(db.select(Invitation).where(Invitation.email == "invitee@example.com"))
        if inv is None:
            from portal.models import utcnow
            import datetime as dt
            inv = Invitation(group_id=ids["group"], email="invitee@example.com", role=Role.reader,
                             expires_at=utcnow() + dt.timedelta(days=3))
            db.session.add(inv)
        inv.revoked_at = None
        db.session.commit()
        return inv.id


def url_for_rule(rule, ids, invitation_id) -> str:
    values = {"slug": ids["slug"], "project_id": ids["project_id"], "user_id": ids["user_id"],
              "invitation_id": invitation_id, "action": "stop", "filename": "css/portal.css",
              "workspace_id": "0a1b2c3d-0000-4000-8000-000000000000", "name": "nosuch"}
    missing = set(rule.arguments) - set(values)
    assert not missing, f"{rule.endpoint}: the matrix has no value for {missing}; add one"
    return rule.build({k: values[k] for k in rule.arguments}, append_unknown=False)[1]


def routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_route_has_a_row(world):
    app, _, _ = world
    present = {(rule.endpoint, method) for rule, method in routes(app)}
    missing = sorted(present - set(EXPECT))
    stale = sorted(set(EXPECT) - present)
    assert not missing, f"routes without a row in the authorization matrix: {missing}"
    assert not stale, f"rows for routes that no longer exist: {stale}"


@pytest.mark.parametrize("person", PEOPLE)
def test_matrix(world, person):
    app, emails, ids = world
    failures = []
    for rule, method in sorted(routes(app), key=lambda rm: (rm[0].endpoint, rm[1])):
        expected = EXPECT.get((rule.endpoint, method), {}).get(person)
        if expected is None:
            continue  # test_every_route_has_a_row reports it
        invitation_id = reseed(app, ids)
        client = app.test_client()
        if person != "anonymous":
            dev_sign_in(client, emails[person], person.title(), admin=person == "admin")
        url = url_for_rule(rule, ids, invitation_id)
        if method == "GET":
            resp = client.get(url)
        else:
            token = csrf_from(client, "/auth/dev")
            resp = client.post(url, data={"csrf_token": token, **form_for(rule.endpoint)})
        if expected == LOGIN:
            ok = resp.status_code == 302 and "/auth/login" in (resp.location or "")
        else:
            ok = resp.status_code == expected
        if not ok:
            failures.append(f"{method} {url} ({rule.endpoint}) as {person}: expected {expected}, "
                            f"got {resp.status_code} {resp.location or ''}")
    assert not failures, "\n".join(failures)
