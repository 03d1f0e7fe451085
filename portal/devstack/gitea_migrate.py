"""The simulated Gitea's POST /api/v1/repos/migrate (Gitea v1.26 routers/api/v1/repo/migrate.go).

Checks in the real server's order: the body's bindings (clone_addr and
repo_name required, repo name AlphaDashDot/MaxSize 100) → 422; the owner
(repo_owner, or the doer) must exist → 422; the doer must be a site admin,
the owner, or an owner of the organization → 403; the address must be an
http(s)/git URL of a host that is not on the local network (Gitea's default
`[migrations] ALLOW_LOCALNETWORKS = false`) → 422; a repository of that name →
409; a source that needs credentials (`state.private_sources`) and got none →
422 "Authentication failed: …". A source registered with
`GiteaSim.add_import_source` (a local test repository standing for that URL)
is really cloned: every branch and tag, its default branch kept. Any other
source cannot be reached from the dev stack, so its repository is created
empty, as if the source had been an empty repository. Each import is recorded
in `state.migrations` (never the credentials themselves).
"""
from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from portal.devstack.gitea_state import SimError, check_repo_name

if TYPE_CHECKING:
    from portal.devstack.gitea_api import Auth, GiteaAPI

SERVICES = ("git", "github", "gitea", "gitlab", "gogs", "onedev", "gitbucket", "codebase",
            "codecommit")


def _local(host: str) -> bool:
    if host in ("localhost",) or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_unspecified


def source_key(url: str) -> str:
    """How `state.private_sources` names a source: host/path, lower-case, no .git suffix."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    path = path[:-4] if path.endswith(".git") else path
    return f"{(parts.hostname or '').lower()}{path.lower()}"


def _clone(api: "GiteaAPI", owner: str, repo, source: str | None) -> None:
    """The repository's content: a clone of a registered local source, else empty."""
    try:
        if source is None:
            api.disk.create(owner, repo.name, branch=repo.default_branch, readme=None)
        else:
            repo.default_branch = api.disk.import_from(owner, repo.name, source)
    except (OSError, RuntimeError) as exc:
        with api.state.lock:
            api.state.repos.pop((owner.lower(), repo.name.lower()), None)
        raise SimError(500, f"Migration failed: {exc}") from None


def migrate(api: "GiteaAPI", body: dict, auth: "Auth"):
    """Returns (repo, owner); raises SimError like the real handler."""
    state = api.state
    clone_addr = body.get("clone_addr")
    if not isinstance(clone_addr, str) or not clone_addr:
        raise SimError(422, "[CloneAddr]: Required")
    check_repo_name(body.get("repo_name"))
    owner_name = body.get("repo_owner") or auth.doer.login
    owner = state.user(owner_name) or state.user(owner_name, orgs=True)
    if owner is None:
        raise SimError(422, f"user redirect does not exist [name: {owner_name.lower()}]")
    if not auth.doer.is_admin:
        if not owner.is_org and owner.login.lower() != auth.doer.login.lower():
            raise SimError(403, "Given user is not an organization.")
        if owner.is_org and not any(t.name == "Owners" and auth.doer.login.lower() in t.members
                                    for t in state.org_teams(owner.login)):
            raise SimError(403, "Given user is not owner of organization.")
    service = body.get("service") or "git"
    if service not in SERVICES:
        raise SimError(422, f"[Service]: unknown service {service}")
    parts = urlsplit(clone_addr)
    if parts.scheme not in ("http", "https", "git") or not parts.hostname:
        raise SimError(422, "Invalid url")
    if _local(parts.hostname.lower()):
        raise SimError(422, "You can not import from disallowed hosts.")
    authenticated = bool(body.get("auth_token") if service != "git" else
                         (body.get("auth_password") or parts.password))
    repo = state.begin_repo(owner, {"name": body["repo_name"], "private": body.get("private"),
                                    "auto_init": True, "default_branch": "main",
                                    "description": body.get("description") or ""}, readme=False)
    try:
        if source_key(clone_addr) in state.private_sources and not authenticated:
            with state.lock:
                state.repos.pop((owner.login.lower(), repo.name.lower()), None)
            raise SimError(422, f"Authentication failed: clone error: exit status 128 - "
                                f"fatal: could not read Username for "
                                f"'{parts.scheme}://{parts.hostname}': terminal prompts disabled.")
        _clone(api, owner.login, repo, state.import_sources.get(source_key(clone_addr)))
    finally:
        state.finish_repo(repo)
    with state.lock:
        state.migrations.append({"owner": owner.login, "name": repo.name,
                                 "clone_addr": clone_addr, "service": service,
                                 "mirror": bool(body.get("mirror")),
                                 "private": bool(body.get("private")),
                                 "authenticated": authenticated})
    return repo, owner
