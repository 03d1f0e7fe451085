"""Security headers, cookie flags, CSRF on every state-changing route, and rate limits."""
from __future__ import annotations

import re

import pytest

from portal.web import ratelimit
from portal.extensions import db
from portal.models import Group, Invitation, Membership, Project, Role, User, utcnow
from tests.fixtures.app import csrf_from, dev_sign_in

CSRF_MESSAGE = "CSRF check failed"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def page_policy(resp) -> dict:
    """What test_csp_frames_only_coder_apps_and_allows_no_inline_script checks of one page."""
    csp = directives(resp.headers["Content-Security-Policy"])
    page = resp.get_data(as_text=True)
    return {
        **{name: csp.get(name) for name in ("script-src", "frame-ancestors", "object-src",
                                            "frame-src")},
        "inline scripts without a nonce": [s for s in INLINE_SCRIPT.findall(page)
                                           if "nonce=" not in s],
        "event handlers or javascript:": bool(EVENT_HANDLER.search(page))
        or "javascript:" in page,
        **{name: resp.headers.get(name) for name in (
            "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options",
            "Strict-Transport-Security")},
    }


@pytest.fixture
def lead(stack):
    client = stack.app.test_client()
    dev_sign_in(client, "ada@example.com", "Ada", admin=True)
    return client


def test_csp_frames_only_coder_apps_and_allows_no_inline_script(stack, lead, worker):
    from tests.test_code_tab import create_project, open_code
    _, pid = create_project(lead)
    body, _ = open_code(lead, pid)
    src = re.search(r'<iframe src="([^"]+)"', body).group(1)
    pages = ["/", "/settings", f"/projects/{pid}", f"/projects/{pid}/code", "/groups/new",
             "/admin/", "/auth/dev", "/no/such/page"]
    expected = {
        "script-src": ["'self'"],                                  # no 'unsafe-inline', no eval
        "frame-ancestors": ["'self'"], "object-src": ["'none'"],
        "frame-src": [f"http://{stack.coder.wildcard_host}"],      # not Coder's dashboard
        "inline scripts without a nonce": [], "event handlers or javascript:": False,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin", "X-Frame-Options": "SAMEORIGIN",
        "Strict-Transport-Security": None,                         # dev: plain HTTP on loopback
    }
    # One world (a running workspace) for every page, compared as one table.
    assert {path: page_policy(lead.get(path)) for path in pages} == dict.fromkeys(pages, expected)
    # the iframe's origin is one the policy allows, and it is not Coder's own origin
    app_host = re.match(r"https?://([^/]+)/", src).group(1)
    suffix = stack.coder.wildcard_host.split("*", 1)[1]
    assert app_host.endswith(suffix) and stack.coder.url not in src


def test_production_headers_and_cookie_flags(make_app, fake_idp):
    app = make_app(PORTAL_DEV="0", OIDC_ISSUER=fake_idp.issuer, OIDC_CLIENT_ID="portal",
                   OIDC_CLIENT_SECRET="s" * 20, CODER_WILDCARD_ACCESS_URL="*.apps.example.com",
                   CODER_URL="https://coder.example.com")
    client = app.test_client()
    resp = client.get("/auth/login", base_url="https://portal.example.com")
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert directives(resp.headers["Content-Security-Policy"])["frame-src"] == \
        ["https://*.apps.example.com"]
    resp = client.get("/auth/oidc", base_url="https://portal.example.com")  # stores state in the session
    cookie = resp.headers["Set-Cookie"]
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert cookie.startswith("portal_session=") and {"secure", "httponly"} <= flags
    assert "samesite=lax" in cookie.lower()


def test_production_without_wildcard_frames_what_coder_announces(make_app, stack):
    """CODER_WILDCARD_ACCESS_URL unset: pages frame the wildcard the worker read from Coder
    (GET /regions) and stored; a page never asks Coder itself."""
    from portal.workspaces import platform
    app = make_app(PORTAL_DEV="0", OIDC_ISSUER="https://idp.example.com", OIDC_CLIENT_ID="portal",
                   OIDC_CLIENT_SECRET="s" * 20, CODER_URL=stack.coder.url,
                   CODER_ADMIN_API_KEY=stack.coder.admin_token)
    client = app.test_client()

    def frame_src(path: str = "/auth/login") -> list[str]:
        resp = client.get(path, base_url="https://portal.example.com")
        return directives(resp.headers["Content-Security-Policy"])["frame-src"]

    assert frame_src() == ["'none'"]  # nothing framed until the app host is known
    assert stack.coder.sim.count("/api/v2/regions") == 0
    with app.app_context():
        platform.read(app.extensions["portal.services"])  # the worker's housekeeping
    assert stack.coder.sim.count("/api/v2/regions") == 1
    assert frame_src() == [f"http://{stack.coder.wildcard_host}"]
    assert frame_src("/healthz") == ["'none'"]  # JSON frames nothing: no read for it
    assert stack.coder.sim.count("/api/v2/regions") == 1


# -- CSRF on every state-changing route ------------------------------------------------------
def seed(app) -> dict:
    with app.app_context():
        lead = db.session.scalar(db.select(User).where(User.email == "ada@example.com"))
        other = User(sub="sub-bob", email="bob@example.com", username="bob")
        group = Group(slug="team", name="Team")
        db.session.add_all([other, group])
        db.session.add_all([Membership(user=lead, group=group, role=Role.lead),
                            Membership(user=other, group=group, role=Role.reader)])
        project = Project(group=group, slug="app", name="App")
        import datetime as dt
        inv = Invitation(group=group, email="inv@example.com", role=Role.reader,
                         expires_at=utcnow() + dt.timedelta(days=3))
        db.session.add_all([project, inv])
        db.session.commit()
        return {"slug": "team", "project_id": project.id, "user_id": other.id,
                "invitation_id": inv.id, "group_id": group.id, "id": other.id,
                "action": "stop", "filename": "css/portal.css",
                "workspace_id": "00000000-0000-0000-0000-000000000000", "name": "small"}


def test_every_state_changing_route_refuses_a_missing_csrf_token(app):
    client = app.test_client()
    dev_sign_in(client, "ada@example.com", "Ada", admin=True)
    values = seed(app)
    routes = [(method, rule) for rule in app.url_map.iter_rules()
              for method in sorted((rule.methods or set()) & STATE_CHANGING)]
    assert len(routes) >= 15, routes
    untestable = {rule.endpoint: set(rule.arguments) - set(values) for _, rule in routes
                  if set(rule.arguments) - set(values)}
    assert untestable == {}, "no test value for these arguments; add them to seed()"
    refusals = {}
    for method, rule in routes:
        url = rule.build({k: values[k] for k in rule.arguments}, append_unknown=False)[1]
        for kind, headers in (("page", {}), ("fragment", {"HX-Request": "true"})):
            resp = client.open(url, method=method, data={"name": "x"}, headers=headers)
            refusals[f"{method} {url} ({kind})"] = (
                resp.status_code, CSRF_MESSAGE in resp.get_data(as_text=True))
    assert refusals == dict.fromkeys(refusals, (400, True))  # every route, one table
    # a wrong token is refused as well; the right one passes
    resp = client.post("/settings/github-token/delete", data={"csrf_token": "forged"})
    assert resp.status_code == 400 and CSRF_MESSAGE in resp.get_data(as_text=True)
    token = csrf_from(client, "/settings")
    assert client.post("/settings/github-token/delete", data={"csrf_token": token}).status_code == 303


# -- rate limits -----------------------------------------------------------------------------
@pytest.fixture
def limited(make_app):
    return make_app(flask={"RATELIMIT_ENABLED": True})


def test_sign_in_starts_are_limited_per_address(limited):
    allowed = int(ratelimit.SIGN_IN.split()[0])
    codes = []
    for i in range(allowed + 1):  # a browser each: a sign-in rotates the CSRF token
        client = limited.test_client()
        token = csrf_from(client)
        codes.append(client.post("/auth/dev", data={"csrf_token": token, "email": f"p{i}@example.com"},
                                 environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code)
    assert codes[:allowed] == [302] * allowed and codes[-1] == 429
    resp = client.post("/auth/dev", data={"csrf_token": token, "email": "x@example.com"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 429 and "Too many requests" in page and "<html" in page
    assert 0 < int(resp.headers["Retry-After"]) <= 60
    assert "20 per 1 minute" not in page
    # the form itself (GET) is not a sign-in start
    assert client.get("/auth/dev").status_code == 200


def test_status_polls_are_limited_per_person_and_answer_a_fragment(limited, monkeypatch):
    app = limited
    ada, bob = app.test_client(), app.test_client()
    dev_sign_in(ada, "ada@example.com")
    dev_sign_in(bob, "bob@example.com")
    with app.app_context():
        users = db.session.scalars(db.select(User).order_by(User.id)).all()
        group = Group(slug="team", name="Team")
        db.session.add_all([group, *[Membership(user=u, group=group, role=Role.lead) for u in users]])
        project = Project(group=group, slug="app", name="App")
        db.session.add(project)
        db.session.commit()
        pid = project.id
    headers = {"HX-Request": "true", "X-CSRFToken": csrf_from(ada, "/")}
    allowed = int(ratelimit.STATUS_POLLS.split()[0])
    for _ in range(allowed):  # ~5 a second for two minutes' worth of a fast IDE start: fine
        assert ada.post(f"/projects/{pid}/code/status", headers=headers).status_code == 200
    resp = ada.post(f"/projects/{pid}/code/status", headers=headers)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 429 and "Too many requests" in body and "<html" not in body
    assert int(resp.headers["Retry-After"]) > 0
    # per person: Bob, from the same address, still polls
    bob_headers = {"HX-Request": "true", "X-CSRFToken": csrf_from(bob, "/")}
    assert bob.post(f"/projects/{pid}/code/status", headers=bob_headers).status_code == 200


def test_polling_backs_off_on_429_instead_of_dying():
    """static/js/portal.js keeps a polling partial alive on 429/5xx/network errors."""
    from tests.conftest import ROOT
    js = (ROOT / "static" / "js" / "portal.js").read_text()
    status = (ROOT / "templates" / "code" / "_status.html").read_text()
    assert 'hx-trigger="load delay' in status  # what portalPoller() recognises
    assert "xhr.status === 429" in js and "Retry-After" in js and "htmx.ajax" in js
    assert "htmx:sendError" in js and "Math.min(Math.max(wait, 1), 60)" in js


def test_ratelimit_storage_setting(make_app):
    from portal.config import ConfigError, Settings
    assert Settings.from_env({"PORTAL_DEV": "1"}).ratelimit_storage == "memory://"
    with pytest.raises(ConfigError, match="PORTAL_RATELIMIT_STORAGE"):
        Settings.from_env({"PORTAL_DEV": "1", "PORTAL_RATELIMIT_STORAGE": "localhost:6379"})
    masked = Settings.from_env({"PORTAL_DEV": "1", "PORTAL_RATELIMIT_STORAGE":
                                "redis://:hunter2secret@redis:6379"}).public_view()
    assert "hunter2secret" not in masked["ratelimit_storage"]
    app = make_app(PORTAL_RATELIMIT_STORAGE="memory://", flask={"RATELIMIT_ENABLED": True})
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
