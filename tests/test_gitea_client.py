"""GiteaClient against the simulated Gitea, over real HTTP (contract-checked at teardown)."""
from __future__ import annotations

import socket
import threading

import pytest
import requests

import portal.clients.gitea as gitea_module
from portal.clients.gitea import (CONTRIBUTOR_UNITS, PAGE_LIMIT, READER_UNITS, GiteaClient)
from portal.clients.http import (BadRequest, BadResponse, NotFound, RateLimited, ServerError,
                                 ServiceUnavailable, Unauthorized)


def _raw(gitea_sim, method, path, token=None, **kwargs):
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"token {token}"
    return requests.request(method, gitea_sim.url + path, headers=headers, timeout=5, **kwargs)


def _group(client: GiteaClient, org="ml-team"):
    client.create_org(org)
    return client.ensure_teams(org)


# -- server ------------------------------------------------------------------------------
def test_version_health_and_whoami(gitea_client, gitea_sim):
    assert gitea_client.version() == "1.26.3"
    assert gitea_client.health().ok
    me = gitea_client.whoami()
    assert me.is_admin and me.login == gitea_sim.sim.admin_login
    gitea_sim.sim.set_faults(health_fail=True)
    health = gitea_client.health()
    assert not health.ok and health.status == "fail"


def test_admin_token_scopes_are_discovered(gitea_client):
    scopes = gitea_client.admin_token_scopes()
    assert scopes == ("all",)
    assert GiteaClient.missing_admin_scopes(scopes) == []
    assert GiteaClient.missing_admin_scopes(["write:admin", "read:user"]) == [
        "write:organization", "write:repository", "write:user"]


def test_secrets_stay_out_of_repr(gitea_client):
    assert gitea_client.http.session.headers["Authorization"].startswith("token ")
    assert "devstack-gitea-admin-token" not in repr(gitea_client)
    gitea_client.create_user("alice", "alice@example.org", login_name="sub-alice")
    token = gitea_client.create_user_token("alice")
    assert token.secret and token.secret not in repr(token)


# -- users -------------------------------------------------------------------------------
def test_create_user_linked_to_auth_source_is_idempotent(gitea_client, gitea_sim):
    user = gitea_client.create_user("alice", "alice@example.org", login_name="sub-alice")
    assert (user.login, user.source_id, user.login_name) == ("alice", 1, "sub-alice")
    assert gitea_client.create_user("alice", "alice@example.org", login_name="sub-alice") == user
    stored = gitea_sim.sim.user("alice")
    assert stored.must_change_password is False and stored.password == ""
    sent = [e.body for e in gitea_sim.exchanges if e.path == "/api/v1/admin/users"]
    assert sent[0]["must_change_password"] is False and "password" not in sent[0]


def test_create_user_without_auth_source_gets_a_hidden_random_password(gitea_sim):
    client = gitea_sim.client()
    client.create_user("bob", "bob@example.org")
    client.create_user("carol", "carol@example.org")
    bob, carol = gitea_sim.sim.user("bob"), gitea_sim.sim.user("carol")
    assert len(bob.password) >= 32 and bob.password != carol.password
    assert not bob.must_change_password


def test_create_user_requires_sub_with_auth_source(gitea_client):
    with pytest.raises(ValueError):
        gitea_client.create_user("alice", "alice@example.org")


def test_create_user_refused_for_other_reasons_raises(gitea_client):
    with pytest.raises(BadRequest) as err:
        gitea_client.create_user("api", "api@example.org", login_name="s")
    assert err.value.status == 422 and "reserved" in err.value.message
    gitea_client.create_user("alice", "alice@example.org", login_name="s1")
    with pytest.raises(BadRequest):  # e-mail in use by another name: not "already exists"
        gitea_client.create_user("alice2", "alice@example.org", login_name="s2")


def test_get_user(gitea_client):
    assert gitea_client.get_user("nobody") is None
    gitea_client.create_user("alice", "alice@example.org", login_name="s")
    assert gitea_client.get_user("ALICE").login == "alice"


def test_user_created_without_must_change_password_false_cannot_use_tokens(gitea_sim):
    """NOTES.md: omitted must_change_password means true; that user's tokens get 403."""
    token = gitea_sim.admin_token
    reply = _raw(gitea_sim, "POST", "/api/v1/admin/users", token,
                 json={"username": "dave", "email": "dave@example.org", "password": "x" * 20})
    assert reply.status_code == 201
    minted = gitea_sim.client().create_user_token("dave")
    refused = _raw(gitea_sim, "GET", "/api/v1/user", minted.secret)
    assert refused.status_code == 403
    assert refused.json()["message"].startswith("You must change your password.")


# -- organisations and teams ---------------------------------------------------------------
def test_create_org_is_idempotent_and_owned(gitea_client, gitea_sim):
    org = gitea_client.create_org("ml-team")
    assert org.name == "ml-team" and org.visibility == "private"
    assert gitea_client.create_org("ml-team") == org
    assert gitea_client.get_org("nope") is None
    gitea_client.create_user("alice", "alice@example.org", login_name="s")
    gitea_client.create_org("vision", owner="alice")
    assert "alice" in gitea_sim.sim.team_members("vision", "Owners")


def test_org_name_shares_the_user_namespace(gitea_client):
    gitea_client.create_user("alice", "alice@example.org", login_name="s")
    with pytest.raises(BadRequest):  # 422 "user already exists" but no org of that name
        gitea_client.create_org("alice")


def test_ensure_teams_creates_exact_units_and_reuses(gitea_client, gitea_sim):
    teams = _group(gitea_client)
    assert teams["Contributors"].units_map == CONTRIBUTOR_UNITS
    assert teams["Readers"].units_map == READER_UNITS
    assert all(t.includes_all_repositories for t in teams.values())
    assert gitea_client.ensure_teams("ml-team") == teams
    assert set(gitea_sim.sim.teams("ml-team")) == {"Owners", "Contributors", "Readers"}


def test_ensure_teams_recovers_from_a_concurrent_create(gitea_client, gitea_sim, monkeypatch):
    gitea_client.create_org("ml-team")
    real = gitea_client.list_teams
    calls = []

    def stale(org):  # first read misses the team another worker creates meanwhile
        calls.append(org)
        if len(calls) == 1:
            gitea_sim.client().create_team(org, "Contributors", "write", CONTRIBUTOR_UNITS)
            return []
        return real(org)

    monkeypatch.setattr(gitea_client, "list_teams", stale)
    teams = gitea_client.ensure_teams("ml-team")
    assert teams["Contributors"].id == gitea_sim.sim.teams("ml-team")["Contributors"].id


def test_team_without_units_map_is_a_500(gitea_sim):
    gitea_sim.client().create_org("ml-team")
    reply = _raw(gitea_sim, "POST", "/api/v1/orgs/ml-team/teams", gitea_sim.admin_token,
                 json={"name": "Bare", "permission": "write"})
    assert reply.status_code == 500
    assert reply.json()["message"] == "units permission should not be empty"
    with pytest.raises(ValueError):
        gitea_sim.client().create_team("ml-team", "Bare", "write", {})


def test_team_membership_is_idempotent_and_sees_drift(gitea_client, gitea_sim):
    team = _group(gitea_client)["Contributors"]
    gitea_client.create_user("alice", "alice@example.org", login_name="s")
    gitea_client.add_team_member(team.id, "alice")
    gitea_client.add_team_member(team.id, "alice")
    assert gitea_client.is_team_member(team.id, "alice")
    gitea_sim.sim.remove_team_member("ml-team", "Contributors", "alice")   # behind our back
    assert not gitea_client.is_team_member(team.id, "alice")
    gitea_client.add_team_member(team.id, "alice")
    assert [u.login for u in gitea_client.list_team_members(team.id)] == ["alice"]
    assert gitea_client.remove_team_member(team.id, "alice") is True
    assert gitea_client.remove_team_member(team.id, "alice") is True
    assert gitea_client.remove_team_member(team.id, "ghost-user") is False
    with pytest.raises(NotFound):
        gitea_client.add_team_member(team.id, "ghost-user")


def test_list_team_members_follows_pagination(gitea_client, gitea_sim):
    team = _group(gitea_client)["Readers"]
    for i in range(123):
        gitea_sim.sim.state.create_user({"username": f"user{i}", "email": f"u{i}@x.org",
                                         "source_id": 1, "must_change_password": False})
        gitea_sim.sim.add_team_member("ml-team", "Readers", f"user{i}")
    members = gitea_client.list_team_members(team.id)
    assert len(members) == 123 and len({m.login for m in members}) == 123
    pages = [e for e in gitea_sim.exchanges if e.path == f"/api/v1/teams/{team.id}/members"]
    assert len(pages) == 3 and all(f"limit={PAGE_LIMIT}" in e.query for e in pages)


def test_simulator_caps_limit_and_sends_paging_headers(gitea_client, gitea_sim):
    team = _group(gitea_client)["Readers"]
    for i in range(60):
        gitea_sim.sim.state.create_user({"username": f"user{i}", "email": f"u{i}@x.org",
                                         "source_id": 1, "must_change_password": False})
        gitea_sim.sim.add_team_member("ml-team", "Readers", f"user{i}")
    reply = _raw(gitea_sim, "GET", f"/api/v1/teams/{team.id}/members?limit=500",
                 gitea_sim.admin_token)
    assert len(reply.json()) == 50 and reply.headers["X-Total-Count"] == "60"
    assert 'rel="next"' in reply.headers["Link"] and "page=2" in reply.headers["Link"]
    assert len(_raw(gitea_sim, "GET", f"/api/v1/teams/{team.id}/members",
                    gitea_sim.admin_token).json()) == 30


# -- repositories --------------------------------------------------------------------------
def test_create_repo_is_idempotent_and_gives_clone_url(gitea_client, gitea_sim):
    _group(gitea_client)
    repo = gitea_client.create_repo("ml-team", "proto-1")
    assert (repo.default_branch, repo.private, repo.empty) == ("main", True, False)
    assert repo.clone_url == f"{gitea_sim.url}/ml-team/proto-1.git"
    assert gitea_client.create_repo("ml-team", "proto-1") == repo
    assert gitea_client.clone_url("ml-team", "proto-1") == repo.clone_url
    sent = [e.body for e in gitea_sim.exchanges if e.method == "POST" and e.path.endswith("/repos")]
    assert sent == [{"name": "proto-1", "auto_init": True, "default_branch": "main",
                     "private": True, "description": ""}]
    with pytest.raises(NotFound):
        gitea_client.clone_url("ml-team", "missing")


def test_repo_409_after_a_stale_read_returns_the_existing_repo(gitea_client, gitea_sim,
                                                               monkeypatch):
    _group(gitea_client)
    gitea_sim.client().create_repo("ml-team", "proto")
    real = gitea_client.get_repo
    reads = []
    monkeypatch.setattr(gitea_client, "get_repo",
                        lambda o, n: reads.append(1) or (None if len(reads) == 1 else real(o, n)))
    assert gitea_client.create_repo("ml-team", "proto").name == "proto"
    assert any(e.status == 409 for e in gitea_sim.exchanges)


@pytest.mark.parametrize("serialised", [True, False], ids=["same-process-lock", "raw-race"])
def test_concurrent_repo_creates_make_one_repo(gitea_sim, monkeypatch, serialised):
    """Two callers create one repo at once: exactly one repo, both get it (NOTES: the
    loser may see 500 or 409 from Gitea; without our in-process lock it does)."""
    first, second = gitea_sim.client(), gitea_sim.client()
    _group(first)
    gitea_sim.sim.set_faults(repo_create_seconds=0.3)
    if not serialised:
        monkeypatch.setattr(gitea_module, "name_lock", _no_lock)
    results, errors = [], []
    barrier = threading.Barrier(2)

    def create(client):
        barrier.wait()
        try:
            results.append(client.create_repo("ml-team", "race"))
        except Exception as exc:  # noqa: BLE001 - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(c,)) for c in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == [] and len(results) == 2 and results[0] == results[1]
    assert gitea_sim.sim.snapshot()["repos"] == ["ml-team/race"]
    posts = [e.status for e in gitea_sim.exchanges if e.method == "POST"
             and e.path.endswith("/repos")]
    assert posts.count(201) == 1
    if not serialised:
        assert sorted(posts)[1] in (409, 500)


class _no_lock:
    def __init__(self, *key):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# -- tokens ------------------------------------------------------------------------------
def test_user_token_is_minted_with_basic_auth_and_works(gitea_client, gitea_sim):
    gitea_client.create_user("alice", "alice@example.org", login_name="s")
    token = gitea_client.create_user_token("alice")
    assert token.scopes == ("write:repository",) and len(token.secret) == 40
    post = [e for e in gitea_sim.exchanges if e.path == "/api/v1/users/alice/tokens"][0]
    assert post.body["scopes"] == ["write:repository"]
    as_alice = _raw(gitea_sim, "GET", "/api/v1/repos/x/y", token.secret)
    assert as_alice.status_code == 404  # authenticated (not 401), repo simply absent
    other = gitea_client.create_user_token("alice")
    assert other.name != token.name and other.secret != token.secret
    assert gitea_client.delete_user_token("alice", token.id) is True
    assert not gitea_sim.sim.token_valid(token.secret)
    assert gitea_client.delete_user_token("alice", token.id) is False
    assert gitea_client.delete_user_token("alice", other.name) is True


def test_token_endpoint_refuses_token_header_auth(gitea_client, gitea_sim):
    gitea_client.create_user("alice", "alice@example.org", login_name="s")
    reply = _raw(gitea_sim, "POST", "/api/v1/users/alice/tokens", gitea_sim.admin_token,
                 json={"name": "t", "scopes": ["write:repository"]})
    assert reply.status_code == 401 and reply.json()["message"] == "auth required"


def test_duplicate_token_name_is_a_bad_request(gitea_client):
    gitea_client.create_user("alice", "alice@example.org", login_name="s")
    gitea_client.create_user_token("alice", name="workspace")
    with pytest.raises(BadRequest) as err:
        gitea_client.create_user_token("alice", name="workspace")
    assert err.value.status == 400


# -- typed errors --------------------------------------------------------------------------
def test_wrong_admin_token_is_unauthorized(gitea_sim):
    client = GiteaClient(gitea_sim.url, "not-the-token", read_timeout=2)
    with pytest.raises(Unauthorized):
        client.whoami()


def test_down_is_service_unavailable(gitea_sim):
    gitea_sim.sim.set_faults(down=True)
    with pytest.raises(ServiceUnavailable) as err:
        gitea_sim.client(retries=0).version()
    assert err.value.status == 502


def test_nothing_listening_is_service_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = GiteaClient(f"http://127.0.0.1:{port}", "t", connect_timeout=0.5, retries=0)
    with pytest.raises(ServiceUnavailable) as err:
        client.version()
    assert "connection failed" in err.value.message


def test_slower_than_read_timeout_is_service_unavailable(gitea_sim):
    gitea_sim.sim.set_faults(slow_seconds=1.0, slow_paths=r"/version$")
    client = gitea_sim.client(read_timeout=0.3, retries=0)
    with pytest.raises(ServiceUnavailable) as err:
        client.version()
    assert err.value.message == "timed out"


def test_rate_limited_carries_retry_after(gitea_sim):
    gitea_sim.sim.set_faults(status_override=429, retry_after=60)
    with pytest.raises(RateLimited) as err:
        gitea_sim.client().version()
    assert err.value.retry_after == 60


def test_transient_503_on_a_read_is_retried(gitea_sim):
    gitea_sim.sim.set_faults(status_override=503, override_times=1)
    assert gitea_sim.client().version() == "1.26.3"


def test_server_error_is_typed(gitea_sim):
    gitea_sim.sim.set_faults(status_override=500, override_paths=r"/orgs$")
    with pytest.raises(ServerError):
        gitea_sim.client().create_org("ml-team")


def test_malformed_json_is_bad_response(gitea_sim):
    gitea_sim.sim.set_faults(malformed=True)
    with pytest.raises(BadResponse):
        gitea_sim.client().whoami()


@pytest.mark.parametrize("body", [{"id": "1", "login": "x"}, {"login": "x"}, {"id": True,
                                  "login": "x"}, [], None])
def test_wrong_shape_is_bad_response_not_key_error(gitea_client, body):
    with pytest.raises(BadResponse):
        gitea_client._user(body, "GET", "/api/v1/user")
    with pytest.raises(BadResponse):
        gitea_client._repo(body, "GET", "/api/v1/repos/a/b")


def test_control_endpoints_over_http(gitea_sim):
    reply = requests.post(gitea_sim.url + "/__sim/faults", json={"health_fail": True}, timeout=5)
    assert reply.status_code == 200 and reply.json()["faults"]["health_fail"] is True
    assert not gitea_sim.client().health().ok
    assert requests.post(gitea_sim.url + "/__sim/faults", json={"bogus": 1},
                         timeout=5).status_code == 400
    requests.post(gitea_sim.url + "/__sim/reset", timeout=5)
    state = requests.get(gitea_sim.url + "/__sim/state", timeout=5).json()
    assert state["faults"]["health_fail"] is False and "gitea-admin" in state["users"]
    assert "devstack-gitea-admin-token" not in reply.text


def test_blocked_user_is_refused_and_keeps_the_oidc_link(gitea_client, gitea_sim):
    gitea_client.create_user("alice", "alice@example.org", login_name="sub-alice")
    token = gitea_client.create_user_token("alice", scopes=("read:user",))
    assert _raw(gitea_sim, "GET", "/api/v1/user", token.secret).status_code == 200
    blocked = gitea_client.set_prohibit_login("alice", True)
    assert blocked.prohibit_login and (blocked.source_id, blocked.login_name) == (1, "sub-alice")
    reply = _raw(gitea_sim, "GET", "/api/v1/user", token.secret)
    assert reply.status_code == 403 and "prohibited from signing in" in reply.json()["message"]
    sent = [e.body for e in gitea_sim.exchanges if e.method == "PATCH"]
    assert sent[-1] == {"source_id": 1, "login_name": "sub-alice", "prohibit_login": True}
    assert not gitea_client.set_prohibit_login("alice", False).prohibit_login
    assert _raw(gitea_sim, "GET", "/api/v1/user", token.secret).status_code == 200
    assert gitea_client.set_prohibit_login("nobody", True) is None

