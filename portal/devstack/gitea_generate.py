"""The simulated Gitea's template routes: generate, edit (the `template` flag), contents list.

Checks in Gitea v1.26's order (routers/api/v1/api.go and repo/repo.go Generate):
the template repository must exist and be readable (404); the body binds
`owner` Required and `name` Required;AlphaDashDot;MaxSize(100) (422
"[Name]: Required"); the repository must be a template (422 "this is not a
template repo"); at least one item must be chosen (422 "must select at least
one template item"); the owner must exist (404 `{"error": "request owner `x`
does not exist"}`); only an admin may generate for another user and a non-admin
needs a team allowed to create repositories in the organization (403); a name
that exists is 409, a reserved name or pattern 422. With `git_content` the new
repository gets the template's default-branch files expanded per
`.gitea/template` (portal/devstack/gitea_templates.py); without it, it is empty.

GET /repos/{owner}/{repo}/contents lists the root of the default branch (files
and directories, GitHub's shape, `content`/`encoding` null); an empty
repository has no default branch yet: 404, like the real resolveRefCommit.
PATCH /repos/{owner}/{repo} changes the fields the portal and bootstrap set
(`template`, `description`, `private`, `default_branch`).
"""
from __future__ import annotations

import base64
import hashlib
import pathlib
import re
from typing import TYPE_CHECKING

from portal.devstack.gitea_state import (ADMIN_LOGIN, GiteaState, Repo, SimError, User,
                                         check_repo_name)
from portal.devstack.gitea_templates import RepoRef, generate_files, starter_files

if TYPE_CHECKING:
    from portal.devstack.gitea_api import Auth, GiteaAPI, Reply

# The starters of this repository (absent from an installed package: then nothing is seeded).
STARTERS_DIR = pathlib.Path(__file__).resolve().parents[2] / "workspace-image" / "starters"
GENERATE_ITEMS = ("git_content", "topics", "git_hooks", "webhooks", "avatar", "labels",
                  "protected_branch")


def template_routes(api: "GiteaAPI") -> list:
    p = re.compile
    repo = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
    return [("POST", p(repo + "/generate"), lambda r, b, a, owner, repo: generate(api, r, b, a, owner, repo),
             "repository"),
            ("PATCH", p(repo), lambda r, b, a, owner, repo: edit(api, r, b, a, owner, repo),
             "repository"),
            ("GET", p(repo + "/contents"), lambda r, b, a, owner, repo: contents(api, b, owner, repo),
             "repository"),
            ("POST", p(repo + "/contents"),
             lambda r, b, a, owner, repo: change_files(api, r, b, a, owner, repo), "repository")]


def _readable(state: GiteaState, auth: "Auth", owner: str, name: str) -> Repo:
    """context.RepoAssignment + reqRepoReader: a private repository is invisible (404)."""
    repo = state.repo(owner, name)
    if repo is None:
        raise SimError(404, "The target couldn't be found.")
    doer = auth.doer.login.lower()
    if repo.private and not auth.doer.is_admin and not any(
            doer in t.members for t in state.org_teams(repo.owner)):
        raise SimError(404, "The target couldn't be found.")
    return repo


def generate(api: "GiteaAPI", request, base: str, auth: "Auth", owner: str, repo: str) -> "Reply":
    from portal.devstack.gitea_api import Reply

    state = api.state
    template = _readable(state, auth, owner, repo)
    body = api.json_body(request)
    target_owner, name = body.get("owner"), body.get("name")
    if not isinstance(target_owner, str) or not target_owner:
        raise SimError(422, "[Owner]: Required")
    check_repo_name(name)  # binding (Required;AlphaDashDot;MaxSize(100)), then reserved names
    if not template.template:
        raise SimError(422, "this is not a template repo")
    if not any(body.get(item) for item in GENERATE_ITEMS):
        raise SimError(422, "must select at least one template item")
    target = _owner(state, auth, target_owner)
    created = state.begin_repo(target, {"name": name, "private": bool(body.get("private")),
                                        "description": body.get("description") or "",
                                        "default_branch": body.get("default_branch") or
                                        template.default_branch}, readme=False)
    try:
        template_files = state.repo_files(template)
        if body.get("git_content") and template_files:
            files = generate_files(
                template_files, RepoRef(template.owner, template.name, template.description, base),
                RepoRef(target.login, created.name, created.description, base))
            state.init_repository_files(created, files, created.default_branch)
        elif state.disk is not None:  # an empty repository, as Gitea's generate makes it
            state.disk.create(target.login, created.name, branch=created.default_branch,
                              readme=None)
    finally:
        state.finish_repo(created)
    return Reply(201, api.repo_reply(created, target, base))


def _owner(state: GiteaState, auth: "Auth", name: str) -> User:
    target = state.user(name) or state.user(name, orgs=True)
    if target is None:
        raise SimError(404, f"request owner `{name}` does not exist", error=True)
    if target.login.lower() == auth.doer.login.lower() or auth.doer.is_admin:
        return target
    if not target.is_org:
        raise SimError(403, "Only admin can generate repository for other user.")
    doer = auth.doer.login.lower()
    if not any(doer in t.members and (t.can_create_org_repo or t.permission == "owner")
               for t in state.org_teams(target.login)):
        raise SimError(403, "Given user is not allowed to create repository in organization.")
    return target


def edit(api: "GiteaAPI", request, base: str, auth: "Auth", owner: str, repo: str) -> "Reply":
    from portal.devstack.gitea_api import Reply

    found = _readable(api.state, auth, owner, repo)
    doer = auth.doer.login.lower()
    if not auth.doer.is_admin and not any(doer in t.members and t.permission in ("owner", "admin")
                                          for t in api.state.org_teams(found.owner)):
        raise SimError(403, "Must have admin rights to the repository.")
    body = api.json_body(request)
    with api.state.lock:
        for key, kind in (("template", bool), ("private", bool), ("description", str)):
            if isinstance(body.get(key), kind):
                setattr(found, key, body[key])
        branch = body.get("default_branch")
        if isinstance(branch, str) and branch and (not api.state.repo_files(found)
                                                   or branch == found.default_branch):
            found.default_branch = branch  # only a branch that exists, or any on an empty repo
    owner_user = api.state.user(found.owner, orgs=True) or api.state.user(found.owner)
    return Reply(200, api.repo_reply(found, owner_user, base))


def contents(api: "GiteaAPI", base: str, owner: str, repo: str) -> "Reply":
    from portal.devstack.gitea_api import Reply

    found = api.state.repo(owner, repo)
    files = api.state.repo_files(found) if found is not None else {}
    if not files:
        raise SimError(404, "The target couldn't be found.")
    entries: dict[str, tuple[str, bytes | None]] = {}
    for path, data in files.items():
        head, sep, _rest = path.partition("/")
        entries.setdefault(head, ("dir", None) if sep else ("file", data))
    return Reply(200, [_entry(found, base, name, kind, data)
                       for name, (kind, data) in sorted(entries.items())])


def change_files(api: "GiteaAPI", request, base: str, auth: "Auth", owner: str,
                 repo: str) -> "Reply":
    """POST /repos/{owner}/{repo}/contents (repoChangeFiles), `create` operations only: one
    commit on `branch`; on an empty repository that branch becomes the default one (Gitea
    >= 1.17, go-gitea/gitea#19224). A file that exists: 422, nothing written."""
    from portal.devstack.gitea_api import Reply

    found = _readable(api.state, auth, owner, repo)
    body = api.json_body(request)
    operations = body.get("files")
    if not isinstance(operations, list) or not operations:
        raise SimError(422, "[Files]: Required")
    branch = body.get("branch") or found.default_branch
    files = api.state.repo_files(found)
    if files and branch != found.default_branch:
        raise SimError(404, f"branch does not exist [name: {branch}]")
    for op in operations:
        if not isinstance(op, dict) or op.get("operation") != "create" or not op.get("path"):
            raise SimError(422, "only `create` operations with a path are simulated")
        if op["path"] in files:
            raise SimError(422, f"repository file already exists [path: {op['path']}]")
        try:
            files[op["path"]] = base64.b64decode(op.get("content") or "", validate=True)
        except ValueError:
            raise SimError(400, "illegal base64 data") from None
    api.state.init_repository_files(found, files, branch)
    sha = hashlib.sha1(repr(sorted(files)).encode()).hexdigest()
    return Reply(201, {"files": [_entry(found, base, op["path"], "file", files[op["path"]])
                                 for op in operations],
                       "commit": {"sha": sha, "message": body.get("message") or "",
                                  "html_url": f"{base}/{found.owner}/{found.name}/commit/{sha}"},
                       "verification": {"verified": False, "reason": "gpg.error.not_signed_commit"}})


def _entry(repo: Repo, base: str, name: str, kind: str, data: bytes | None) -> dict:
    full = f"{repo.owner}/{repo.name}"
    blob = b"blob %d\0" % len(data) + data if data is not None else name.encode()
    sha = hashlib.sha1(blob).hexdigest()
    api_url = f"{base}/api/v1/repos/{full}/contents/{name}?ref={repo.default_branch}"
    html = f"{base}/{full}/src/branch/{repo.default_branch}/{name}"
    git_url = f"{base}/api/v1/repos/{full}/git/{'blobs' if kind == 'file' else 'trees'}/{sha}"
    return {"name": name, "path": name, "sha": sha, "type": kind,
            "size": len(data) if data is not None else 0, "encoding": None, "content": None,
            "target": None, "url": api_url, "html_url": html, "git_url": git_url,
            "download_url": (f"{base}/{full}/raw/branch/{repo.default_branch}/{name}"
                             if kind == "file" else None),
            "submodule_git_url": None, "last_commit_sha": sha,
            "_links": {"self": api_url, "git": git_url, "html": html}}


def seed_templates(state: GiteaState, org: str, directory: pathlib.Path) -> list[str]:
    """The organization `org` with one template repository per sub-directory of `directory`
    (the dev stack's `starters`, like compose/bootstrap.sh does on a real Gitea)."""
    admin = state.user(ADMIN_LOGIN)
    assert admin is not None
    if state.user(org, orgs=True) is None:
        state.create_org({"username": org, "visibility": "public",
                          "full_name": "Project starters"}, admin)
    owner = state.user(org, orgs=True)
    described = directory / "descriptions.tsv"
    descriptions = dict(line.split("\t", 1) for line in (
        described.read_text().splitlines() if described.is_file() else ())
        if "\t" in line and not line.startswith("#"))
    names = []
    for path in sorted(p for p in directory.iterdir() if p.is_dir()):
        if state.repo(org, path.name) is None:
            repo = state.begin_repo(owner, {"name": path.name, "template": True,
                                            "description": descriptions.get(path.name, "")},
                                    readme=False)
            state.init_repository_files(repo, starter_files(path), "main")
            state.finish_repo(repo)
        names.append(path.name)
    return names
