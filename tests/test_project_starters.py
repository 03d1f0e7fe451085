"""A project started from a starter: the form's choice, the repository stage, the Overview's files."""
from __future__ import annotations

import pytest

from portal.workspaces import provisioning
from portal.groups import starters
from portal.devstack.gitea_generate import seed_templates
from portal.extensions import db
from portal.models import AuditEvent, CachedRead, Project
from portal.services import current_services
from tests.fixtures.app import dev_sign_in
from tests.provisioning_helpers import run_until_done, seed
from tests.test_code_tab import csrf, open_code
from tests.test_gitea_generate import STARTERS


@pytest.fixture
def seeded_stack(stack, start_worker):
    seed_templates(stack.gitea.sim.state, starters.ORG, STARTERS)
    start_worker(stack.app)  # the reconciler tier does the Code tab's work
    return stack


def _group(client) -> tuple[str, str]:
    dev_sign_in(client, "ada@example.com", "Ada")
    token = csrf(client, "/groups/new")
    slug = client.post("/groups/new", data={"csrf_token": token, "name": "Vision"}).location
    return slug.rsplit("/", 1)[-1], token


def _calls(gitea, method: str, suffix: str) -> int:
    return sum(1 for e in gitea.exchanges if e.method == method and e.path.endswith(suffix))


def test_form_lists_the_starters_of_gitea_and_caches_them(seeded_stack):
    client = seeded_stack.app.test_client()
    slug, _ = _group(client)
    page = client.get(f"/groups/{slug}/projects/new").get_data(as_text=True)
    choices = ("python", "cpp", "empty", "import")
    assert [value for value in choices if f'data-testid="starter-{value}"' not in page] == []
    assert "Python: a package (src layout)" in page
    assert page.index("starter-python") < page.index("starter-cpp") < page.index("starter-empty")
    client.get(f"/groups/{slug}/projects/new")
    assert _calls(seeded_stack.gitea, "GET", "/orgs/starters/repos") == 1  # the second: cached


def test_a_new_template_is_offered_once_the_cache_is_old(seeded_stack):
    client = seeded_stack.app.test_client()
    slug, _ = _group(client)
    client.get(f"/groups/{slug}/projects/new")
    seeded_stack.gitea.sim.state.repo("starters", "cpp").template = False  # an admin unmarks it
    assert 'starter-cpp"' in client.get(f"/groups/{slug}/projects/new").get_data(as_text=True)
    with seeded_stack.app.app_context():
        row = db.session.get(CachedRead, "gitea:templates:starters")
        row.fetched_at = row.fetched_at - starters.STARTERS_FRESH
        db.session.commit()
    assert 'starter-cpp"' not in client.get(f"/groups/{slug}/projects/new").get_data(as_text=True)


@pytest.mark.parametrize("data, message", [
    ({"starter": "rust"}, "There is no starter “rust”"),
    ({"starter": "python", "source_url": "https://github.com/octo/hello"}, "Choose “import from a URL”"),
    ({"starter": "import"}, "Enter the URL of the repository to import."),
    ({"starter": "x" * 101}, "At most 100 characters."),
])
def test_form_refuses_a_bad_choice(seeded_stack, data, message):
    client = seeded_stack.app.test_client()
    slug, token = _group(client)
    resp = client.post(f"/groups/{slug}/projects/new",
                       data={"csrf_token": token, "name": "Weather bot", **data})
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    with seeded_stack.app.app_context():
        assert db.session.scalar(db.select(Project)) is None


def test_without_gitea_only_empty_and_import_are_offered(stack):
    stack.gitea.sim.set_faults(down=True)
    client = stack.app.test_client()
    slug, token = _group(client)
    page = client.get(f"/groups/{slug}/projects/new").get_data(as_text=True)
    assert "cannot be read from Gitea right now" in page and 'starter-python"' not in page
    resp = client.post(f"/groups/{slug}/projects/new",
                       data={"csrf_token": token, "name": "Bot", "starter": "python"})
    assert resp.status_code == 400 and "choose Empty" in resp.get_data(as_text=True)
    resp = client.post(f"/groups/{slug}/projects/new",
                       data={"csrf_token": token, "name": "Bot", "starter": "empty"})
    assert resp.status_code == 303


def test_create_from_the_python_starter_generates_once_and_lists_its_files(seeded_stack):
    client = seeded_stack.app.test_client()
    slug, token = _group(client)
    resp = client.post(f"/groups/{slug}/projects/new", data={
        "csrf_token": token, "name": "Weather bot", "description": "Forecasts", "starter": "python"})
    assert resp.status_code == 303
    pid = int(resp.location.rsplit("/", 1)[-1])
    body, stages = open_code(client, pid)
    assert stages[-1] == "ready", body[:500]
    repo = seeded_stack.gitea.sim.repo(slug, "weather-bot")
    assert repo.private and repo.default_branch == "main" and not repo.template
    assert b'name = "weather-bot"' in seeded_stack.gitea.sim.state.repo_files(repo)["pyproject.toml"]
    assert _calls(seeded_stack.gitea, "POST", "/repos/starters/python/generate") == 1
    page = client.get(f"/projects/{pid}").get_data(as_text=True)
    listed = ("src/", "tests/", "pyproject.toml", "README.md", ".gitea/")
    assert [name for name in listed if name not in page] == []
    assert _calls(seeded_stack.gitea, "GET", f"/repos/{slug}/weather-bot/contents") == 1
    with seeded_stack.app.app_context():
        project = db.session.get(Project, pid)
        assert project.starter == "python"
        event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "project.create"))
        assert event.details["starter"] == "python"


def test_a_retried_pass_adopts_the_generated_repository(seeded_stack):
    with seeded_stack.app.app_context():
        user, project = seed()
        project.starter = "cpp"
        db.session.commit()
        status, _ = run_until_done(user, project)
        assert status.ready, status
        state = provisioning.workspace_state(user, project)
        state.repo_ready_at, project.clone_url = None, None  # as if the pass died after Gitea
        db.session.commit()
        status, _ = run_until_done(user, project)
        assert status.ready, status
    assert seeded_stack.gitea.sim.snapshot()["repos"].count("ml-team/vision") == 1
    assert _calls(seeded_stack.gitea, "POST", "/repos/starters/cpp/generate") == 1


def test_a_starter_withdrawn_in_gitea_fails_the_pass_with_a_reason(seeded_stack):
    seeded_stack.gitea.sim.state.repo("starters", "cpp").template = False
    with seeded_stack.app.app_context():
        user, project = seed()
        project.starter = "cpp"
        db.session.commit()
        status, _ = run_until_done(user, project)
        assert status.failed
        assert "starter “cpp” is no longer offered" in status.message
        assert "not a template repo" in status.message
    assert seeded_stack.gitea.sim.repo("ml-team", "vision") is None


def test_overview_shows_the_last_list_when_gitea_is_down(seeded_stack):
    with seeded_stack.app.app_context():
        user, project = seed()
        project.starter = "empty"
        db.session.commit()
        assert run_until_done(user, project)[0].ready
        row = db.session.get(CachedRead, f"gitea:files:{project.id}")
        assert [e["name"] for e in row.value] == [".gitignore", "README.md"]
        row.fetched_at = row.fetched_at - starters.FILES_FRESH
        db.session.commit()
        seeded_stack.gitea.sim.set_faults(down=True)
        listing = starters.files(current_services(), project)
    assert listing.stale and [e["name"] for e in listing.entries] == [".gitignore", "README.md"]


def test_drift_repair_generates_a_deleted_repository_again_from_its_starter(seeded_stack):
    with seeded_stack.app.app_context():
        user, project = seed()
        project.starter = "python"
        db.session.commit()
        assert run_until_done(user, project)[0].ready
    seeded_stack.gitea.sim.delete_repo("ml-team", "vision")
    result = seeded_stack.app.test_cli_runner().invoke(
        args=["portal", "reconcile", "--all", "--apply"])
    assert "created repository ml-team/vision" in result.output, result.output
    files = seeded_stack.gitea.sim.state.repo_files(seeded_stack.gitea.sim.repo("ml-team", "vision"))
    assert b'name = "vision"' in files["pyproject.toml"]
    assert _calls(seeded_stack.gitea, "POST", "/repos/starters/python/generate") == 2


@pytest.mark.parametrize("fault, seen", [
    ({"down": True}, "502 Bad Gateway"),
    ({"slow_seconds": 5, "slow_paths": "/contents"}, "timed out"),
])
def test_overview_without_gitea_and_nothing_cached_says_so(seeded_stack, fault, seen, caplog):
    client = seeded_stack.app.test_client()
    slug, token = _group(client)
    resp = client.post(f"/groups/{slug}/projects/new",
                       data={"csrf_token": token, "name": "Bot", "starter": "empty"})
    pid = int(resp.location.rsplit("/", 1)[-1])
    assert open_code(client, pid)[1][-1] == "ready"
    with seeded_stack.app.app_context():
        db.session.delete(db.session.get(CachedRead, f"gitea:files:{pid}"))
        db.session.commit()
    seeded_stack.gitea.sim.set_faults(**fault)
    resp = client.get(f"/projects/{pid}")
    assert resp.status_code == 200
    assert "The files cannot be read from Gitea right now." in resp.get_data(as_text=True)
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "portal.groups.starters"]
    assert "/bot/contents" in warning and seen in warning
    if fault.get("down"):  # answered at once: the pass's read, then the Overview's one attempt
        assert sum(e.path.endswith("/bot/contents") for e in seeded_stack.gitea.exchanges) == 2


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_cached_reads_upsert_on_both_databases(make_app, request, database):
    """Two writers of one key (two workers refreshing at once) leave one row, the last value."""
    env = {"DATABASE_URL": request.getfixturevalue("pg_url")} if database == "postgres" else {}
    app = make_app(**env)
    with app.app_context():
        starters.store_read("gitea:files:1", [{"name": "a"}])
        db.session.commit()
        starters.store_read("gitea:files:1", [{"name": "b"}])
        db.session.commit()
        rows = db.session.scalars(db.select(CachedRead)).all()
        assert [(r.key, r.value) for r in rows] == [("gitea:files:1", [{"name": "b"}])]


def test_an_old_starter_list_is_kept_while_gitea_is_down_and_asked_again_later(seeded_stack):
    client = seeded_stack.app.test_client()
    slug, _ = _group(client)
    client.get(f"/groups/{slug}/projects/new")
    with seeded_stack.app.app_context():
        row = db.session.get(CachedRead, "gitea:templates:starters")
        row.fetched_at = row.fetched_at - starters.STARTERS_FRESH
        db.session.commit()
    seeded_stack.gitea.sim.set_faults(down=True)
    for _ in range(2):
        page = client.get(f"/groups/{slug}/projects/new").get_data(as_text=True)
        assert 'starter-python"' in page and "cannot be read" not in page
    # One failed attempt (502 from the proxy), then the old list until RETRY_AFTER has passed.
    assert _calls(seeded_stack.gitea, "GET", "/orgs/starters/repos") == 2
