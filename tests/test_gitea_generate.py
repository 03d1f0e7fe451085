"""Template repositories: the simulated Gitea's generate/edit/contents and the client's calls.

Every exchange is checked against the Gitea swagger contract by the gitea_sim fixture.
"""
from __future__ import annotations

import pathlib

import pytest
import requests

from portal.clients.http import BadRequest, NotFound
from portal.devstack.gitea_generate import seed_templates

STARTERS = pathlib.Path(__file__).resolve().parent.parent / "workspace-image" / "starters"


@pytest.fixture
def seeded(gitea_sim, gitea_client):
    seed_templates(gitea_sim.sim.state, "starters", STARTERS)
    gitea_client.create_org("vision")
    return gitea_client


def _post(gitea_sim, path, body, method="POST"):
    return requests.request(method, gitea_sim.url + "/api/v1" + path, json=body, timeout=5,
                            headers={"Authorization": f"token {gitea_sim.admin_token}"})


def test_starters_are_listed_as_templates(seeded):
    seeded.create_repo("starters", "not-a-template")
    names = sorted(r.name for r in seeded.list_templates("starters"))
    assert names == ["cpp", "empty", "python"]


def test_generate_expands_the_template_and_lists_the_root(seeded, gitea_sim):
    repo = seeded.generate_repo("starters", "python", "vision", "weather-bot",
                                description="Forecasts")
    assert (repo.owner, repo.name, repo.private, repo.default_branch) == \
        ("vision", "weather-bot", True, "main")
    files = gitea_sim.sim.state.repo_files(gitea_sim.sim.repo("vision", "weather-bot"))
    assert ".gitea/template" not in files
    assert b'name = "weather-bot"' in files["pyproject.toml"]
    assert files["README.md"].startswith(b"# weather-bot\n\nForecasts\n")
    assert b'PROJECT = "weather-bot"' in files["src/app/__init__.py"]
    # Not listed in .gitea/template: copied as is (its ${{ }} expressions survive).
    assert b"${{ secrets.GITEA_TOKEN }}" in files[".gitea/workflows/ci.yaml"]
    names = {(e.name, e.type) for e in seeded.list_root("vision", "weather-bot")}
    assert names == {(".gitea", "dir"), (".gitignore", "file"), ("README.md", "file"),
                     ("pyproject.toml", "file"), ("src", "dir"), ("tests", "dir")}


def test_generate_twice_adopts_the_repository(seeded, gitea_sim):
    first = seeded.generate_repo("starters", "cpp", "vision", "robot")
    second = seeded.generate_repo("starters", "cpp", "vision", "robot")
    assert first.id == second.id
    posts = [e for e in gitea_sim.exchanges if e.method == "POST" and e.path.endswith("/generate")]
    assert len(posts) == 1


@pytest.mark.parametrize("body, status, message", [
    ({"name": "x", "git_content": True}, 422, "[Owner]: Required"),
    ({"owner": "vision", "git_content": True}, 422, "[Name]: Required"),
    ({"owner": "vision", "name": "a b", "git_content": True}, 422, "[Name]: AlphaDashDot"),
    ({"owner": "vision", "name": "x"}, 422, "must select at least one template item"),
    ({"owner": "nobody", "name": "x", "git_content": True}, 404, None),
    ({"owner": "vision", "name": "taken", "git_content": True}, 409,
     "The repository with the same name already exists."),
])
def test_generate_validation_like_gitea(seeded, gitea_sim, body, status, message):
    seeded.create_repo("vision", "taken")
    resp = _post(gitea_sim, "/repos/starters/python/generate", body)
    assert resp.status_code == status, resp.text
    if not {"owner", "name"} <= set(body):  # breaks the contract on purpose: not checked
        assert gitea_sim.recorder.exchanges.pop().path.endswith("/generate")
    if message:
        assert resp.json()["message"] == message
    else:
        assert resp.json() == {"error": "request owner `nobody` does not exist"}


def test_generate_from_a_plain_repository_or_a_missing_one(seeded, gitea_sim):
    seeded.create_repo("starters", "plain")
    with pytest.raises(BadRequest) as exc:
        seeded.generate_repo("starters", "plain", "vision", "x")
    assert exc.value.status == 422 and "not a template repo" in exc.value.message
    with pytest.raises(NotFound):
        seeded.generate_repo("starters", "gone", "vision", "x")
    assert gitea_sim.sim.repo("vision", "x") is None


def test_a_repository_becomes_a_template_by_patch(seeded, gitea_sim):
    seeded.create_repo("starters", "rust")
    resp = _post(gitea_sim, "/repos/starters/rust", {"template": True}, method="PATCH")
    assert resp.status_code == 200 and resp.json()["template"] is True
    assert "rust" in {r.name for r in seeded.list_templates("starters")}
    repo = seeded.generate_repo("starters", "rust", "vision", "oxide")
    oxide = gitea_sim.sim.repo("vision", "oxide")
    # Gitea's options/readme/Default: "# {Name}\n\n{Description}\n" (an empty description)
    assert gitea_sim.sim.state.repo_files(oxide) == {"README.md": b"# rust\n\n\n"}
    assert repo.name == "oxide"


def test_empty_repository_has_no_listing(seeded, gitea_sim):
    gitea_sim.sim.state.repos.clear()
    resp = _post(gitea_sim, "/orgs/vision/repos", {"name": "bare", "auto_init": False})
    assert resp.status_code == 201 and resp.json()["empty"] is True
    assert seeded.list_root("vision", "bare") is None
    assert seeded.list_root("vision", "missing") is None


def test_the_embedded_default_seeds_the_starters(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from portal.config import DEV_CODER_PORT, DEV_GITEA_PORT, DEV_GITEA_URL
    from portal.devstack import run
    from portal.devstack.gitea import make_gitea_sim

    started = []
    monkeypatch.setattr(run, "_start", lambda app, port, name: started.append(app))
    run.start_simulators(SimpleNamespace(coder_url="http://elsewhere", gitea_url=DEV_GITEA_URL,
                                         litellm_url=None, dev_coder_port=DEV_CODER_PORT,
                                         dev_gitea_port=DEV_GITEA_PORT),
                         build_seconds=1, instance=tmp_path)
    (sim,) = started
    templates = {r.name: r for r in sim.state.repos.values() if r.owner == "starters"}
    assert sorted(templates) == ["cpp", "empty", "python"]
    assert all(r.template and r.default_branch == "main" for r in templates.values())
    assert templates["cpp"].description.startswith("C++:")
    assert make_gitea_sim()[1].state.repos == {}  # the tests' own simulator starts bare
