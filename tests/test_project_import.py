"""A project created from an existing repository: Gitea's migrate API, with the GitHub token."""
import pytest

from portal.people import github_tokens
from portal.clients.http import BadRequest
from portal.devstack.gitea_migrate import source_key
from portal.extensions import db
from portal.models import Project
from portal.services import current_services
from portal.groups.source_urls import check_source_url
from tests.provisioning_helpers import run_until_done, seed
from tests.test_code_tab import csrf, open_code
from tests.test_github_token import CLASSIC
from tests.fixtures.app import dev_sign_in

PUBLIC = "https://github.com/octo/hello-world"
PRIVATE = "https://github.com/ada/secret-sauce.git"


@pytest.mark.parametrize("url", ["", PUBLIC, PRIVATE, "https://gitlab.example.com/a/b/c.git",
                                 "https://git.example.com:8443/team/repo"])
def test_acceptable_source_urls(url):
    assert check_source_url(url) is None


@pytest.mark.parametrize("url, reason", [
    ("http://github.com/a/b", "Only https://"),
    ("git@github.com:a/b.git", "Only https://"),
    ("ssh://github.com/a/b", "Only https://"),
    ("file:///etc/passwd", "Only https://"),
    ("https://user:ghp_x@github.com/a/b", "Remove the user name"),
    ("https://ghp_x@github.com/a/b", "Remove the user name"),
    ("https:///a/b", "host name"),
    ("https://bad_host!/a", "host name"),
    ("https://github.com", "path"),
    ("https://github.com/a b", "no spaces"),
    ("https://github.com/" + "a" * 500, "At most 500"),
])
def test_refused_source_urls(url, reason):
    assert reason in (check_source_url(url) or "")


def _gitea_migrations(gitea):
    return [e for e in gitea.exchanges if e.method == "POST" and e.path == "/api/v1/repos/migrate"]


def test_create_from_a_public_url_migrates(stack, worker):
    client = stack.app.test_client()
    dev_sign_in(client, "ada@example.com", "Ada")
    token = csrf(client, "/groups/new")
    slug = client.post("/groups/new", data={"csrf_token": token, "name": "Vision"}).location.rsplit("/", 1)[-1]
    resp = client.post(f"/groups/{slug}/projects/new",
                       data={"csrf_token": token, "name": "Hello", "source_url": PUBLIC})
    assert resp.status_code == 303
    pid = int(resp.location.rsplit("/", 1)[-1])
    body, stages = open_code(client, pid)
    assert stages[-1] == "ready", body[:500]
    (migration,) = stack.gitea.sim.state.migrations
    assert migration == {"owner": slug, "name": "hello", "clone_addr": PUBLIC, "service": "git",
                         "mirror": False, "private": True, "authenticated": False}
    (exchange,) = _gitea_migrations(stack.gitea)
    assert "auth_token" not in exchange.body and exchange.status == 201
    with stack.app.app_context():
        project = db.session.get(Project, pid)
        assert project.source_url == PUBLIC and project.clone_url.endswith(f"/{slug}/hello.git")


def test_form_refuses_a_url_with_credentials(stack):
    client = stack.app.test_client()
    dev_sign_in(client, "ada@example.com", "Ada")
    token = csrf(client, "/groups/new")
    slug = client.post("/groups/new", data={"csrf_token": token, "name": "Vision"}).location.rsplit("/", 1)[-1]
    resp = client.post(f"/groups/{slug}/projects/new", data={
        "csrf_token": token, "name": "Hello", "source_url": "https://ada:" + CLASSIC + "@github.com/a/b"})
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert "Remove the user name" in body
    with stack.app.app_context():
        assert db.session.scalar(db.select(Project)) is None


def test_private_github_source_uses_the_creators_token(stack):
    stack.gitea.sim.state.private_sources.add(source_key(PRIVATE))
    with stack.app.app_context():
        user, project = seed()
        project.source_url, project.created_by_id = PRIVATE, user.id
        db.session.commit()
        github_tokens.store(current_services(), user, CLASSIC)
        status, _ = run_until_done(user, project)
        assert status.ready, status
    (exchange,) = _gitea_migrations(stack.gitea)
    assert exchange.body["service"] == "github" and exchange.body["auth_token"] == CLASSIC
    assert exchange.body["clone_addr"] == PRIVATE and exchange.body["mirror"] is False
    assert stack.gitea.sim.state.migrations[0]["authenticated"] is True


def test_private_source_without_token_fails_with_a_hint_and_retry_works(stack):
    stack.gitea.sim.state.private_sources.add(source_key(PRIVATE))
    with stack.app.app_context():
        user, project = seed()
        project.source_url, project.created_by_id = PRIVATE, user.id
        db.session.commit()
        status, _ = run_until_done(user, project)
        assert status.failed
        assert "could not import" in status.message and "GitHub token in Settings" in status.message
        github_tokens.store(current_services(), user, CLASSIC)
        from portal.workspaces import provisioning
        provisioning.want_running(user, project, retry=True)
        status, _ = run_until_done(user, project)
        assert status.ready, status


def test_another_members_token_is_not_used(stack):
    """The import runs with the token of the person who asked for it (the creator), only."""
    stack.gitea.sim.state.private_sources.add(source_key(PRIVATE))
    with stack.app.app_context():
        creator, project = seed("ada@example.com")
        project.source_url, project.created_by_id = PRIVATE, creator.id
        db.session.commit()
        other, _ = seed("bob@example.com")
        github_tokens.store(current_services(), other, CLASSIC)
        status, _ = run_until_done(other, project)
        assert status.failed
    assert all("auth_token" not in e.body for e in _gitea_migrations(stack.gitea))


def test_client_migrate_is_idempotent_and_validated(gitea_client, gitea_sim):
    gitea_client.create_org("team")
    repo = gitea_client.migrate_repo("team", "app", PUBLIC, description="d")
    assert repo.name == "app" and repo.owner == "team"
    again = gitea_client.migrate_repo("team", "app", PUBLIC)
    assert again.id == repo.id and len(gitea_sim.sim.state.migrations) == 1
    with pytest.raises(BadRequest) as caught:
        gitea_client.migrate_repo("team", "local", "https://127.0.0.1/x/y")
    assert caught.value.status == 422 and "disallowed" in caught.value.message
    with pytest.raises(BadRequest):
        gitea_client.migrate_repo("nobody-here", "app", PUBLIC)


def test_token_never_in_a_migrate_error(gitea_client, gitea_sim):
    gitea_sim.sim.state.private_sources.add(source_key("https://example.org/p/q"))
    gitea_client.create_org("team")
    with pytest.raises(BadRequest) as caught:  # a token is only ever sent to github.com
        gitea_client.migrate_repo("team", "q", "https://example.org/p/q", auth_token=CLASSIC)
    assert CLASSIC not in str(caught.value) and "Authentication failed" in caught.value.message
    assert all("auth_token" not in (e.body or {}) for e in gitea_sim.exchanges)
