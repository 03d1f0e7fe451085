"""Gitea's migrate API (POST /repos/migrate): a project's repository imported from a URL.

Used through `GiteaClient.migrate_repo`. The body follows MigrateRepoOptions in
../shared/contracts/gitea-v1-swagger.json; the behaviour follows Gitea v1.26's
routers/api/v1/repo/migrate.go: the owner must exist (422), the doer must be an
admin or own the organization (403), the address must be an allowed http(s)
URL (422), a repository of that name exists → 409, a source Gitea cannot read
(private without credentials, wrong token) → 422 "Authentication failed: …".
Only the code is imported (no issues, wiki, releases...), as a plain
repository (`mirror: false`): the project's repository is where people work.

For a github.com source with the person's token, the `github` service is used
with `auth_token` (Gitea's GitHub downloader clones with it as an oauth2
credential); any other source is a plain `git` clone without credentials. The
token never reaches an exception message.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from portal.clients.http import ServiceError

if TYPE_CHECKING:
    from portal.clients.gitea import GiteaClient, GiteaRepo

API = "/api/v1"
MIGRATE_READ_TIMEOUT = 60.0  # Gitea clones before it answers


def is_github(url: str | None) -> bool:
    host = (urlsplit(url or "").hostname or "").lower()
    return host in ("github.com", "www.github.com")


def migrate_body(org: str, name: str, clone_addr: str, *, description: str = "",
                 private: bool = True, auth_token: str | None = None) -> dict[str, Any]:
    github = bool(auth_token) and is_github(clone_addr)
    body: dict[str, Any] = {
        "clone_addr": clone_addr, "repo_owner": org, "repo_name": name,
        "service": "github" if github else "git", "mirror": False, "private": private,
        "description": description[:2048], "wiki": False, "issues": False, "labels": False,
        "milestones": False, "pull_requests": False, "releases": False, "lfs": False}
    if github:
        body["auth_token"] = auth_token
    return body


def _scrub(exc: ServiceError, secret: str | None) -> ServiceError:
    if secret:
        exc.message = exc.message.replace(secret, "•••")
        exc.args = tuple(str(a).replace(secret, "•••") for a in exc.args)
    return exc


def migrate_repo(client: "GiteaClient", org: str, name: str, clone_addr: str, *,
                 description: str = "", private: bool = True, auth_token: str | None = None,
                 settle: tuple[float, ...] = (0.1, 0.3, 0.6)) -> "GiteaRepo":
    """Import `clone_addr` as org/name, or return the repository when it exists already.

    Like create_repo: a 409, a 500 or a timeout (the import may be running) is
    followed by a GET that decides.
    """
    body = migrate_body(org, name, clone_addr, description=description, private=private,
                        auth_token=auth_token)
    path = API + "/repos/migrate"
    http = client.http
    try:
        return client.create_once(org, name, path, lambda: http.json(
            "POST", path, json=body, expect=dict,
            timeout=(http.connect_timeout, max(http.read_timeout, MIGRATE_READ_TIMEOUT))),
            settle=settle)
    except ServiceError as exc:
        raise _scrub(exc, auth_token) from None
