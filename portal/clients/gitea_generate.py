"""Gitea's template repositories: generate a repository from one, list a repository's files.

Used through `GiteaClient.generate_repo` and `GiteaClient.list_root`. The body of
POST /repos/{template_owner}/{template_repo}/generate follows GenerateRepoOption
in ../shared/contracts/gitea-v1-swagger.json; the behaviour follows Gitea
v1.26's routers/api/v1/repo/repo.go Generate: 404 when the template is missing
or unreadable, 422 when it is not a template ("this is not a template repo"),
when no item is chosen or the name is invalid, 403 when the doer may not create
in the owner, 409 when the name exists. Only the git content is copied (the
default branch's files, with `.gitea/template`'s variables expanded by Gitea,
services/repository/generate.go); the new repository is private, branch `main`.

Like create_repo, a 409, a 500 (a concurrent create) or a timeout is followed
by a GET that decides, and a repository already there is adopted: a retried
pass never generates twice.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from portal.clients.gitea_types import GiteaEntry
from portal.clients.http import BadResponse, NotFound

if TYPE_CHECKING:
    from portal.clients.gitea import GiteaClient, GiteaRepo

API = "/api/v1"
GENERATE_READ_TIMEOUT = 60.0  # Gitea clones the template and commits before it answers


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def generate_body(owner: str, name: str, *, description: str = "", private: bool = True,
                  default_branch: str = "main") -> dict[str, Any]:
    return {"owner": owner, "name": name, "description": description[:2048],
            "private": private, "default_branch": default_branch, "git_content": True}


def generate_repo(client: "GiteaClient", template_owner: str, template_repo: str, owner: str,
                  name: str, *, description: str = "", private: bool = True,
                  default_branch: str = "main",
                  settle: tuple[float, ...] = (0.1, 0.3, 0.6)) -> "GiteaRepo":
    """`owner/name` generated from the template, or the repository when it exists already."""
    body = generate_body(owner, name, description=description, private=private,
                         default_branch=default_branch)
    path = API + f"/repos/{_segment(template_owner)}/{_segment(template_repo)}/generate"
    http = client.http
    return client.create_once(owner, name, path, lambda: http.json(
        "POST", path, json=body, expect=dict,
        timeout=(http.connect_timeout, max(http.read_timeout, GENERATE_READ_TIMEOUT))),
        settle=settle)


def list_root(client: "GiteaClient", owner: str, name: str) -> list[GiteaEntry] | None:
    """GET /repos/{owner}/{repo}/contents: the root of the default branch.

    None when Gitea answers 404: the repository is empty (no default branch yet)
    or gone. Entries come sorted as Gitea sends them (directories first is left
    to the page)."""
    path = API + f"/repos/{_segment(owner)}/{_segment(name)}/contents"
    try:
        body = client.http.json("GET", path, expect=list)
    except NotFound:
        return None
    entries = []
    for item in body:
        if not isinstance(item, dict):
            raise BadResponse("gitea", "GET", path, "a contents entry is not an object")
        entry_name, entry_type = item.get("name"), item.get("type")
        if not isinstance(entry_name, str) or not isinstance(entry_type, str):
            raise BadResponse("gitea", "GET", path, "a contents entry lacks name or type")
        size = item.get("size")
        entries.append(GiteaEntry(
            name=entry_name, path=item.get("path") if isinstance(item.get("path"), str)
            else entry_name, type=entry_type,
            size=size if isinstance(size, int) and not isinstance(size, bool) else 0))
    return entries
