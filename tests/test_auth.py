"""Sign-in: OIDC refusals against a controllable issuer, `next`, dev sign-in, HTMX, sign-out."""
from urllib.parse import parse_qs, urlsplit

import pytest

from portal.web.auth import safe_next
from portal.extensions import db
from portal.models import AuditEvent, User
from tests.fixtures.app import csrf_from, dev_sign_in


@pytest.fixture
def oidc_app(make_app, fake_idp):
    return make_app(PORTAL_DEV="0", OIDC_ISSUER=fake_idp.issuer, OIDC_CLIENT_ID=fake_idp.client_id,
                    OIDC_CLIENT_SECRET=fake_idp.client_secret,
                    flask={"SESSION_COOKIE_SECURE": False, "WTF_CSRF_SSL_STRICT": False})


def start(client, next_path=None):
    """Follow the portal to the provider's authorize URL; return its query parameters."""
    resp = client.get("/auth/login", query_string={"next": next_path} if next_path else None)
    assert resp.status_code == 302 and resp.location.endswith("/auth/oidc")
    resp = client.get("/auth/oidc")
    assert resp.status_code == 302
    query = {k: v[0] for k, v in parse_qs(urlsplit(resp.location).query).items()}
    assert query["code_challenge_method"] == "S256" and query["code_challenge"]
    assert query["nonce"] and query["state"]
    assert set(query["scope"].split()) == {"openid", "email", "profile"}
    return query


def claims(query, **extra):
    base = {"sub": "sub-123", "email": "Ada@Example.com", "name": "Ada Lovelace",
            "preferred_username": "ada", "groups": ["staff"], "nonce": query["nonce"]}
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def test_full_sign_in_creates_user_and_honours_safe_next(oidc_app, fake_idp):
    client = oidc_app.test_client()
    query = start(client, next_path="/admin/?x=1")
    fake_idp.claims = claims(query, groups=["portal-admins"])
    resp = client.get("/auth/callback", query_string={"code": "c1", "state": query["state"]})
    assert resp.status_code == 302 and resp.location == "/admin/?x=1"
    with oidc_app.app_context():
        user = db.session.scalar(db.select(User))
        assert (user.email, user.name, user.username, user.is_admin) == \
            ("ada@example.com", "Ada Lovelace", "ada", True)
        assert db.session.scalar(db.select(AuditEvent.action)) == "user.sign_in"
    page = client.get("/").get_data(as_text=True)
    assert "Ada Lovelace" in page and 'data-testid="admin-link"' in page


def test_admin_flag_follows_group_at_each_sign_in(oidc_app, fake_idp):
    for groups, expected in ((["portal-admins"], True), (["staff"], False)):
        client = oidc_app.test_client()
        query = start(client)
        fake_idp.claims = claims(query, groups=groups)
        client.get("/auth/callback", query_string={"code": "c", "state": query["state"]})
        with oidc_app.app_context():
            assert db.session.scalar(db.select(User.is_admin)) is expected
            assert db.session.scalar(db.select(db.func.count(User.id))) == 1


def test_tampered_state_is_refused(oidc_app, fake_idp):
    client = oidc_app.test_client()
    query = start(client)
    fake_idp.claims = claims(query)
    resp = client.get("/auth/callback", query_string={"code": "c", "state": query["state"] + "x"})
    assert resp.status_code == 400
    assert "state did not match" in resp.get_data(as_text=True)
    assert client.get("/").status_code == 302  # not signed in


@pytest.mark.parametrize("bad_next", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                      "javascript:alert(1)", "evil.example", "/auth/logout"])
def test_off_site_next_is_ignored(oidc_app, fake_idp, bad_next):
    client = oidc_app.test_client()
    query = start(client, next_path=bad_next)
    fake_idp.claims = claims(query)
    resp = client.get("/auth/callback", query_string={"code": "c", "state": query["state"]})
    assert resp.status_code == 302 and resp.location == "/"


def test_id_token_for_another_audience_is_refused(oidc_app, fake_idp):
    client = oidc_app.test_client()
    query = start(client)
    fake_idp.claims = claims(query)
    fake_idp.audience = "some-other-client"
    resp = client.get("/auth/callback", query_string={"code": "c", "state": query["state"]})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "not valid for this portal" in body and "another application (audience)" in body
    with oidc_app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 0


def test_wrong_nonce_is_refused(oidc_app, fake_idp):
    client = oidc_app.test_client()
    query = start(client)
    fake_idp.claims = claims(query, nonce="replayed")
    resp = client.get("/auth/callback", query_string={"code": "c", "state": query["state"]})
    assert resp.status_code == 400 and "nonce" in resp.get_data(as_text=True)


def test_missing_email_gives_clear_page(oidc_app, fake_idp):
    client = oidc_app.test_client()
    query = start(client)
    fake_idp.claims = claims(query, email=None)
    resp = client.get("/auth/callback", query_string={"code": "c", "state": query["state"]})
    assert resp.status_code == 403
    assert "no email address" in resp.get_data(as_text=True)


def test_provider_error_and_provider_down(oidc_app, fake_idp):
    client = oidc_app.test_client()
    query = start(client)
    resp = client.get("/auth/callback", query_string={"error": "access_denied", "state": query["state"]})
    assert resp.status_code == 400 and "declined" in resp.get_data(as_text=True)


def test_provider_unreachable_is_503_with_retry(make_app):
    app = make_app(PORTAL_DEV="0", OIDC_ISSUER="http://127.0.0.1:9/", OIDC_CLIENT_ID="portal",
                   OIDC_CLIENT_SECRET="x", flask={"SESSION_COOKIE_SECURE": False})
    resp = app.test_client().get("/auth/oidc")
    assert resp.status_code == 503
    assert "could not be reached" in resp.get_data(as_text=True)


def test_sign_out_goes_through_end_session(oidc_app, fake_idp):
    client = oidc_app.test_client()
    query = start(client)
    fake_idp.claims = claims(query)
    client.get("/auth/callback", query_string={"code": "c", "state": query["state"]})
    token = csrf_from(client, "/")
    resp = client.post("/auth/logout", data={"csrf_token": token})
    assert resp.status_code == 303
    target = urlsplit(resp.location)
    params = parse_qs(target.query)
    assert resp.location.startswith(fake_idp.issuer + "/end-session")
    assert params["post_logout_redirect_uri"] == ["https://localhost/auth/signed-out"]
    assert params["id_token_hint"][0].count(".") == 2
    assert client.get("/").status_code == 302


def test_logout_without_csrf_token_is_refused(client, sign_in):
    sign_in()
    resp = client.post("/auth/logout")
    assert resp.status_code == 400 and "CSRF" in resp.get_data(as_text=True)


def test_deactivated_person_cannot_sign_in(app, client, sign_in):
    sign_in("bob@example.com")
    with app.app_context():
        user = db.session.scalar(db.select(User))
        user.active = False
        db.session.commit()
    assert client.get("/").status_code == 302  # session no longer loads the user
    token = csrf_from(client)
    resp = client.post("/auth/dev", data={"csrf_token": token, "email": "bob@example.com"})
    assert resp.status_code == 403 and "deactivated" in resp.get_data(as_text=True)


def test_dev_sign_in_refused_without_portal_dev(make_app, fake_idp):
    app = make_app(PORTAL_DEV="0", OIDC_ISSUER=fake_idp.issuer, OIDC_CLIENT_ID="portal",
                   OIDC_CLIENT_SECRET="x")
    client = app.test_client()
    resp = client.get("/auth/dev")
    assert resp.status_code == 404 and "Pick someone who signed in" not in resp.get_data(as_text=True)
    assert client.post("/auth/dev", data={"email": "x@example.com"}).status_code in (400, 404)
    assert client.get("/").status_code == 302  # nobody signed in
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 0


DEV_FORM = "Pick someone who signed in"


def test_dev_sign_in_refused_off_loopback(make_app):
    def seen(client, **where):
        resp = client.get("/auth/dev", **where)
        return resp.status_code, DEV_FORM in resp.get_data(as_text=True)

    assert seen(make_app(PORTAL_BIND_HOST="0.0.0.0").test_client()) == (404, False)
    client = make_app().test_client()
    assert {"off loopback": seen(client, environ_base={"REMOTE_ADDR": "10.1.2.3"}),
            "other host": seen(client, base_url="http://portal.example.com"),
            "loopback": seen(client),
            "localhost name": seen(client, base_url="http://portal.localhost:5000")} == {
        "off loopback": (404, False), "other host": (404, False),
        "loopback": (200, True), "localhost name": (200, True)}


def test_dev_sign_in_validates_fields(client):
    token = csrf_from(client)
    resp = client.post("/auth/dev", data={"csrf_token": token, "email": "not-an-email"})
    assert resp.status_code == 400 and "valid email" in resp.get_data(as_text=True)
    resp = client.post("/auth/dev", data={"csrf_token": token, "email": "not-an-email\x00"})
    assert resp.status_code == 400 and "control characters" in resp.get_data(as_text=True)


def test_htmx_request_with_expired_session_gets_hx_redirect(client):
    resp = client.get("/", headers={"HX-Request": "true"})
    assert resp.status_code == 401
    assert resp.headers["HX-Redirect"].startswith("/auth/login")
    assert "<html" not in resp.get_data(as_text=True)


def test_pages_need_sign_in_but_health_does_not(client):
    answers = {path: client.get(path) for path in ("/", "/admin/")}
    assert {path: (r.status_code, r.location.split("?")[0]) for path, r in answers.items()} == \
        {"/": (302, "/auth/login"), "/admin/": (302, "/auth/login")}
    health = client.get("/healthz")
    assert health.status_code == 200 and health.get_json() == {"status": "ok"}


def test_admin_pages_are_403_for_non_admins(client, sign_in):
    sign_in("carol@example.com")
    assert client.get("/admin/").status_code == 403
    page = client.get("/").get_data(as_text=True)
    assert "admin-link" not in page


def test_cookie_flags_outside_dev(make_app, fake_idp):
    app = make_app(PORTAL_DEV="0", OIDC_ISSUER=fake_idp.issuer, OIDC_CLIENT_ID="portal",
                   OIDC_CLIENT_SECRET="x")
    resp = app.test_client().get("/auth/oidc", base_url="https://portal.example.com")
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("portal_session=")
    for flag in ("Secure", "HttpOnly", "SameSite=Lax"):
        assert flag in cookie
    assert "Strict-Transport-Security" in resp.headers


def test_error_pages_are_styled(client, sign_in):
    sign_in()
    resp = client.get("/no/such/page")
    assert resp.status_code == 404 and "There is nothing here" in resp.get_data(as_text=True)
    frag = client.get("/no/such/page", headers={"HX-Request": "true"})
    assert frag.status_code == 404 and "<html" not in frag.get_data(as_text=True)


def test_security_headers(client):
    resp = client.get("/healthz")
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in csp and "script-src 'self'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "HX-Request" in resp.headers["Vary"]


@pytest.mark.parametrize("value,expected", [
    ("/projects/1?tab=code", "/projects/1?tab=code"), ("/", "/"), (None, None), ("", None),
    ("https://x", None), ("//x", None), ("/\\x", None), ("/a\nb", None), ("x/y", None),
])
def test_safe_next(value, expected):
    assert safe_next(value) == expected


def test_readyz_reports_each_dependency(client):
    resp = client.get("/readyz")
    body = resp.get_json()
    assert resp.status_code == 503
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["coder"]["ok"] is False and body["checks"]["gitea"]["ok"] is False


def test_dev_sign_in_signs_in(client, app):
    dev_sign_in(client, "dora@example.com", "Dora", admin=True)
    page = client.get("/").get_data(as_text=True)
    assert "Dora" in page and "admin-link" in page
