"""Helpers for tests that run real git against the simulated Gitea."""
from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

from portal.devstack.git_repos import git_env

CONTRIBUTORS_UNITS = {u: "write" for u in ("repo.code", "repo.issues", "repo.pulls",
                                           "repo.releases", "repo.wiki")}
READERS_UNITS = {u: "read" for u in CONTRIBUTORS_UNITS}


def run_git(*args: str, cwd: Path | str | None = None, env: dict[str, str] | None = None,
            check: bool = True, identity: bool = True) -> subprocess.CompletedProcess:
    """git with no user or system configuration and no prompts; output as text.

    `identity`: commit as "Test <test@example.com>" (else as git's configuration says).
    """
    extra = {"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
             "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com"} \
        if identity else {}
    extra.update(env or {})
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env=git_env(extra), timeout=60, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done


def with_credentials(url: str, username: str, secret: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"{username}:{secret}@{parts.netloc}", parts.path, "", ""))


def basic(username: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{username}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


class AdminAPI:
    """The simulated Gitea's API with the admin token (set-up of a test, not under test)."""

    def __init__(self, url: str, token: str):
        self.url = url.rstrip("/")
        self.token = token

    def call(self, method: str, path: str, *, expect: int, json=None,
             headers: dict[str, str] | None = None):
        reply = requests.request(method, self.url + path, json=json, timeout=10,
                                 headers=headers or {"Authorization": f"token {self.token}"})
        assert reply.status_code == expect, (method, path, reply.status_code, reply.text)
        return reply.json() if reply.content else None

    def post(self, path: str, **kwargs):
        return self.call("POST", path, **kwargs)

    def put(self, path: str, **kwargs):
        return self.call("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.call("DELETE", path, **kwargs)


@dataclass
class Person:
    login: str
    token: str


@dataclass
class Project:
    """An organization with Contributors and Readers teams and one auto-initialised repo."""

    org: str
    name: str
    clone_url: str
    teams: dict[str, int]


def make_person(client: AdminAPI, login: str, scopes: tuple[str, ...] = ("write:repository", "read:user")
                ) -> Person:
    client.post("/api/v1/admin/users", json={"username": login, "email": f"{login}@example.com",
                                            "password": "correct-horse-battery",
                                            "must_change_password": False}, expect=201)
    reply = client.post(f"/api/v1/users/{login}/tokens", json={"name": "git", "scopes": list(scopes)},
                        headers=basic(login, "correct-horse-battery"), expect=201)
    return Person(login, reply["sha1"])


def make_project(client: AdminAPI, org: str = "acme", name: str = "widget") -> Project:
    client.post("/api/v1/orgs", json={"username": org, "visibility": "private"}, expect=201)
    teams = {}
    for team, units in (("Contributors", CONTRIBUTORS_UNITS), ("Readers", READERS_UNITS)):
        reply = client.post(f"/api/v1/orgs/{org}/teams", expect=201, json={
            "name": team, "permission": "write" if team == "Contributors" else "read",
            "units_map": units, "includes_all_repositories": True})
        teams[team] = reply["id"]
    repo = client.post(f"/api/v1/orgs/{org}/repos", expect=201, json={
        "name": name, "auto_init": True, "default_branch": "main", "private": True})
    return Project(org, name, repo["clone_url"], teams)


def join(client: AdminAPI, project: Project, team: str, person: Person) -> None:
    client.put(f"/api/v1/teams/{project.teams[team]}/members/{person.login}", expect=204)


def leave(client: AdminAPI, project: Project, team: str, person: Person) -> None:
    client.delete(f"/api/v1/teams/{project.teams[team]}/members/{person.login}", expect=204)
