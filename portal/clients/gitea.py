"""GiteaClient: the Gitea v1 API calls the portal makes, one method per endpoint.

Every request exists in ../shared/contracts/gitea-v1-swagger.json (tests check
each exchange against it) and follows the real server's behaviour recorded in
contracts/NOTES.md (Gitea v1.26):

* creates are idempotent: a duplicate answers 422 (users, orgs, teams) or 409
  (repositories) and we read the existing object back instead;
* two concurrent creates of one repository may answer 500 to the loser, so a
  409/500 on repository creation is followed by a GET that decides;
* tokens for another user can only be minted with HTTP Basic auth. Gitea's
  Basic method accepts an access token as the password (services/auth/basic.go)
  and then marks the request as Basic-authenticated, which is what
  `reqBasicOrRevProxyAuth` checks; `reqSelfOrAdmin` lets a site admin act on
  any `{username}` and the token is created for that user (ContextUser). So the
  portal sends its admin token as the Basic password; no user password needed.

Replies are checked for every field we use: a wrong shape raises BadResponse,
never KeyError/TypeError. Secrets (admin token, minted tokens, generated
passwords) never reach a log line, an exception or a repr.
"""
from __future__ import annotations

import secrets
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar
from urllib.parse import quote

import requests

from portal.clients import gitea_generate, gitea_migrate
from portal.clients.gitea_types import (  # noqa: F401 - re-exported
    GiteaEntry, GiteaHealth, GiteaOrg, GiteaRepo, GiteaTeam, GiteaToken, GiteaUser)
from portal.clients.http import (BadRequest, BadResponse, Conflict, NotFound, ServerError,
                                 ServiceClient, ServiceUnavailable)

API = "/api/v1"
PAGE_LIMIT = 50           # Gitea silently caps `limit` at MAX_RESPONSE_ITEMS (default 50)
MAX_PAGES = 1000          # a guard against a server whose pagination never ends
REPO_TOKEN_SCOPES = ("write:repository",)
REQUIRED_ADMIN_SCOPES = ("write:admin", "write:organization", "write:repository", "write:user")

CONTRIBUTORS = "Contributors"
READERS = "Readers"
CONTRIBUTOR_UNITS = {"repo.code": "write", "repo.issues": "write", "repo.pulls": "write",
                     "repo.releases": "write", "repo.wiki": "write"}
READER_UNITS = {unit: "read" for unit in CONTRIBUTOR_UNITS}
# name -> (permission, units_map); see NOTES.md: a team without units_map is a 500.
PORTAL_TEAMS: dict[str, tuple[str, dict[str, str]]] = {
    CONTRIBUTORS: ("write", CONTRIBUTOR_UNITS),
    READERS: ("read", READER_UNITS),
}

T = TypeVar("T")


# -- per-name serialisation of creates -----------------------------------------------------
_create_locks: dict[tuple[str, ...], threading.Lock] = {}
_create_locks_guard = threading.Lock()


@contextmanager
def name_lock(*key: str) -> Iterator[None]:
    """Serialise creates of one name inside this process (NOTES.md: concurrent creates race).

    Other processes are covered by the create-then-read logic; this only stops
    our own threads from racing each other into Gitea's 500.
    """
    with _create_locks_guard:
        lock = _create_locks.setdefault(tuple(k.lower() for k in key), threading.Lock())
    with lock:
        yield


def _seg(value: str | int) -> str:
    """One URL path segment, percent-encoded."""
    return quote(str(value), safe="")


class GiteaClient:
    """The portal's view of one Gitea server, authenticated with the admin token."""

    def __init__(self, base_url: str, admin_token: str, *, auth_source_id: int | None = None,
                 connect_timeout: float = 3, read_timeout: float = 10,
                 session: requests.Session | None = None, retries: int = 2):
        if not admin_token:
            raise ValueError("a Gitea admin token is required")
        self._token = admin_token
        self.auth_source_id = auth_source_id
        self.http = ServiceClient("gitea", base_url, headers={"Authorization": f"token {admin_token}"},
                                  connect_timeout=connect_timeout, read_timeout=read_timeout,
                                  retries=retries, session=session)
        self._admin_login: str | None = None

    def __repr__(self) -> str:
        return f"GiteaClient({self.http.base_url!r})"

    # -- reply checking --------------------------------------------------------------------
    def _get(self, body: Any, key: str, kind: type | tuple, method: str, path: str) -> Any:
        if kind is int and isinstance(body, dict) and isinstance(body.get(key), bool):
            raise BadResponse("gitea", method, path, f"reply field '{key}' is not an integer")
        return self.http.field(body, key, kind, method, path)

    @staticmethod
    def _opt(body: dict, key: str, kind: type | tuple, default: Any) -> Any:
        value = body.get(key)
        return value if isinstance(value, kind) and not (kind is int and isinstance(value, bool)) \
            else default

    def _user(self, body: Any, method: str, path: str) -> GiteaUser:
        return GiteaUser(id=self._get(body, "id", int, method, path),
                         login=self._get(body, "login", str, method, path),
                         email=self._opt(body, "email", str, ""),
                         is_admin=self._opt(body, "is_admin", bool, False),
                         login_name=self._opt(body, "login_name", str, ""),
                         source_id=self._opt(body, "source_id", int, 0),
                         prohibit_login=self._opt(body, "prohibit_login", bool, False))

    def _org(self, body: Any, method: str, path: str) -> GiteaOrg:
        name = body.get("name") or body.get("username") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            raise BadResponse("gitea", method, path, "reply lacks field 'name' of type str")
        return GiteaOrg(id=self._get(body, "id", int, method, path), name=name,
                        visibility=self._opt(body, "visibility", str, ""))

    def _team(self, body: Any, method: str, path: str) -> GiteaTeam:
        units = self._opt(body, "units_map", dict, {}) if isinstance(body, dict) else {}
        return GiteaTeam(id=self._get(body, "id", int, method, path),
                         name=self._get(body, "name", str, method, path),
                         permission=self._opt(body, "permission", str, ""),
                         units_map={str(k): str(v) for k, v in units.items()},
                         includes_all_repositories=self._opt(body, "includes_all_repositories",
                                                             bool, False))

    def _repo(self, body: Any, method: str, path: str) -> GiteaRepo:
        owner = self._get(body, "owner", dict, method, path)
        return GiteaRepo(id=self._get(body, "id", int, method, path),
                         name=self._get(body, "name", str, method, path),
                         full_name=self._opt(body, "full_name", str, ""),
                         owner=self._get(owner, "login", str, method, path),
                         clone_url=self._get(body, "clone_url", str, method, path),
                         default_branch=self._opt(body, "default_branch", str, ""),
                         private=self._opt(body, "private", bool, False),
                         empty=self._opt(body, "empty", bool, False),
                         template=self._opt(body, "template", bool, False),
                         description=self._opt(body, "description", str, ""))

    parse_repo = _repo  # for the helper modules of this client (gitea_migrate, gitea_generate)

    def _token_reply(self, body: Any, method: str, path: str, *, secret: bool) -> GiteaToken:
        value = self._get(body, "sha1", str, method, path) if secret else ""
        if secret and not value:
            raise BadResponse("gitea", method, path, "reply field 'sha1' is empty")
        scopes = self._opt(body, "scopes", list, [])
        return GiteaToken(id=self._get(body, "id", int, method, path),
                          name=self._get(body, "name", str, method, path), secret=value,
                          scopes=tuple(s for s in scopes if isinstance(s, str)),
                          last_eight=self._opt(body, "token_last_eight", str, ""))

    # -- plumbing --------------------------------------------------------------------------
    def _json(self, method: str, path: str, expect: type = dict, **kwargs) -> Any:
        return self.http.json(method, API + path, expect=expect, **kwargs)

    def _get_or_none(self, path: str, build: Callable[[Any, str, str], T]) -> T | None:
        try:
            body = self._json("GET", path)
        except NotFound:
            return None
        return build(body, "GET", API + path)

    def _paginate(self, path: str, build: Callable[[Any, str, str], T],
                  auth: Any = None) -> list[T]:
        """Every item of a Gitea list, following `page`/`limit` to the end.

        X-Total-Count decides when it is present, else the Link header's
        rel="next", else a short page; the server may cap `limit` below ours.
        """
        items: list[T] = []
        for page in range(1, MAX_PAGES + 1):
            resp = self.http.request("GET", API + path, params={"page": page, "limit": PAGE_LIMIT},
                                     auth=auth)
            batch = self.http.decode(resp, "GET", API + path, list)
            items.extend(build(entry, "GET", API + path) for entry in batch)
            total = _int_header(resp.headers.get("X-Total-Count"))
            if not batch:
                break
            if total is not None:
                if len(items) >= total:
                    break
            elif "Link" in resp.headers:
                if 'rel="next"' not in resp.headers["Link"]:
                    break
            elif len(batch) < PAGE_LIMIT:
                break
        return items

    def _basic(self) -> requests.auth.HTTPBasicAuth:
        """HTTP Basic credentials carrying the admin token as the password (see module doc)."""
        return requests.auth.HTTPBasicAuth(self.admin_login(), self._token)

    # -- server ----------------------------------------------------------------------------
    def health(self) -> GiteaHealth:
        """GET /api/healthz (outside /api/v1): 200 pass, 424 fail."""
        resp = self.http.request("GET", "/api/healthz", ok=(200, 424))
        try:
            body = resp.json()
        except ValueError:
            body = None
        status = body.get("status") if isinstance(body, dict) else None
        if not isinstance(status, str):
            status = str(resp.status_code)
        return GiteaHealth(ok=resp.status_code == 200 and status == "pass", status=status)

    def version(self) -> str:
        body = self._json("GET", "/version")
        return self._get(body, "version", str, "GET", API + "/version")

    def whoami(self) -> GiteaUser:
        """The owner of the admin token (GET /user); `doctor` checks is_admin."""
        user = self._user(self._json("GET", "/user"), "GET", API + "/user")
        self._admin_login = user.login
        return user

    def admin_login(self) -> str:
        if self._admin_login is None:
            self.whoami()
        assert self._admin_login is not None
        return self._admin_login

    def admin_token_scopes(self) -> tuple[str, ...] | None:
        """The admin token's own scopes, or None when they cannot be discovered.

        Gitea has no "who am I" for tokens; the token list of the admin user
        (Basic auth, like token creation) shows each token's scopes and last
        eight characters, which identifies ours.
        """
        try:
            tokens = self.list_user_tokens(self.admin_login())
        except (NotFound, BadRequest):
            return None
        for token in tokens:
            if token.last_eight and self._token.endswith(token.last_eight):
                return token.scopes
        return None

    @staticmethod
    def missing_admin_scopes(scopes: tuple[str, ...] | list[str]) -> list[str]:
        """Which of REQUIRED_ADMIN_SCOPES `scopes` does not grant ("all" grants all)."""
        have = set(scopes)
        if "all" in have:
            return []
        return [s for s in REQUIRED_ADMIN_SCOPES if s not in have]

    # -- users -----------------------------------------------------------------------------
    def create_user(self, username: str, email: str, *, login_name: str | None = None,
                    full_name: str = "") -> GiteaUser:
        """POST /admin/users; an existing user of that name (422) is read back and returned.

        Linked to the OIDC auth source (`source_id`, `login_name` = the sub) when
        the client has `auth_source_id`; otherwise a random strong password is set
        that nobody ever sees (people sign in through OIDC, git uses tokens).
        `must_change_password: false` always: omitted means true, and such a
        user's tokens get 403 on the API.
        """
        body: dict[str, Any] = {"username": username, "email": email,
                                "must_change_password": False, "send_notify": False}
        if full_name:
            body["full_name"] = full_name[:100]
        if self.auth_source_id is not None:
            if not login_name:
                raise ValueError("login_name (the OIDC sub) is required with an auth source")
            body.update(source_id=self.auth_source_id, login_name=login_name)
        else:
            body["password"] = _random_password()
            if login_name:
                body["login_name"] = login_name
        path = API + "/admin/users"
        try:
            return self._user(self.http.json("POST", path, json=body, expect=dict), "POST", path)
        except BadRequest as exc:
            if exc.status != 422:
                raise
            existing = self.get_user(username)
            if existing is None:
                raise  # 422 for another reason: invalid name, email in use, reserved...
            return existing

    def get_user(self, username: str) -> GiteaUser | None:
        return self._get_or_none(f"/users/{_seg(username)}", self._user)

    def set_prohibit_login(self, username: str, prohibit: bool) -> GiteaUser | None:
        """PATCH /admin/users/{username} with `prohibit_login`; None when Gitea has no such user.

        EditUserOption requires `login_name` (binding "Required") and `source_id`; both are
        sent back as the user has them, so the OIDC link is kept (go-gitea/gitea v1.26
        modules/structs/admin_user.go; routers/api/v1/admin/user.go EditUser). A blocked
        user's tokens get 403 on the API and on git (services/auth checkAccount)."""
        current = self.get_user(username)
        if current is None:
            return None
        body = {"source_id": current.source_id, "login_name": current.login_name or username,
                "prohibit_login": prohibit}
        path = f"/admin/users/{_seg(username)}"
        try:
            return self._user(self._json("PATCH", path, json=body), "PATCH", API + path)
        except NotFound:
            return None

    # -- organisations and teams -----------------------------------------------------------
    def create_org(self, name: str, *, owner: str | None = None, full_name: str = "",
                   visibility: str = "private") -> GiteaOrg:
        """POST /orgs (owned by the admin) or /admin/users/{owner}/orgs; 422 → read back."""
        body: dict[str, Any] = {"username": name, "visibility": visibility}
        if full_name:
            body["full_name"] = full_name[:100]
        path = API + (f"/admin/users/{_seg(owner)}/orgs" if owner else "/orgs")
        try:
            return self._org(self.http.json("POST", path, json=body, expect=dict), "POST", path)
        except BadRequest as exc:
            if exc.status != 422:
                raise
            existing = self.get_org(name)
            if existing is None:
                raise
            return existing

    def get_org(self, name: str) -> GiteaOrg | None:
        return self._get_or_none(f"/orgs/{_seg(name)}", self._org)

    def list_teams(self, org: str) -> list[GiteaTeam]:
        return self._paginate(f"/orgs/{_seg(org)}/teams", self._team)

    def create_team(self, org: str, name: str, permission: str, units_map: dict[str, str], *,
                    includes_all_repositories: bool = True, description: str = "") -> GiteaTeam:
        """POST /orgs/{org}/teams; a duplicate is a 422 (BadRequest) for the caller to handle."""
        if not units_map:
            raise ValueError("Gitea answers 500 for a team without units_map")
        body = {"name": name, "permission": permission, "units_map": dict(units_map),
                "includes_all_repositories": includes_all_repositories,
                "can_create_org_repo": False, "description": description}
        path = API + f"/orgs/{_seg(org)}/teams"
        return self._team(self.http.json("POST", path, json=body, expect=dict), "POST", path)

    def ensure_teams(self, org: str) -> dict[str, GiteaTeam]:
        """The portal's teams (Contributors, Readers) of `org`, creating the missing ones.

        Team names are case-insensitive in Gitea. A 422 means someone created
        the team meanwhile: re-read the list.
        """
        def by_name() -> dict[str, GiteaTeam]:
            return {team.name.lower(): team for team in self.list_teams(org)}

        teams = by_name()
        result: dict[str, GiteaTeam] = {}
        for name, (permission, units) in PORTAL_TEAMS.items():
            if name.lower() in teams:
                result[name] = teams[name.lower()]
                continue
            try:
                result[name] = self.create_team(org, name, permission, units,
                                                description="Managed by the portal")
            except BadRequest as exc:
                if exc.status != 422:
                    raise
                teams = by_name()
                if name.lower() not in teams:
                    raise
                result[name] = teams[name.lower()]
        return result

    def add_team_member(self, team_id: int, username: str) -> None:
        """PUT /teams/{id}/members/{username}: 204, idempotent."""
        self.http.request("PUT", API + f"/teams/{int(team_id)}/members/{_seg(username)}")

    def remove_team_member(self, team_id: int, username: str) -> bool:
        """DELETE /teams/{id}/members/{username}. False when the team or user is gone (404),
        which leaves the desired state ("not a member") holding."""
        try:
            self.http.request("DELETE", API + f"/teams/{int(team_id)}/members/{_seg(username)}")
        except NotFound:
            return False
        return True

    def is_team_member(self, team_id: int, username: str) -> bool:
        """GET /teams/{id}/members/{username}: 200 member, 404 not (or no such team/user)."""
        try:
            self.http.request("GET", API + f"/teams/{int(team_id)}/members/{_seg(username)}")
        except NotFound:
            return False
        return True

    def list_team_members(self, team_id: int) -> list[GiteaUser]:
        return self._paginate(f"/teams/{int(team_id)}/members", self._user)

    # -- repositories ----------------------------------------------------------------------
    def get_repo(self, owner: str, name: str) -> GiteaRepo | None:
        return self._get_or_none(f"/repos/{_seg(owner)}/{_seg(name)}", self._repo)

    def create_repo(self, org: str, name: str, *, description: str = "",
                    private: bool = True, settle: tuple[float, ...] = (0.1, 0.3, 0.6)) -> GiteaRepo:
        """POST /orgs/{org}/repos (auto-initialised, branch main), or the existing repo.

        A 409 (exists), a 500 (lost a concurrent create) or a timeout (maybe
        created) is followed by a GET that decides; the GET is retried briefly
        (`settle`) because the winner may not have finished yet.
        """
        body = {"name": name, "auto_init": True, "default_branch": "main", "private": private,
                "description": description[:2048]}
        path = API + f"/orgs/{_seg(org)}/repos"
        return self.create_once(org, name, path, lambda: self.http.json(
            "POST", path, json=body, expect=dict), settle=settle)

    def create_once(self, owner: str, name: str, path: str, post: Callable[[], Any], *,
                    settle: tuple[float, ...] = (0.1, 0.3, 0.6)) -> GiteaRepo:
        """`post()` (a create of owner/name at `path`) unless the repository exists.

        Creates of one name are serialised in this process (name_lock); a 409, a
        500 (a concurrent create elsewhere) or a timeout is followed by a GET that
        decides, retried briefly (`settle`) while the winner finishes.
        """
        with name_lock(self.http.base_url, owner, name):
            existing = self.get_repo(owner, name)
            if existing is not None:
                return existing
            try:
                reply = post()
            except (Conflict, ServerError, ServiceUnavailable) as exc:
                if isinstance(exc, ServiceUnavailable) and not isinstance(exc, ServerError) \
                        and exc.status is not None:
                    raise  # 502/503/504: not created; the caller retries later
                for delay in (0.0, *settle):
                    time.sleep(delay)
                    existing = self.get_repo(owner, name)
                    if existing is not None:
                        return existing
                raise
            return self._repo(reply, "POST", path)

    def list_org_repos(self, org: str) -> list[GiteaRepo]:
        """GET /orgs/{org}/repos, every page."""
        return self._paginate(f"/orgs/{_seg(org)}/repos", self._repo)

    def delete_repo(self, owner: str, name: str) -> bool:
        """DELETE /repos/{owner}/{repo}; False when it was already gone."""
        try:
            self.http.request("DELETE", API + f"/repos/{_seg(owner)}/{_seg(name)}")
        except NotFound:
            return False
        return True

    def migrate_repo(self, org: str, name: str, clone_addr: str, **kwargs: Any) -> GiteaRepo:
        """POST /repos/migrate (portal/clients/gitea_migrate.py), or the existing repo."""
        return gitea_migrate.migrate_repo(self, org, name, clone_addr, **kwargs)

    def generate_repo(self, template_owner: str, template_repo: str, owner: str, name: str,
                      **kwargs: Any) -> GiteaRepo:
        """POST /repos/{template_owner}/{template_repo}/generate (gitea_generate.py), or the
        existing repository."""
        return gitea_generate.generate_repo(self, template_owner, template_repo, owner, name,
                                            **kwargs)

    def list_templates(self, org: str) -> list[GiteaRepo]:
        """The template repositories of `org` (GET /orgs/{org}/repos, every page)."""
        return [repo for repo in self.list_org_repos(org) if repo.template]

    def list_root(self, owner: str, name: str) -> list[GiteaEntry] | None:
        """The entries at the root of the default branch; None for an empty (or no) repository."""
        return gitea_generate.list_root(self, owner, name)

    def clone_url(self, owner: str, name: str) -> str:
        """The HTTPS clone URL, as Gitea reports it (honours ROOT_URL and sub-paths)."""
        repo = self.get_repo(owner, name)
        if repo is None:
            raise NotFound("gitea", "GET", API + f"/repos/{owner}/{name}", "repository not found")
        return repo.clone_url

    # -- per-user tokens -------------------------------------------------------------------
    def create_user_token(self, username: str, *, name: str | None = None,
                          scopes: tuple[str, ...] | list[str] = REPO_TOKEN_SCOPES) -> GiteaToken:
        """POST /users/{username}/tokens with Basic auth; the secret is `GiteaToken.secret`.

        `name` must be unique per user (a duplicate is a 400); by default a fresh
        `portal-<time>-<random>` name is used so rotation never collides.
        """
        token_name = name or f"portal-{int(time.time())}-{secrets.token_hex(4)}"
        path = API + f"/users/{_seg(username)}/tokens"
        body = {"name": token_name, "scopes": list(scopes)}
        reply = self.http.json("POST", path, json=body, auth=self._basic(), expect=dict)
        return self._token_reply(reply, "POST", path, secret=True)

    def list_user_tokens(self, username: str) -> list[GiteaToken]:
        """GET /users/{username}/tokens (Basic auth); secrets are never listed."""
        return self._paginate(f"/users/{_seg(username)}/tokens",
                              lambda b, m, p: self._token_reply(b, m, p, secret=False),
                              auth=self._basic())

    def delete_user_token(self, username: str, token: int | str) -> bool:
        """DELETE /users/{username}/tokens/{id or name}; False when it was already gone."""
        path = API + f"/users/{_seg(username)}/tokens/{_seg(token)}"
        try:
            self.http.request("DELETE", path, auth=self._basic())
        except NotFound:
            return False
        return True


def _int_header(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _random_password() -> str:
    """A password nobody will ever type, satisfying any PASSWORD_COMPLEXITY setting."""
    return secrets.token_urlsafe(32) + "aZ9!"
