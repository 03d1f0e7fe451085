"""CoderClient against the simulated Coder, over real HTTP: every method, every typed error."""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from portal.clients.coder import CoderClient, CoderWorkspace, MintedToken, readiness
from portal.clients.coder_types import workspace_from
from portal.clients.coder_status import CoderStage
from portal.clients.http import (
    BadRequest, BadResponse, Conflict, NotFound, RateLimited, ServerError, ServiceError,
    ServiceUnavailable, Unauthorized)
from portal.devstack.coder import StatusOverride
from portal.devstack.coder_apps import API_KEY_PARAM, cookie_name
from tests.contract import requires_contracts
from tests.fixtures.devstack_coder import check_coder_exchanges, start_coder_sim

REPO = "http://gitea.portal.localhost/group/proj.git"
PARAMS = {"git_repo": REPO, "ai_model": "small"}


def person(client: CoderClient, username: str = "alice") -> MintedToken:
    client.ensure_user(f"{username}@example.org", username, username.title())
    return client.mint_token(username, "portal", 3600)


def workspace(client: CoderClient, owner: str = "alice", name: str = "proj-1") -> CoderWorkspace:
    template = client.template_by_name(None, "portal-workspace")
    return client.create_workspace(owner, name, template.id, PARAMS, ttl_ms=3_600_000)


def wait_for(client: CoderClient, owner: str, name: str, stage: str,
             timeout: float = 10) -> list[str]:
    """Poll readiness until `stage`; return the distinct stages seen, in order."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.status(owner, name)
        if not seen or seen[-1] != status.stage:
            seen.append(status.stage)
        if status.stage == stage:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"never reached {stage}; saw {seen}")


# -- deployment, organizations, users --------------------------------------------------------
def test_buildinfo_needs_no_token(coder_sim):
    client = CoderClient(coder_sim.url, "not-a-token")
    assert client.buildinfo().version.startswith("v2.")


def test_default_organization_and_by_name(coder_client, coder_sim):
    org_id = coder_client.organization_id()
    assert org_id == coder_sim.sim.store.org["id"]
    assert coder_client.organization_id() == org_id
    assert coder_sim.sim.count("/api/v2/organizations") == 1  # cached
    named = CoderClient(coder_sim.url, coder_sim.admin_token, organization="coder")
    assert named.organization_id() == org_id
    with pytest.raises(NotFound):
        CoderClient(coder_sim.url, coder_sim.admin_token, organization="nope").organization_id()


def test_create_and_get_user(coder_client, coder_sim):
    user = coder_client.create_user("alice@example.org", "alice", "Alice")
    assert user.username == "alice" and user.login_type == "none"
    assert user.organization_ids == (coder_client.organization_id(),)
    assert coder_client.get_user("alice").id == user.id
    assert coder_client.get_user("ALICE@example.org").id == user.id
    assert coder_client.get_user(user.id).username == "alice"
    assert coder_client.get_user("nobody") is None          # Coder's 400, not a 404
    assert coder_client.get_user("nobody@example.org") is None
    with pytest.raises(Conflict):
        coder_client.create_user("alice@example.org", "alice", "Alice")


def test_create_user_password_login_type_sends_a_password(coder_sim):
    client = CoderClient(coder_sim.url, coder_sim.admin_token, login_type="password")
    assert client.create_user("p@example.org", "pat").login_type == "password"


def test_create_user_oidc_refused_unless_configured(coder_sim):
    client = CoderClient(coder_sim.url, coder_sim.admin_token, login_type="oidc")
    with pytest.raises(BadRequest, match="OIDC"):
        client.create_user("o@example.org", "olga")
    coder_sim.sim.oidc_enabled = True
    assert client.create_user("o@example.org", "olga").login_type == "oidc"


def test_create_user_invalid_name_is_bad_request(coder_client):
    with pytest.raises(BadRequest) as info:
        coder_client.create_user("x@example.org", "bad_name")
    assert info.value.detail["validations"][0]["field"] == "username"


def test_ensure_user_is_idempotent(coder_client, coder_sim):
    first = coder_client.ensure_user("alice@example.org", "alice", "Alice")
    assert coder_client.ensure_user("alice@example.org", "alice", "Alice").id == first.id
    # Same email under another username: the existing account wins.
    assert coder_client.ensure_user("alice@example.org", "alice2").username == "alice"
    with pytest.raises(ServiceError) as info:  # username held by someone else's email
        coder_client.ensure_user("mallory@example.org", "alice")
    assert info.value.status == 409
    assert sorted(coder_sim.sim.state()["users"]) == ["admin", "alice"]


# -- tokens ----------------------------------------------------------------------------------
def test_mint_token_lifetime_in_nanoseconds_and_usable(coder_client, coder_sim):
    coder_client.ensure_user("alice@example.org", "alice")
    before = time.time()
    minted = coder_client.mint_token("alice", "portal", 7200)
    assert minted.secret_key.startswith(minted.key_id + "-")
    assert minted.secret_key not in repr(minted)
    key = coder_sim.sim.store.keys[minted.key_id]
    assert abs(key.expires_at - before - 7200) < 5
    me = coder_client.as_user(minted.secret_key).get_user("me")
    assert me.username == "alice" and me.status == "active"  # dormant until first use
    with pytest.raises(Conflict):
        coder_client.mint_token("alice", "portal", 60)
    with pytest.raises(BadRequest, match="lifetime"):
        coder_client.mint_token("alice", "too-long",
                                 coder_sim.sim.max_token_lifetime_seconds + 60)


def test_delete_token_revokes_it(coder_client):
    minted = person(coder_client)
    assert coder_client.delete_token("alice", minted.key_id) is True
    with pytest.raises(Unauthorized):
        coder_client.as_user(minted.secret_key).get_user("me")
    assert coder_client.delete_token("alice", minted.key_id) is False
    assert coder_client.delete_token("ghost", "abcdefghij") is False


def test_expired_and_revoked_tokens_are_unauthorized(coder_client, coder_sim):
    coder_client.ensure_user("alice@example.org", "alice")
    short = coder_client.mint_token("alice", "short", 0.3)
    time.sleep(0.4)
    with pytest.raises(Unauthorized, match="expired"):
        coder_client.as_user(short.secret_key).list_workspaces("alice")
    minted = coder_client.mint_token("alice", "portal", 3600)
    coder_sim.sim.revoke_tokens("alice")
    with pytest.raises(Unauthorized):
        coder_client.as_user(minted.secret_key).list_workspaces("alice")
    with pytest.raises(Unauthorized):
        CoderClient(coder_sim.url, "abcdefghij-0123456789012345678901").organization_id()


def test_person_token_cannot_read_someone_else(coder_client):
    alice = person(coder_client, "alice")
    person(coder_client, "bob")
    workspace(coder_client, "bob", "proj-1")
    as_alice = coder_client.as_user(alice.secret_key)
    assert as_alice.get_workspace("bob", "proj-1") is None
    assert as_alice.list_workspaces("bob") == []
    with pytest.raises(NotFound):
        as_alice.mint_token("bob", "stolen", 60)


# -- templates and workspaces ----------------------------------------------------------------
def test_template_and_rich_parameters(coder_client):
    template = coder_client.template_by_name(None, "portal-workspace")
    params = {p.name: p for p in coder_client.rich_parameters(template.active_version_id)}
    assert params["git_repo"].required is True
    assert params["ai_model"].required is False and params["ai_model"].default_value == ""
    with pytest.raises(NotFound):
        coder_client.template_by_name(None, "missing")


def test_workspace_goes_through_stages_to_ready(coder_client, coder_sim):
    coder_sim.sim.build_seconds, coder_sim.sim.agent_seconds = 1.0, 0.8
    person(coder_client)
    assert coder_client.status("alice", "proj-1").stage == "not_created"
    created = workspace(coder_client)
    assert readiness(created).stage == "pending"
    seen = wait_for(coder_client, "alice", "proj-1", "ready")
    assert seen == ["pending", "building", "starting_agent", "ready"]
    status = coder_client.status("alice", "proj-1")
    assert status.ready and not status.failed and status.agent_id and status.build_id


def test_create_workspace_validation(coder_client):
    person(coder_client)
    template = coder_client.template_by_name(None, "portal-workspace")
    with pytest.raises(BadRequest, match="not present"):
        coder_client.create_workspace("alice", "ws-a", template.id, {**PARAMS, "nope": "1"})
    with pytest.raises(BadRequest, match="git_repo"):
        coder_client.create_workspace("alice", "ws-b", template.id, {"ai_model": "x"})
    coder_client.create_workspace("alice", "ws-c", template.id, PARAMS)
    with pytest.raises(Conflict):
        coder_client.create_workspace("alice", "ws-c", template.id, PARAMS)
    assert [w.name for w in coder_client.list_workspaces("alice")] == ["ws-c"]


@pytest.mark.parametrize("name", ["Bad_Name", "new", "a" * 33, "-lead", "dou--ble"],
                         ids=["underscore", "reserved", "too-long", "leading-dash", "double-dash"])
def test_invalid_workspace_name_is_bad_request(coder_client, name):
    person(coder_client)
    template = coder_client.template_by_name(None, "portal-workspace")
    with pytest.raises(BadRequest):
        coder_client.create_workspace("alice", name, template.id, PARAMS)
    assert coder_client.list_workspaces("alice") == []


def test_missing_workspaces_are_none(coder_client):
    assert coder_client.get_workspace("alice", "nothing") is None     # owner unknown
    person(coder_client)
    assert coder_client.get_workspace("alice", "nothing") is None
    assert coder_client.get_workspace_by_id("00000000-0000-0000-0000-000000000000") is None


def test_list_workspaces_in_one_call(coder_client, coder_sim):
    for name in ("alice", "bob"):
        person(coder_client, name)
        workspace(coder_client, name, "proj-1")
    workspace(coder_client, "alice", "proj-2")
    before = coder_sim.sim.count("/api/v2/workspaces", "GET")
    mine = coder_client.list_workspaces("alice")
    assert sorted(w.name for w in mine) == ["proj-1", "proj-2"]
    assert coder_sim.sim.count("/api/v2/workspaces", "GET") == before + 1
    ids = [w.id for w in mine]
    before = coder_sim.sim.count("/api/v2/workspaces", "GET")
    assert sorted(w.id for w in coder_client.workspaces_by_id(ids)) == sorted(ids)
    assert coder_sim.sim.count("/api/v2/workspaces", "GET") == before + 1
    assert coder_client.workspaces_by_id([]) == []


def test_stop_start_delete(coder_client, coder_sim):
    token = person(coder_client)
    ws = workspace(coder_client)
    with pytest.raises(Conflict):  # a build is already active
        coder_client.stop_workspace(ws.id)
    wait_for(coder_client, "alice", "proj-1", "ready")
    as_alice = coder_client.as_user(token.secret_key)
    assert as_alice.stop_workspace(ws.id).transition == "stop"
    assert wait_for(coder_client, "alice", "proj-1", "stopped")[-1] == "stopped"
    as_alice.start_workspace(ws.id)
    wait_for(coder_client, "alice", "proj-1", "ready")
    coder_client.delete_workspace(ws.id)
    assert coder_client.status("alice", "proj-1").stage in ("deleting", "not_created")
    time.sleep(0.4)
    assert coder_client.get_workspace("alice", "proj-1") is None
    assert coder_client.get_workspace_by_id(ws.id) is None  # Coder's 410


def test_failed_build_reports_job_error_and_log_errors(coder_client, coder_sim):
    coder_sim.sim.fail_builds = 1
    person(coder_client)
    ws = workspace(coder_client)
    wait_for(coder_client, "alice", "proj-1", "failed")
    status = coder_client.status("alice", "proj-1")
    assert status.failed and not status.ready
    assert status.job_error == coder_sim.sim.fail_message
    assert status.job_error in status.message
    log = coder_client.build_logs(ws.latest_build.id, tail=3)
    assert len(log.lines) == 3 and log.stage == "Cleaning Up"
    assert any(coder_sim.sim.fail_message in line for line in log.errors)
    retried = coder_client.start_workspace(ws.id)  # the retry button
    assert retried.transition == "start"
    wait_for(coder_client, "alice", "proj-1", "ready")


def test_extend_deadline(coder_client, coder_sim):
    person(coder_client)
    ws = workspace(coder_client)
    wait_for(coder_client, "alice", "proj-1", "ready")
    later = datetime.now(timezone.utc) + timedelta(hours=3)
    coder_client.extend_deadline(ws.id, later)
    deadline = coder_client.get_workspace("alice", "proj-1").latest_build.deadline
    assert abs(deadline - later) < timedelta(seconds=1)
    with pytest.raises(BadRequest) as info:
        coder_client.extend_deadline(ws.id, datetime.now(timezone.utc) + timedelta(minutes=5))
    assert "30 minutes" in info.value.detail["validations"][0]["detail"]


# -- apps and the auth-redirect hand-off ------------------------------------------------------
def test_app_urls(coder_client, coder_sim):
    port = coder_sim.server.port
    assert coder_client.wildcard_host() == f"*.portal.localhost:{port}"
    assert coder_client.app_url("alice", "proj-1") == \
        f"http://code-server--main--proj-1--alice.portal.localhost:{port}/"
    assert coder_client.app_url("alice", "proj-1", folder="/home/coder/project").endswith(
        "/?folder=%2Fhome%2Fcoder%2Fproject")
    override = CoderClient(coder_sim.url, "x", wildcard_host="*--apps.example.com")
    assert override.app_url("a", "w") == "http://code-server--main--w--a--apps.example.com/"
    as_url = CoderClient(coder_sim.url, "x", wildcard_host="https://*.apps.example.com:8443")
    assert as_url.app_url("a", "w") == "http://code-server--main--w--a.apps.example.com:8443/"


def test_no_wildcard_configured_is_bad_response(coder_client, coder_sim):
    coder_sim.sim.wildcard_host = None
    with pytest.raises(BadResponse, match="wildcard"):
        coder_client.app_url("alice", "proj-1")


def _get(url: str, **headers) -> requests.Response:
    """A browser-like request to an app host name served on loopback (Host header)."""
    parts = urlsplit(url)
    port = parts.port
    target = f"http://127.0.0.1:{port}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
    return requests.get(target, headers={"Host": parts.netloc, **headers},
                        allow_redirects=False, timeout=5)


def test_full_flow_to_the_ide(coder_client, coder_sim):
    token = person(coder_client)
    workspace(coder_client)
    wait_for(coder_client, "alice", "proj-1", "ready")
    app_url = coder_client.app_url("alice", "proj-1", folder="/home/coder/project/src")
    location = coder_client.auth_redirect(token.secret_key, app_url)
    assert location.startswith(app_url.split("?")[0])
    query = parse_qs(urlsplit(location).query)
    assert query["folder"] == ["/home/coder/project/src"] and API_KEY_PARAM in query
    assert token.secret_key not in location

    hop = _get(location)                                   # the app host swaps key for cookie
    assert hop.status_code in (302, 303, 307)
    assert API_KEY_PARAM not in hop.headers["Location"]
    assert "folder=%2Fhome%2Fcoder%2Fproject%2Fsrc" in hop.headers["Location"]
    set_cookie = hop.headers["Set-Cookie"]
    name = cookie_name(coder_sim.wildcard_host)
    assert set_cookie.startswith(name + "=")
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    assert _get(location).status_code == 400               # the key works once

    cookie = set_cookie.split(";", 1)[0]
    page = _get(app_url, Cookie=cookie)
    assert page.status_code == 200
    assert REPO in page.text and "/home/coder/project/src" in page.text
    assert "Content-Security-Policy" not in page.headers
    assert "X-Frame-Options" not in page.headers
    bare = _get(app_url)                                   # no cookie: back to auth-redirect
    assert bare.status_code in (303, 307)
    assert bare.headers["Location"].startswith(coder_sim.url + "/api/v2/applications/auth-redirect")
    api = requests.get(coder_sim.url + "/api/v2/buildinfo", timeout=5)
    assert api.headers["Content-Security-Policy"] == "frame-ancestors 'none'"


def test_auth_redirect_errors_are_typed(coder_client, coder_sim):
    person(coder_client)
    app_url = coder_client.app_url("alice", "proj-1")
    with pytest.raises(Unauthorized):
        coder_client.auth_redirect("abcdefghij-0123456789012345678901", app_url)
    with pytest.raises(ValueError):  # never silently the admin token
        coder_client.auth_redirect("", app_url)
    with pytest.raises(BadRequest):
        coder_client.auth_redirect(coder_sim.admin_token, "http://evil.example.com/")
    coder_sim.sim.status_override = StatusOverride(200, path="auth-redirect")
    with pytest.raises(BadResponse, match="expected a redirect"):
        coder_client.auth_redirect(coder_sim.admin_token, app_url)


# -- failures: every one typed ---------------------------------------------------------------
def test_coder_down_is_service_unavailable(coder_sim):
    client = CoderClient(coder_sim.url, coder_sim.admin_token, connect_timeout=0.5,
                         read_timeout=0.5, backoff=0.01)
    coder_sim.stop()
    with pytest.raises(ServiceUnavailable, match="connection failed"):
        client.organization_id()


def test_slower_than_read_timeout_is_bounded(coder_sim):
    client = CoderClient(coder_sim.url, coder_sim.admin_token, read_timeout=0.3, backoff=0.01)
    coder_sim.sim.slow_seconds = 0.6
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable, match="timed out"):
        client.organization_id()
    assert time.monotonic() - started < 3
    assert coder_sim.sim.count("/api/v2/organizations") == 3   # 1 try + 2 retries


def test_rate_limit_retried_for_get_then_raised(coder_client, coder_sim):
    coder_sim.sim.status_override = StatusOverride(429, retry_after=0.05, times=1)
    assert coder_client.organization_id()                      # recovered on retry
    coder_sim.sim.status_override = StatusOverride(429, retry_after=0.05)
    before = coder_sim.sim.count("/api/v2/regions")
    with pytest.raises(RateLimited) as info:
        coder_client.wildcard_host()
    assert info.value.retry_after == 0.05
    assert coder_sim.sim.count("/api/v2/regions") - before == 3


def test_rate_limit_on_post_not_retried(coder_client, coder_sim):
    coder_client.organization_id()
    coder_sim.sim.status_override = StatusOverride(429, retry_after=0, path="/api/v2/users")
    with pytest.raises(RateLimited):
        coder_client.create_user("a@example.org", "alice")
    assert coder_sim.sim.count("/api/v2/users", "POST") == 1


def test_server_error_and_unavailable(coder_client, coder_sim):
    coder_sim.sim.status_override = StatusOverride(500)
    with pytest.raises(ServerError):
        coder_client.organization_id()
    assert coder_sim.sim.count("/api/v2/organizations") == 1   # a 500 is not retried
    coder_sim.sim.status_override = StatusOverride(503)
    with pytest.raises(ServiceUnavailable):
        coder_client.organization_id()
    assert coder_sim.sim.count("/api/v2/organizations") == 4


def outcome(call, client) -> str:
    """The name of the ServiceError `call(client)` raised, or "ok"; anything untyped propagates."""
    try:
        call(client)
    except ServiceError as exc:
        return type(exc).__name__
    return "ok"


@pytest.mark.parametrize("kind", ["text", "shape"])
def test_malformed_replies_are_bad_response(coder_client, coder_sim, kind):
    token = person(coder_client)
    ws = workspace(coder_client)
    version = coder_client.template_by_name(None, "portal-workspace").active_version_id
    coder_sim.sim.malformed = kind
    calls = {
        "organization_id": lambda c: CoderClient(coder_sim.url, coder_sim.admin_token)
        .organization_id(),
        "get_user": lambda c: c.get_user("alice"),
        "find_user_by_email": lambda c: c.find_user_by_email("alice@example.org"),
        "create_user": lambda c: c.create_user("b@example.org", "bob"),
        "mint_token": lambda c: c.mint_token("alice", f"t-{kind}", 60),
        "template_by_name": lambda c: c.template_by_name(None, "portal-workspace"),
        "rich_parameters": lambda c: c.rich_parameters(version),
        "get_workspace": lambda c: c.get_workspace("alice", "proj-1"),
        "get_workspace_by_id": lambda c: c.get_workspace_by_id(ws.id),
        "list_workspaces": lambda c: c.list_workspaces("alice"),
        "workspaces_by_id": lambda c: c.workspaces_by_id([ws.id]),
        "create_workspace": lambda c: c.create_workspace(
            "alice", f"x-{kind}", ws.template_id, PARAMS),
        "build_logs": lambda c: c.build_logs(ws.latest_build.id),
        "buildinfo": lambda c: c.buildinfo(),
        "wildcard_host": lambda c: CoderClient(coder_sim.url, token.secret_key).wildcard_host(),
    }
    # One table, so a method that accepts a malformed reply does not hide the others.
    seen = {name: outcome(call, coder_client) for name, call in calls.items()}
    assert seen == dict.fromkeys(calls, "BadResponse")


# Each fault and the typed error every method must raise under it. Under a malformed body
# the methods whose reply carries no JSON to read (a 204, a redirect, a 404 for an unknown
# key) still succeed, and the simulator refuses a few calls first (a build while the first
# is running, an unknown template version, a deadline on a workspace that is not running).
NOT_READ_UNDER_MALFORMED = {
    "delete_token": "ok", "auth_redirect": "ok",
    "rich_parameters": "NotFound", "start_workspace": "Conflict", "stop_workspace": "Conflict",
    "delete_workspace": "Conflict", "extend_deadline": "BadRequest"}
FAULTS = {
    "malformed-text": (dict(malformed="text"), "BadResponse", NOT_READ_UNDER_MALFORMED),
    "malformed-shape": (dict(malformed="shape"), "BadResponse", NOT_READ_UNDER_MALFORMED),
    "500": (dict(status_override=StatusOverride(500)), "ServerError", {}),
    "503": (dict(status_override=StatusOverride(503)), "ServiceUnavailable", {}),
    "429": (dict(status_override=StatusOverride(429, retry_after=0)), "RateLimited", {}),
    "401": (dict(status_override=StatusOverride(401)), "Unauthorized", {}),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_no_untyped_exception_for_any_method(coder_client, coder_sim, fault):
    """Every public method, under every fault, raises the ServiceError subclass for it."""
    knobs, expected, exceptions = FAULTS[fault]
    token = person(coder_client)
    ws = workspace(coder_client)
    app_url = coder_client.app_url("alice", "proj-1")
    methods = {
        "buildinfo": lambda c: c.buildinfo(), "organization_id": lambda c: c.organization_id(),
        "wildcard_host": lambda c: c.wildcard_host(),
        "get_user": lambda c: c.get_user("alice"),
        "find_user_by_email": lambda c: c.find_user_by_email("alice@example.org"),
        "create_user": lambda c: c.create_user("z@example.org", "zed"),
        "ensure_user": lambda c: c.ensure_user("y@example.org", "yan"),
        "mint_token": lambda c: c.mint_token("alice", "n", 60),
        "delete_token": lambda c: c.delete_token("alice", "abcdefghij"),
        "template_by_name": lambda c: c.template_by_name(None, "portal-workspace"),
        "rich_parameters": lambda c: c.rich_parameters("v"),
        "get_workspace": lambda c: c.get_workspace("alice", "proj-1"),
        "get_workspace_by_id": lambda c: c.get_workspace_by_id(ws.id),
        "list_workspaces": lambda c: c.list_workspaces("alice"),
        "workspaces_by_id": lambda c: c.workspaces_by_id([ws.id]),
        "create_workspace": lambda c: c.create_workspace("alice", "w2", ws.template_id, PARAMS),
        "start_workspace": lambda c: c.start_workspace(ws.id),
        "stop_workspace": lambda c: c.stop_workspace(ws.id),
        "delete_workspace": lambda c: c.delete_workspace(ws.id),
        "build_logs": lambda c: c.build_logs(ws.latest_build.id),
        "extend_deadline": lambda c: c.extend_deadline(
            ws.id, datetime.now(timezone.utc) + timedelta(hours=2)),
        "status": lambda c: c.status("alice", "proj-1"),
        "auth_redirect": lambda c: c.auth_redirect(token.secret_key, app_url),
    }
    coder_sim.sim.set_faults(**knobs)
    seen = {name: outcome(method, CoderClient(coder_sim.url, coder_sim.admin_token,
                                              backoff=0.001, read_timeout=2))
            for name, method in methods.items()}
    assert seen == {name: exceptions.get(name, expected) for name in methods}


def test_tokens_never_in_errors_or_logs(coder_client, coder_sim, caplog):
    caplog.set_level(logging.DEBUG)
    minted = person(coder_client)
    coder_sim.sim.revoke_tokens("alice")
    with pytest.raises(Unauthorized) as info:
        coder_client.as_user(minted.secret_key).get_user("me")
    for secret in (minted.secret_key, coder_sim.admin_token):
        assert secret not in str(info.value) and secret not in info.value.user_message
        assert secret not in caplog.text
        assert secret not in repr(coder_client) and secret not in repr(minted)


def test_readiness_rule_edge_cases():
    def ws(status="running", transition="start", job="succeeded", agent="connected",
           lifecycle="ready", health="healthy", error=""):
        app = {"slug": "code-server", "health": health}
        agents = [{"id": "a1", "name": "main", "status": agent, "lifecycle_state": lifecycle,
                   "apps": [app]}]
        return workspace_from({"id": "w", "name": "proj-1", "owner_name": "alice",
                               "latest_build": {"id": "b", "status": status,
                                                "transition": transition,
                                                "job": {"status": job, "error": error},
                                                "resources": [{"agents": agents}]}},
                              "GET", "/workspaces/w")
    assert readiness(ws()).ready
    assert readiness(ws(health="disabled")).ready
    warned = readiness(ws(lifecycle="start_error"))
    assert warned.ready and warned.warnings
    assert readiness(ws(lifecycle="start_timeout")).ready
    assert readiness(ws(health="initializing")).stage == "starting_agent"
    assert readiness(ws(agent="connecting", lifecycle="created")).stage == "starting_agent"
    assert readiness(ws(lifecycle="starting")).stage == "starting_agent"
    failed = readiness(ws(status="failed", job="failed", error="boom"))
    assert failed.failed and failed.job_error == "boom" and failed.stage == "failed"
    assert readiness(ws(status="starting", job="running")).stage == "building"
    assert readiness(ws(status="pending", job="pending")).stage == "pending"
    assert readiness(ws(status="stopping", transition="stop", job="running")).stage == "stopping"
    assert readiness(ws(status="stopped", transition="stop")).stage == "stopped"
    assert readiness(ws(status="deleting", transition="delete", job="running")).stage == "deleting"
    assert readiness(ws(status="canceled", job="canceled")).stage == "stopped"
    assert readiness(None).stage == "not_created"


@pytest.mark.parametrize("reply", [
    {"id": "w", "name": "n", "owner_name": "o", "latest_build": "garbage"},
    {"id": "w", "name": "n", "owner_name": "o", "latest_build": None},
    {"id": "w", "name": "n", "owner_name": "o",
     "latest_build": {"id": "b", "status": "running", "transition": "start"}},
    {"name": "n", "owner_name": "o",
     "latest_build": {"id": "b", "status": "running", "transition": "start",
                      "job": {"status": "succeeded"}}},
    ["not", "an", "object"],
])
def test_garbled_workspace_is_bad_response(reply):
    with pytest.raises(BadResponse) as info:
        workspace_from(reply, "GET", "/workspaces/w")
    assert info.value.service == "coder" and info.value.path == "/workspaces/w"


def test_partial_agents_and_apps_are_read_defensively():
    """While a workspace builds, its resources, agents and apps may be absent or odd."""
    build = {"id": "b", "status": "running", "transition": "start",
             "job": {"status": "succeeded"},
             "resources": [None, {"agents": "x"}, {"agents": [7, {"name": "main", "apps": None}]}]}
    ws = workspace_from({"id": "w", "name": "n", "owner_name": "o", "latest_build": build},
                        "GET", "/workspaces/w")
    assert [a.name for a in ws.latest_build.agents] == ["main"]
    assert readiness(ws).stage == CoderStage.starting_agent


# -- contract ----------------------------------------------------------------------------------
@requires_contracts
def test_every_client_request_matches_the_coder_contract():
    running = start_coder_sim(build_seconds=0.2, agent_seconds=0.1)
    try:
        client = CoderClient(running.url, running.admin_token)
        token = person(client)
        ws = workspace(client)
        wait_for(client, "alice", "proj-1", "ready")
        client.list_workspaces("alice")
        client.workspaces_by_id([ws.id])
        client.rich_parameters(client.template_by_name(None, "portal-workspace")
                               .active_version_id)
        client.build_logs(ws.latest_build.id)
        client.extend_deadline(ws.id, datetime.now(timezone.utc) + timedelta(hours=2))
        client.auth_redirect(token.secret_key, client.app_url("alice", "proj-1"))
        client.stop_workspace(ws.id)
        client.delete_token("alice", token.key_id)
        client.buildinfo()
    finally:
        running.stop()
    exchanges = running.api_exchanges()
    assert len(exchanges) > 15
    check_coder_exchanges(exchanges)


def test_suspended_user_keys_are_refused_until_activated(coder_client, coder_sim):
    minted = person(coder_client)
    as_alice = coder_client.as_user(minted.secret_key)
    assert as_alice.get_user("me").status == "active"
    assert coder_client.set_user_active("alice", False).status == "suspended"
    with pytest.raises(Unauthorized) as refused:  # coderd/httpmw/apikey.go
        as_alice.get_user("me")
    assert "not active" in refused.value.message
    assert coder_client.set_user_active("alice", True).status == "active"
    assert as_alice.get_user("me").username == "alice"
    assert coder_client.set_user_active("nobody-here", False) is None
    with pytest.raises(BadRequest):  # an owner cannot suspend themself
        coder_client.set_user_active(coder_sim.sim.admin_username, False)
