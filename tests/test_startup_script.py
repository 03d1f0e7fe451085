"""The template's own startup.sh, run as the simulated Coder runs it, against the simulated Gitea.

The credential chain from a token the portal mints to `git push` inside a
workspace: the script clones the project, scopes the Gitea credential to the
Gitea host and the GitHub one to github.com, and leaves no token readable by
anyone else.
"""
from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from portal.devstack.workspace_host import Running, Spec, WorkspaceHost
from tests.git_helpers import AdminAPI, Person, join, make_person, make_project, run_git

DENIED = "remote: Gitea: User permission denied for writing."


@pytest.fixture
def api(gitea_sim) -> AdminAPI:
    return AdminAPI(gitea_sim.url, gitea_sim.admin_token)


@pytest.fixture
def host(gitea_sim, tmp_path):
    host = WorkspaceHost(tmp_path / "workspaces", gitea_url=gitea_sim.url,
                         ai_gateway_url="http://127.0.0.1:1")
    yield host
    host.shutdown()


def start(host: WorkspaceHost, owner: str, parameters: dict[str, str]) -> Path:
    """Run the workspace's start (startup.sh) and wait for the agent's verdict."""
    spec = Spec("ws-" + owner, "build-" + owner, owner, "proj-1", f"{owner}@example.com",
                owner.title(), parameters)
    host.start(spec)
    deadline = time.monotonic() + 60
    while (state := host.state(spec.build_id)) and state[0] in ("created", "starting"):
        assert time.monotonic() < deadline, "startup.sh did not finish"
        time.sleep(0.1)
    assert state == ("ready", "healthy"), (state, (host.home(owner, "proj-1") / ".startup.log")
                                           .read_text())
    return host.home(owner, "proj-1")


def workspace_git(home: Path, *args: str, check: bool = True):
    """git as the workspace's person: their HOME and its ~/.gitconfig, nothing else."""
    env = {"HOME": str(home), "GIT_CONFIG_GLOBAL": str(home / ".gitconfig")}
    return run_git(*args, cwd=home / "project", env=env, check=check, identity=False)


def minted(gitea_sim, api, login: str) -> Person:
    """A person and a token minted the way the portal mints it (its real client)."""
    make_person(api, login)
    return Person(login, gitea_sim.client().create_user_token(login).secret)


def push_a_change(home: Path, check: bool = True):
    (home / "project" / "notes.md").write_text("from the workspace\n")
    workspace_git(home, "add", "notes.md")
    workspace_git(home, "commit", "-m", "from the workspace")
    return workspace_git(home, "push", "origin", "main", check=check)


def workspace_of(gitea_sim, api, host, login: str, team: str, **parameters: str):
    """A project, a person in `team` with a minted token, and their started workspace."""
    project = make_project(api)
    person = minted(gitea_sim, api, login)
    join(api, project, team, person)
    home = start(host, login, {"git_repo": project.clone_url, "gitea_token": person.token,
                               **parameters})
    return project, person, home


def test_contributor_workspace_clones_and_pushes(gitea_sim, api, host):
    project, _carl, home = workspace_of(gitea_sim, api, host, "carl", "Contributors")
    assert (home / "project" / "README.md").is_file()
    assert workspace_git(home, "config", "user.email").stdout.strip() == "carl@example.com"
    push_a_change(home)
    bare = gitea_sim.sim.repo_path(project.org, project.name)
    assert run_git("log", "-1", "--format=%s %ae", "main", cwd=bare).stdout.strip() == \
        "from the workspace carl@example.com"


def test_reader_workspace_clones_but_cannot_push(gitea_sim, api, host):
    _project, _rita, home = workspace_of(gitea_sim, api, host, "rita", "Readers")
    assert (home / "project" / "README.md").is_file()
    refused = push_a_change(home, check=False)
    assert refused.returncode != 0 and DENIED in refused.stderr


@pytest.mark.parametrize("github_token", ["", "ghp_exampleexampleexample0000"])
def test_github_credential_only_when_a_token_is_given(gitea_sim, api, host, github_token):
    project, _carl, home = workspace_of(gitea_sim, api, host, "carl", "Contributors",
                                        github_token=github_token)
    helpers = workspace_git(home, "config", "--global", "--get-all",
                            "credential.https://github.com.helper", check=False).stdout.split("\n")
    stored = home / ".config" / "portal" / "github-credentials"
    if github_token:
        assert any(h.startswith("store --file=") for h in helpers)
        assert stored.read_text().strip() == f"https://x-access-token:{github_token}@github.com"
        # each store is offered to its own host only
        helper_for = lambda url: workspace_git(  # noqa: E731
            home, "config", "--global", "--get-urlmatch", "credential.helper", url).stdout
        assert helper_for("https://github.com/acme/x.git").strip().endswith("github-credentials")
        assert helper_for(project.clone_url).strip().endswith("gitea-credentials")
    else:
        assert helpers == [""] and not stored.exists()


def test_no_token_is_readable_by_anyone_else(gitea_sim, api, host):
    others = ["ghp_exampleexampleexample0000", "sk-example-ai-gateway-key"]
    _project, carl, home = workspace_of(gitea_sim, api, host, "carl", "Contributors",
                                        github_token=others[0], ai_gateway_key=others[1])
    token = carl.token
    secrets = [token, *others]
    holders = []
    for path in home.rglob("*"):
        if path.is_file() and not path.is_symlink():
            content = path.read_bytes()
            for secret in secrets:
                if secret.encode() in content:
                    holders.append(path)
                    mode = stat.S_IMODE(path.stat().st_mode)
                    assert mode & 0o077 == 0, f"{path} holds a token and is mode {mode:o}"
    assert {p.name for p in holders} == {"gitea-credentials", "github-credentials", "config.yaml"}
    assert not (home / "project" / ".git" / "config").read_text().count(token)
    for folder in {p.parent for p in holders}:
        assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0, folder


def test_environment_carries_nothing_of_the_portal(host, monkeypatch):
    monkeypatch.setenv("GITEA_ADMIN_TOKEN", "admin-secret")
    monkeypatch.setenv("PORTAL_SECRET_KEY", "portal-secret")
    run = Running(Spec("w", "b", "carl", "proj-1"), host.home("carl", "proj-1"))
    env = host.environment(run)
    assert "admin-secret" not in env.values() and "portal-secret" not in env.values()
    assert env["PROJECT_DIR"] == os.path.join(env["HOME"], "project")
