"""Real git over smart HTTP against the simulated Gitea: clone, push, team permissions, import."""
from __future__ import annotations

from pathlib import Path

import pytest

from portal.devstack.git_repos import init_repository
from tests.git_helpers import (AdminAPI, join, leave, make_person, make_project, run_git,
                               with_credentials)

DENIED = "remote: Gitea: User permission denied for writing."


@pytest.fixture
def api(gitea_sim) -> AdminAPI:
    return AdminAPI(gitea_sim.url, gitea_sim.admin_token)


@pytest.fixture
def project(api):
    return make_project(api)


def clone(url: str, who, dest: Path, check: bool = True):
    return run_git("clone", with_credentials(url, who.login, who.token), str(dest), check=check)


def commit_and_push(work: Path, name: str = "change.txt", check: bool = True):
    (work / name).write_text("a change\n")
    run_git("add", name, cwd=work)
    run_git("commit", "-m", f"add {name}", cwd=work)
    return run_git("push", "origin", "main", cwd=work, check=check)


def remote_log(gitea_sim, project) -> list[str]:
    bare = gitea_sim.sim.repo_path(project.org, project.name)
    return run_git("log", "--format=%s", "main", cwd=bare).stdout.split("\n")[:-1]


def test_auto_init_is_a_real_initial_commit_on_main(gitea_sim, project):
    bare = gitea_sim.sim.repo_path(project.org, project.name)
    assert run_git("symbolic-ref", "HEAD", cwd=bare).stdout.strip() == "refs/heads/main"
    assert remote_log(gitea_sim, project) == ["Initial commit"]
    readme = run_git("show", "main:README.md", cwd=bare).stdout
    assert readme.startswith(f"# {project.name}")


def test_reader_clones_but_push_is_refused_with_giteas_message(gitea_sim, api, project, tmp_path):
    reader = make_person(api, "rita")
    join(api, project, "Readers", reader)
    clone(project.clone_url, reader, tmp_path / "w")
    assert (tmp_path / "w" / "README.md").is_file()
    pushed = commit_and_push(tmp_path / "w", check=False)
    assert pushed.returncode != 0
    assert DENIED in pushed.stderr
    assert "(pre-receive hook declined)" in pushed.stderr
    assert remote_log(gitea_sim, project) == ["Initial commit"]


@pytest.mark.parametrize("team", ["Contributors", "Owners"])
def test_contributor_and_lead_pushes_land(gitea_sim, api, project, tmp_path, team):
    person = make_person(api, "carl")
    if team == "Owners":
        owners = api.call("GET", f"/api/v1/orgs/{project.org}/teams", expect=200)
        project.teams["Owners"] = next(t["id"] for t in owners if t["name"] == "Owners")
    join(api, project, team, person)
    clone(project.clone_url, person, tmp_path / "w")
    commit_and_push(tmp_path / "w")
    assert remote_log(gitea_sim, project) == ["add change.txt", "Initial commit"]


def test_after_removal_neither_clone_nor_push(gitea_sim, api, project, tmp_path):
    person = make_person(api, "carl")
    join(api, project, "Contributors", person)
    clone(project.clone_url, person, tmp_path / "w")
    leave(api, project, "Contributors", person)
    refused = clone(project.clone_url, person, tmp_path / "again", check=False)
    assert refused.returncode != 0 and "not found" in refused.stderr
    pushed = commit_and_push(tmp_path / "w", check=False)
    assert pushed.returncode != 0 and "not found" in pushed.stderr
    assert remote_log(gitea_sim, project) == ["Initial commit"]


def test_blocked_person_can_neither_clone_nor_push(gitea_sim, api, project, tmp_path):
    person = make_person(api, "carl")
    join(api, project, "Contributors", person)
    clone(project.clone_url, person, tmp_path / "w")
    gitea_sim.sim.block_user("carl")
    refused = clone(project.clone_url, person, tmp_path / "again", check=False)
    assert refused.returncode != 0 and "Your account is disabled." in refused.stderr
    pushed = commit_and_push(tmp_path / "w", check=False)
    assert pushed.returncode != 0 and "Your account is disabled." in pushed.stderr
    assert remote_log(gitea_sim, project) == ["Initial commit"]


@pytest.mark.parametrize("credentials, message", [
    (None, "could not read Username"),
    (("carl", "not-a-token"), "Authentication failed"),
])
def test_without_valid_credentials_a_private_repo_is_refused(gitea_sim, project, tmp_path,
                                                             credentials, message):
    url = with_credentials(project.clone_url, *credentials) if credentials else project.clone_url
    refused = run_git("clone", url, str(tmp_path / "w"), check=False)
    assert refused.returncode != 0 and message in refused.stderr


def test_a_read_only_token_cannot_push(gitea_sim, api, project, tmp_path):
    person = make_person(api, "carl", scopes=("read:repository",))
    join(api, project, "Contributors", person)
    clone(project.clone_url, person, tmp_path / "w")
    pushed = commit_and_push(tmp_path / "w", check=False)
    assert pushed.returncode != 0 and "403" in pushed.stderr


def test_token_as_user_name_works_like_gitea(gitea_sim, api, project, tmp_path):
    person = make_person(api, "carl")
    join(api, project, "Contributors", person)
    url = with_credentials(project.clone_url, person.token, "x-oauth-basic")
    run_git("clone", url, str(tmp_path / "w"))
    commit_and_push(tmp_path / "w")
    assert remote_log(gitea_sim, project)[0] == "add change.txt"


def test_import_really_copies_the_source_commits(gitea_sim, api, tmp_path):
    source = tmp_path / "source"
    run_git("init", "-q", "-b", "trunk", str(source))
    for n in range(3):
        (source / f"f{n}.txt").write_text(f"{n}\n")
        run_git("add", ".", cwd=source)
        run_git("commit", "-q", "-m", f"commit {n}", cwd=source)
    run_git("tag", "v1", cwd=source)
    url = "https://github.com/acme/widget"
    gitea_sim.sim.add_import_source(url, source)
    api.post("/api/v1/orgs", json={"username": "acme", "visibility": "private"}, expect=201)
    repo = api.post("/api/v1/repos/migrate", expect=201, json={
        "clone_addr": url, "repo_name": "widget", "repo_owner": "acme", "private": True})
    assert repo["default_branch"] == "trunk" and repo["empty"] is False
    bare = gitea_sim.sim.repo_path("acme", "widget")
    want = run_git("log", "--format=%H %s", "trunk", cwd=source).stdout
    assert run_git("log", "--format=%H %s", "trunk", cwd=bare).stdout == want
    assert run_git("tag", cwd=bare).stdout.split() == ["v1"]
    assert run_git("remote", cwd=bare).stdout == ""


def test_delete_removes_the_repository_from_disk(gitea_sim, api, project):
    bare = gitea_sim.sim.repo_path(project.org, project.name)
    assert bare.is_dir()
    api.delete(f"/api/v1/repos/{project.org}/{project.name}", expect=204)
    assert not bare.exists()


def test_init_repository_commits_the_given_files(tmp_path):
    bare = init_repository(tmp_path / "t.git", {"README.md": b"# t\n", "src/main.py": b"print(1)\n",
                                                "run.sh": b"#!/bin/sh\n"},
                           branch="main", message="From template", executable={"run.sh"})
    assert run_git("log", "--format=%s", "main", cwd=bare).stdout == "From template\n"
    tree = run_git("ls-tree", "-r", "main", cwd=bare).stdout
    assert "100755 blob" in next(line for line in tree.splitlines() if line.endswith("run.sh"))
    assert run_git("show", "main:src/main.py", cwd=bare).stdout == "print(1)\n"


@pytest.mark.parametrize("name", ["../escape", "/abs", "a//b", ".git/config", ""])
def test_init_repository_refuses_paths_outside_the_tree(tmp_path, name):
    with pytest.raises(ValueError):
        init_repository(tmp_path / "t.git", {name: b"x"})
    assert not (tmp_path / "t.git").exists()
