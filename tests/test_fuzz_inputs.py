"""Fuzzing every form field and URL parameter (hypothesis): a 4xx with a message or an
acceptable 200/302/303, never a 500, and never a stored group or project short name that
portal.groups.names refuses; on SQLite and on PostgreSQL. One app per test (no outbound service is reachable: the portal must
cope with that too); examples are bounded so the suite stays fast.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.extensions import db
from portal.models import Group, Membership, Project, Role, User
from portal.groups.names import validate_group_slug, validate_project_slug
from tests.faults import RunningIdp
from tests.fixtures.app import CSRF_RE, dev_sign_in

INJECTIONS = ["' OR 1=1 --", '"><script>alert(1)</script>', "{{7*7}}", "{% raw %}", "../../etc/passwd",
              "%00", "\x00", "\r\nSet-Cookie: x=1", "javascript:alert(1)", "//evil.example",
              "\\\\evil", "${jndi:ldap://x}", "admin", "-", ".git", "a" * 5000, "😀" * 300,
              "\u202e\u0000\u200b", "ǅ𝔘𝔫𝔦", "null", "[]", "{}", "@", "x@y", "https://x/y.git",
              "http://127.0.0.1:22/", "file:///etc/passwd", "ghp_" + "A" * 36]
FUZZ = st.one_of(
    st.sampled_from(INJECTIONS),
    st.text(max_size=120),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=40),
    st.text(min_size=300, max_size=3000).map(lambda s: s * 2),
)
BOUNDED = settings(max_examples=40, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
OK = {200, 204, 302, 303}
NO_PARAMETERS = {"/admin/system"}  # reads no parameter; it probes Coder and Gitea (slow here)
ERROR_MARKERS = ('class="error"', "flash-error", 'data-testid="error-message"', "field-error",
                 'role="alert"', "errors")


def check(resp, what: str) -> None:
    body = resp.get_data(as_text=True)
    assert resp.status_code < 500, f"{what}: {resp.status_code} {body[:300]}"
    assert resp.status_code in OK or 400 <= resp.status_code < 500, f"{what}: {resp.status_code}"
    if 400 <= resp.status_code < 500 and resp.status_code != 404:
        assert any(m in body for m in ERROR_MARKERS), f"{what}: {resp.status_code} without a message"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request, make_app):
    """Every fuzz test runs on SQLite and on PostgreSQL (which refuses NUL bytes in text)."""
    idp = RunningIdp()
    database = {"DATABASE_URL": request.getfixturevalue("pg_url")} if request.param == "postgres" else {}
    app = make_app(**idp.env(), **database)
    client = app.test_client()
    dev_sign_in(client, "ada@example.com", "Ada", admin=True)
    with app.app_context():
        ada = db.session.scalar(db.select(User))
        bob = User(sub="sub-bob", email="bob@example.com", username="bob")
        group = Group(slug="team", name="Team")
        db.session.add_all([bob, group, Membership(user=ada, group=group, role=Role.lead),
                            Membership(user=bob, group=group, role=Role.reader)])
        db.session.add(Project(group=group, slug="app", name="App"))
        db.session.commit()
        ids = {"bob": bob.id, "project": db.session.scalar(db.select(Project.id))}
    token = CSRF_RE.search(client.get("/").get_data(as_text=True)).group(1)
    yield app, client, token, ids
    idp.stop()


def assert_stored_names_valid(app) -> None:
    with app.app_context():
        for slug in db.session.scalars(db.select(Group.slug)):
            assert validate_group_slug(slug) is None, slug
        for slug in db.session.scalars(db.select(Project.slug)):
            assert validate_project_slug(slug) is None, slug


@BOUNDED
@given(name=FUZZ, slug=FUZZ, description=FUZZ)
def test_group_forms(world, name, slug, description):
    app, client, token, _ = world
    check(client.get("/groups/check", query_string={"name": name, "slug": slug}), "group check")
    check(client.post("/groups/new", data={"csrf_token": token, "name": name, "slug": slug,
                                           "description": description}), "group new")
    assert_stored_names_valid(app)


@BOUNDED
@given(name=FUZZ, slug=FUZZ, description=FUZZ, source=FUZZ)
def test_project_forms(world, name, slug, description, source):
    app, client, token, _ = world
    check(client.get("/groups/team/projects/check", query_string={"name": name, "slug": slug}),
          "project check")
    check(client.post("/groups/team/projects/new", data={
        "csrf_token": token, "name": name, "slug": slug, "description": description,
        "source_url": source}), "project new")
    assert_stored_names_valid(app)


@BOUNDED
@given(who=FUZZ, role=FUZZ, partial=st.booleans())
def test_member_forms(world, who, role, partial):
    app, client, token, ids = world
    headers = {"HX-Request": "true"} if partial else {}
    check(client.post("/groups/team/members", data={"csrf_token": token, "who": who, "role": role},
                      headers=headers), "invite")
    check(client.post(f"/groups/team/members/{ids['bob']}/role",
                      data={"csrf_token": token, "role": role}, headers=headers), "role")


@BOUNDED
@given(value=FUZZ)
def test_settings_token(world, value):
    _, client, token, _ = world
    check(client.post("/settings/github-token", data={"csrf_token": token, "token": value}),
          "github token")


@BOUNDED
@given(email=FUZZ, name=FUZZ)
def test_dev_sign_in(world, email, name):
    app, _, _, _ = world
    client = app.test_client()
    token = CSRF_RE.search(client.get("/auth/dev").get_data(as_text=True)).group(1)
    check(client.post("/auth/dev", data={"csrf_token": token, "email": email, "name": name}),
          "dev sign-in")
    with app.app_context():
        for username in db.session.scalars(db.select(User.username)):
            assert username and len(username) <= 40, username


@BOUNDED
@given(nxt=FUZZ, state=FUZZ, code=FUZZ, error=FUZZ)
def test_auth_parameters(world, nxt, state, code, error):
    app, _, _, _ = world
    client = app.test_client()
    resp = client.get("/auth/login", query_string={"next": nxt})
    check(resp, "login next")
    check(client.get("/auth/callback", query_string={"state": state, "code": code}), "callback")
    check(client.get("/auth/callback", query_string={"error": error, "state": state}), "callback error")


@BOUNDED
@given(params=st.dictionaries(st.sampled_from(["q", "page", "per_page", "sort", "role", "status",
                                               "filter", "group", "action", "before", "after"]),
                              FUZZ, max_size=4))
def test_admin_and_page_parameters(world, params):
    app, client, _, ids = world
    pages = sorted(r.rule for r in app.url_map.iter_rules()
                   if r.rule.startswith("/admin") and "GET" in r.methods and not r.arguments
                   and r.rule not in NO_PARAMETERS)
    for path in [*pages, "/", f"/projects/{ids['project']}", "/groups/team/members"]:
        check(client.get(path, query_string=params), f"GET {path}")
