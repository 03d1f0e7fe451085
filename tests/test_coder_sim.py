"""The simulated Coder behaves like the real one where the client can't easily tell (NOTES.md)."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from portal.devstack.coder_apps import SIGNED_APP_TOKEN_COOKIE, cookie_name
from portal.devstack.coder_state import SIGNED_OUT, USER_ERROR_MESSAGE

TIMEOUT = 5


def api(sim, method, path, token=None, **kwargs):
    headers = {"Coder-Session-Token": token} if token else {}
    return requests.request(method, f"{sim.url}/api/v2{path}", headers=headers,
                            allow_redirects=False, timeout=TIMEOUT, **kwargs)


def admin(sim, method, path, **kwargs):
    return api(sim, method, path, sim.admin_token, **kwargs)


def org_id(sim):
    return admin(sim, "GET", "/organizations").json()[0]["id"]


def new_user(sim, username="alice", **extra):
    body = {"email": f"{username}@example.org", "username": username, "login_type": "none",
            "organization_ids": [org_id(sim)], **extra}
    return admin(sim, "POST", "/users", json=body)


def test_health_and_buildinfo_need_no_token(coder_sim):
    health = requests.get(coder_sim.url + "/healthz", timeout=TIMEOUT)
    assert health.text == "OK" and health.headers["Content-Type"].startswith("text/plain")
    assert api(coder_sim, "GET", "/buildinfo").status_code == 200


def test_unauthenticated_replies_have_coder_shape(coder_sim):
    missing = api(coder_sim, "GET", "/organizations")
    assert missing.status_code == 401
    assert missing.json()["message"] == SIGNED_OUT and "must be provided" in missing.json()["detail"]
    bad = api(coder_sim, "GET", "/organizations", token="not-a-coder-key")
    assert bad.status_code == 401 and "format" in bad.json()["detail"]
    unknown = api(coder_sim, "GET", "/organizations", token="abcdefghij-0123456789012345678901")
    assert unknown.status_code == 401 and unknown.json()["detail"] == "API key is invalid."
    coder_sim.exempt_paths.add("/no/such/route")
    route = admin(coder_sim, "GET", "/no/such/route")
    assert route.status_code == 404 and route.json() == {"message": "Route not found."}


def test_user_creation_rules(coder_sim):
    with_password = new_user(coder_sim, password="hunter2hunter2")
    assert with_password.status_code == 400 and "Password" in with_password.json()["message"]
    no_org = new_user(coder_sim, organization_ids=[])
    assert no_org.status_code == 400
    assert no_org.json()["validations"][0]["field"] == "organization_ids"
    bad_name = new_user(coder_sim, username="no_underscores")
    assert bad_name.status_code == 400 and bad_name.json()["message"] == "Validation failed."
    created = new_user(coder_sim)
    assert created.status_code == 201 and created.json()["status"] == "dormant"
    assert new_user(coder_sim).status_code == 409


def test_unknown_user_parameter_is_400_not_404(coder_sim):
    reply = admin(coder_sim, "POST", "/users/ghost/keys/tokens", json={"lifetime": 10**9})
    assert reply.status_code == 400 and reply.json()["message"] == USER_ERROR_MESSAGE


def test_token_lifetime_is_nanoseconds(coder_sim):
    new_user(coder_sim)
    too_long = admin(coder_sim, "POST", "/users/alice/keys/tokens",
                     json={"token_name": "a", "lifetime": 31 * 86400 * 10**9})
    assert too_long.status_code == 400
    ok = admin(coder_sim, "POST", "/users/alice/keys/tokens",
               json={"token_name": "a", "lifetime": 3600 * 10**9})
    assert ok.status_code == 201
    key_id, secret = ok.json()["key"].split("-")
    assert len(key_id) == 10 and len(secret) == 22


def _ready_workspace(sim):
    sim.sim.build_seconds = sim.sim.agent_seconds = 0
    new_user(sim)
    token = admin(sim, "POST", "/users/alice/keys/tokens",
                  json={"token_name": "p", "lifetime": 3600 * 10**9}).json()["key"]
    template = admin(sim, "GET", f"/organizations/{org_id(sim)}/templates/portal-workspace").json()
    created = api(sim, "POST", "/users/me/workspaces", token, json={
        "name": "proj-1", "template_id": template["id"],
        "rich_parameter_values": [{"name": "git_repo", "value": "http://g/r.git"}]})
    assert created.status_code == 201
    port = urlsplit(sim.url).port
    return token, f"code-server--main--proj-1--alice.portal.localhost:{port}", created.json()


def _app(sim, host, path="/", **headers):
    return requests.get(sim.url + path, headers={"Host": host, **headers},
                        allow_redirects=False, timeout=TIMEOUT)


def test_query_string_token_gets_no_lasting_cookie(coder_sim):
    token, host, _ws = _ready_workspace(coder_sim)
    page = _app(coder_sim, host, f"/?coder_session_token={token}&folder=/src")
    assert page.status_code == 200 and "/src" in page.text
    cookies = page.headers.get("Set-Cookie", "")
    assert cookie_name(coder_sim.wildcard_host) not in cookies
    assert SIGNED_APP_TOKEN_COOKIE in cookies and "Max-Age=60" in cookies
    assert token not in cookies


def test_app_host_access_rules(coder_sim):
    token, host, ws = _ready_workspace(coder_sim)
    admin(coder_sim, "POST", "/users", json={
        "email": "bob@example.org", "username": "bob", "login_type": "none",
        "organization_ids": [org_id(coder_sim)]})
    bob = admin(coder_sim, "POST", "/users/bob/keys/tokens",
                json={"token_name": "p", "lifetime": 3600 * 10**9}).json()["key"]
    assert _app(coder_sim, host, **{"Coder-Session-Token": bob}).status_code == 404
    assert _app(coder_sim, host, **{"Coder-Session-Token": token}).status_code == 200
    assert _app(coder_sim, host.replace("proj-1", "nope"),
                **{"Coder-Session-Token": token}).status_code == 404
    api(coder_sim, "POST", f"/workspaces/{ws['id']}/builds", token, json={"transition": "stop"})
    offline = _app(coder_sim, host, **{"Coder-Session-Token": token})
    assert offline.status_code == 502 and "Application Unavailable" in offline.text


def test_auth_redirect_validates_redirect_uri(coder_sim):
    token, host, _ws = _ready_workspace(coder_sim)
    assert api(coder_sim, "GET", "/applications/auth-redirect", token).status_code == 400
    away = api(coder_sim, "GET", "/applications/auth-redirect", token,
               params={"redirect_uri": "http://evil.example.com/"})
    assert away.status_code == 400
    ok = api(coder_sim, "GET", "/applications/auth-redirect", token,
             params={"redirect_uri": f"http://{host}/"})
    assert ok.status_code == 303 and ok.headers["Location"].startswith(f"http://{host}/?")


def test_dashboard_is_not_frameable(coder_sim):
    page = requests.get(coder_sim.url + "/", timeout=TIMEOUT)
    assert page.headers["Content-Security-Policy"] == "frame-ancestors 'none'"


def test_faults_over_http(coder_sim):
    control = coder_sim.url + "/__sim/faults"
    reply = requests.post(control, json={"build_seconds": 5, "status_override": {
        "status": 429, "retry_after": 2, "path": "/api/v2/organizations"}}, timeout=TIMEOUT)
    assert reply.status_code == 200 and reply.json()["knobs"]["build_seconds"] == 5
    limited = admin(coder_sim, "GET", "/organizations")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    assert limited.headers["X-Devstack-Fault"] == "status-429"
    assert "rate limited" in limited.json()["message"]
    assert admin(coder_sim, "GET", "/regions").status_code == 200   # other paths untouched
    assert requests.post(control, json={"nope": 1}, timeout=TIMEOUT).status_code == 400
    requests.post(control, json={"status_override": None, "malformed": "text"}, timeout=TIMEOUT)
    assert not admin(coder_sim, "GET", "/regions").headers["Content-Type"].startswith(
        "application/json")
    requests.post(coder_sim.url + "/__sim/reset", timeout=TIMEOUT)
    state = requests.get(coder_sim.url + "/__sim/state", timeout=TIMEOUT).json()
    assert state["malformed"] is None and state["status_override"] is None
    assert "admin" in state["users"]


def test_revoke_tokens_over_http(coder_sim):
    token, _host, _ws = _ready_workspace(coder_sim)
    requests.post(coder_sim.url + "/__sim/faults", json={"revoke_tokens": "alice"},
                  timeout=TIMEOUT)
    refused = api(coder_sim, "GET", "/users/me", token)
    assert refused.status_code == 401 and refused.json()["detail"] == "API key is invalid."
    still = admin(coder_sim, "GET", "/users/me")   # only alice's tokens were revoked
    assert still.status_code == 200 and still.json()["username"] == "admin"


@pytest.mark.parametrize("query, field", [("owner:", "q"), ("colour:red", "colour")])
def test_workspace_search_query_errors(coder_sim, query, field):
    reply = admin(coder_sim, "GET", "/workspaces", params={"q": query})
    assert reply.status_code == 400
    assert reply.json()["message"] == "Invalid workspace search query."
    assert [v["field"] for v in reply.json()["validations"]] == [field]
