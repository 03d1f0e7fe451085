"""The simulated Gitea's /api/v1 routes: authentication, scopes and handlers.

Only the endpoints the portal's GiteaClient uses, with Gitea v1.26.3's checks in
its order (token scope → user assignment → self-or-admin → Basic auth) and its
status codes and `{"message", "url"}` error bodies. JSON shapes follow the
swagger contract (tests check every exchange against it).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlencode

from werkzeug.wrappers import Request

from portal.devstack.git_repos import RepoStore
from portal.devstack.gitea_state import (VERSION, GiteaState, Repo, SimError, Team, Token, User,
                                         normalise_scopes, now, scope_allows)

DEFAULT_PAGE_SIZE = 30       # setting.API.DefaultPagingNum
MAX_RESPONSE_ITEMS = 50      # setting.API.MaxResponseItems


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] | None = None


@dataclass
class Auth:
    doer: User | None
    basic: bool = False
    token: Token | None = None


# -- JSON shapes ---------------------------------------------------------------------------
def user_json(u: User, base: str) -> dict:
    return {"id": u.id, "login": u.login, "username": u.login, "login_name": u.login_name,
            "source_id": u.source_id, "full_name": u.full_name, "email": u.email,
            "avatar_url": f"{base}/avatars/{u.id}", "html_url": f"{base}/{u.login}",
            "language": "", "is_admin": u.is_admin, "last_login": u.created, "created": u.created,
            "restricted": False, "active": True, "prohibit_login": u.prohibit_login, "location": "",
            "website": "", "description": "", "visibility": u.visibility, "followers_count": 0,
            "following_count": 0, "starred_repos_count": 0}


def org_json(o: User, base: str) -> dict:
    return {"id": o.id, "name": o.login, "username": o.login, "full_name": o.full_name,
            "email": o.email, "avatar_url": f"{base}/avatars/{o.id}", "description": "",
            "website": "", "location": "", "visibility": o.visibility,
            "repo_admin_change_team_access": False}


def team_json(t: Team, org: User, base: str) -> dict:
    return {"id": t.id, "name": t.name, "description": t.description,
            "organization": org_json(org, base),
            "includes_all_repositories": t.includes_all_repositories,
            "permission": t.permission, "units": sorted(t.units_map),
            "units_map": dict(t.units_map), "can_create_org_repo": t.can_create_org_repo}


def repo_json(r: Repo, owner: User, base: str, *, empty: bool) -> dict:
    full = f"{owner.login}/{r.name}"
    return {"id": r.id, "owner": user_json(owner, base), "name": r.name, "full_name": full,
            "description": r.description, "empty": empty, "private": r.private,
            "fork": False, "template": r.template, "mirror": False, "size": 0, "language": "",
            "html_url": f"{base}/{full}", "url": f"{base}/api/v1/repos/{full}", "link": "",
            "ssh_url": f"git@{base.split('://', 1)[-1].split(':')[0]}:{full}.git",
            "clone_url": f"{base}/{full}.git", "original_url": "", "website": "",
            "stars_count": 0, "forks_count": 0, "watchers_count": 0, "open_issues_count": 0,
            "open_pr_counter": 0, "release_counter": 0, "default_branch": r.default_branch,
            "archived": False, "created_at": r.created, "updated_at": r.created,
            "permissions": {"admin": True, "push": True, "pull": True},
            "has_code": True, "has_issues": True, "has_wiki": True, "has_pull_requests": True,
            "has_projects": True, "has_releases": True, "has_packages": True,
            "has_actions": True, "internal": False, "object_format_name": "sha1",
            "topics": [], "licenses": []}


def token_json(t: Token, *, secret: bool) -> dict:
    return {"id": t.id, "name": t.name, "sha1": t.sha1 if secret else "",
            "token_last_eight": t.sha1[-8:], "scopes": list(t.scopes),
            "created_at": t.created, "last_used_at": t.created}


# -- the API -------------------------------------------------------------------------------
Route = tuple[str, re.Pattern, Callable[..., Reply], str | None]


class GiteaAPI:
    """Routes /api/v1 requests to handlers over a GiteaState."""

    def __init__(self, state: GiteaState, disk: RepoStore):
        self.state = state
        self.disk = disk   # the repositories themselves, bare on disk
        p = re.compile
        self.routes: list[Route] = [
            ("GET", p(r"/version"), self.version, None),
            ("GET", p(r"/user"), self.current_user, "user"),
            ("POST", p(r"/admin/users"), self.admin_create_user, "admin"),
            ("POST", p(r"/admin/users/(?P<username>[^/]+)/orgs"), self.admin_create_org, "admin"),
            ("PATCH", p(r"/admin/users/(?P<username>[^/]+)"), self.admin_edit_user, "admin"),
            ("GET", p(r"/users/(?P<username>[^/]+)"), self.get_user, "user"),
            ("GET", p(r"/users/(?P<username>[^/]+)/tokens"), self.list_tokens, "user"),
            ("POST", p(r"/users/(?P<username>[^/]+)/tokens"), self.create_token, "user"),
            ("DELETE", p(r"/users/(?P<username>[^/]+)/tokens/(?P<token>[^/]+)"),
             self.delete_token, "user"),
            ("POST", p(r"/orgs"), self.create_org, "organization"),
            ("GET", p(r"/orgs/(?P<org>[^/]+)"), self.get_org, "organization"),
            ("GET", p(r"/orgs/(?P<org>[^/]+)/teams"), self.list_teams, "organization"),
            ("POST", p(r"/orgs/(?P<org>[^/]+)/teams"), self.create_team, "organization"),
            ("POST", p(r"/orgs/(?P<org>[^/]+)/repos"), self.create_repo, "organization"),
            ("GET", p(r"/orgs/(?P<org>[^/]+)/repos"), self.list_repos, "organization"),
            ("GET", p(r"/teams/(?P<id>\d+)/members"), self.list_members, "organization"),
            ("GET", p(r"/teams/(?P<id>\d+)/members/(?P<username>[^/]+)"), self.get_member,
             "organization"),
            ("PUT", p(r"/teams/(?P<id>\d+)/members/(?P<username>[^/]+)"), self.add_member,
             "organization"),
            ("DELETE", p(r"/teams/(?P<id>\d+)/members/(?P<username>[^/]+)"), self.remove_member,
             "organization"),
            ("POST", p(r"/repos/migrate"), self.migrate_repo, "repository"),
            ("GET", p(r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"), self.get_repo, "repository"),
            ("DELETE", p(r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"), self.delete_repo,
             "repository"),
        ]
        self.repo_create_seconds = 0.0  # set by GiteaSim: time spent "initialising git"

    def handle(self, request: Request, path: str, base: str) -> Reply:
        """Dispatch one request whose path is relative to /api/v1."""
        allowed = False
        for method, pattern, handler, category in self.routes:
            match = pattern.fullmatch(path)
            if not match:
                continue
            allowed = True
            if method != request.method:
                continue
            if category is None:
                return handler(request, base, None, **match.groupdict())
            auth = self.authenticate(request, category)
            return handler(request, base, auth, **match.groupdict())
        if allowed:
            raise SimError(405, "Method Not Allowed")
        raise SimError(404, "The target couldn't be found.")

    # -- authentication --------------------------------------------------------------------
    def authenticate(self, request: Request, category: str) -> Auth:
        """Who is calling, checked like Gitea's apiAuth + verifyAuthWithOptions + sudo."""
        doer, token = self.state.basic_login(request.headers.get("Authorization", ""))
        auth = Auth(doer, basic=request.headers.get("Authorization", "")[:6].lower() == "basic ",
                    token=token)
        if auth.doer is None:
            raise SimError(401, "token is required")
        if auth.doer.prohibit_login:  # routers/api/v1/api.go verifyAuthWithOptions
            raise SimError(403, "This account is prohibited from signing in, please contact "
                                "your site administrator.")
        if auth.doer.must_change_password:
            raise SimError(403, "You must change your password. Change it at: "
                                f"{request.host_url}user/change_password")
        sudo = request.args.get("sudo") or request.headers.get("Sudo")
        if sudo:
            if not auth.doer.is_admin:
                raise SimError(403, "Only administrators allowed to sudo.")
            target = self.state.user(sudo)
            if target is None:
                raise SimError(404, "The target couldn't be found.")
            auth = Auth(target, auth.basic, auth.token)
        if auth.token is not None:
            write = request.method in ("POST", "PUT", "PATCH", "DELETE")
            if not scope_allows(auth.token.scopes, category, write):
                level = "write" if write else "read"
                raise SimError(403, f"token does not have at least one of required scope(s), "
                                    f"required=[{level}:{category}], token scope="
                                    f"{','.join(auth.token.scopes)}")
        return auth

    @staticmethod
    def _site_admin(auth: Auth) -> None:
        if not auth.doer.is_admin:
            raise SimError(403, "user should be the site admin")

    def json_body(self, request: Request) -> dict:
        data = request.get_data()
        if not data:
            return {}
        try:
            body = request.get_json(force=True, silent=False)
        except Exception:  # werkzeug raises BadRequest subclasses for bad JSON
            raise SimError(422, "[]: invalid JSON") from None
        if not isinstance(body, dict):
            raise SimError(422, "[]: expected a JSON object")
        return body

    def _page(self, request: Request, items: list, base: str) -> Reply:
        """Gitea pagination: page ≥ 1, limit ≤ 50 (30 when absent), X-Total-Count + Link."""
        try:
            page = max(int(request.args.get("page", 1)), 1)
        except ValueError:
            page = 1
        try:
            limit = int(request.args.get("limit", 0))
        except ValueError:
            limit = 0
        limit = DEFAULT_PAGE_SIZE if limit <= 0 else min(limit, MAX_RESPONSE_ITEMS)
        total = len(items)
        last = max((total + limit - 1) // limit, 1)
        url = base + request.path
        links = []

        def link(n: int, rel: str) -> str:
            return f'<{url}?{urlencode({"page": n, "limit": limit})}>; rel="{rel}"'
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        headers = {"X-Total-Count": str(total)}
        if links:
            headers["Link"] = ",".join(links)
        return Reply(200, items[(page - 1) * limit: page * limit], headers)

    def _org(self, name: str) -> User:
        org = self.state.user(name, orgs=True)
        if org is None:
            raise SimError(404, "The target couldn't be found.")
        return org

    def _user(self, name: str) -> User:
        user = self.state.user(name) or self.state.user(name, orgs=True)
        if user is None:
            raise SimError(404, "The target couldn't be found.")
        return user

    def _team(self, team_id: str, auth: Auth) -> Team:
        team = self.state.team(int(team_id))
        if team is None:
            raise SimError(404, "The target couldn't be found.")
        if not auth.doer.is_admin and auth.doer.login.lower() not in team.members:
            raise SimError(403, "Must be a team member")
        return team

    # -- handlers --------------------------------------------------------------------------
    def version(self, request, base, auth) -> Reply:
        return Reply(200, {"version": VERSION})

    def current_user(self, request, base, auth) -> Reply:
        return Reply(200, user_json(auth.doer, base))

    def admin_create_user(self, request, base, auth) -> Reply:
        self._site_admin(auth)
        return Reply(201, user_json(self.state.create_user(self.json_body(request)), base))

    def admin_edit_user(self, request, base, auth, username) -> Reply:
        """EditUserOption: `login_name` is required (binding "Required"), `source_id` 0 keeps
        the source; this simulator applies login_name and prohibit_login."""
        self._site_admin(auth)
        user = self.state.user(username)
        if user is None:
            raise SimError(404, "The target couldn't be found.")
        body = self.json_body(request)
        login_name = body.get("login_name")
        if not isinstance(login_name, str) or not login_name:
            raise SimError(422, "[LoginName]: Required")
        source_id = body.get("source_id")
        if isinstance(source_id, int) and not isinstance(source_id, bool) and source_id:
            user.source_id = source_id
        user.login_name = login_name
        if isinstance(body.get("prohibit_login"), bool):
            user.prohibit_login = body["prohibit_login"]
        return Reply(200, user_json(user, base))

    def get_user(self, request, base, auth, username) -> Reply:
        return Reply(200, user_json(self._user(username), base))

    def create_org(self, request, base, auth) -> Reply:
        return Reply(201, org_json(self.state.create_org(self.json_body(request), auth.doer), base))

    def admin_create_org(self, request, base, auth, username) -> Reply:
        self._site_admin(auth)
        owner = self.state.user(username)
        if owner is None:
            raise SimError(404, "The target couldn't be found.")
        return Reply(201, org_json(self.state.create_org(self.json_body(request), owner), base))

    def get_org(self, request, base, auth, org) -> Reply:
        return Reply(200, org_json(self._org(org), base))

    def list_teams(self, request, base, auth, org) -> Reply:
        o = self._org(org)
        return self._page(request, [team_json(t, o, base) for t in self.state.org_teams(org)], base)

    def create_team(self, request, base, auth, org) -> Reply:
        o = self._org(org)
        return Reply(201, team_json(self.state.create_team(o, self.json_body(request)), o, base))

    def list_members(self, request, base, auth, id) -> Reply:
        team = self._team(id, auth)
        members = [u for u in (self.state.user(m) for m in sorted(team.members)) if u]
        return self._page(request, [user_json(u, base) for u in members], base)

    def get_member(self, request, base, auth, id, username) -> Reply:
        team = self._team(id, auth)
        user = self._user(username)
        if user.login.lower() not in team.members:
            raise SimError(404, "The target couldn't be found.")
        return Reply(200, user_json(user, base))

    def add_member(self, request, base, auth, id, username) -> Reply:
        team = self._team(id, auth)
        user = self.state.user(username)
        if user is None:
            raise SimError(404, "The target couldn't be found.")
        with self.state.lock:
            team.members.add(user.login.lower())
        return Reply(204)

    def remove_member(self, request, base, auth, id, username) -> Reply:
        team = self._team(id, auth)
        user = self.state.user(username)
        if user is None:
            raise SimError(404, "The target couldn't be found.")
        with self.state.lock:
            team.members.discard(user.login.lower())
        return Reply(204)

    def create_repo(self, request, base, auth, org) -> Reply:
        o = self._org(org)
        body = self.json_body(request)
        repo = self.state.begin_repo(o, body)
        try:
            if self.repo_create_seconds:
                time.sleep(self.repo_create_seconds)
            # modules/repository/init.go: README.md from options/readme/Default, committed
            # as "Initial commit" by the doer.
            readme = f"# {repo.name}\n\n{repo.description}\n".encode() if repo.auto_init else None
            self.disk.create(o.login, repo.name, branch=repo.default_branch, readme=readme,
                             author=(auth.doer.full_name or auth.doer.login, auth.doer.email))
        except Exception:
            with self.state.lock:
                self.state.repos.pop((o.login.lower(), repo.name.lower()), None)
            raise
        finally:
            self.state.finish_repo(repo)
        return Reply(201, self.repo_reply(repo, o, base))

    def repo_reply(self, repo: Repo, owner: User, base: str) -> dict:
        return repo_json(repo, owner, base, empty=not self.disk.has_commits(owner.login, repo.name))

    def list_repos(self, request, base, auth, org) -> Reply:
        o = self._org(org)
        with self.state.lock:
            repos = sorted((r for r in self.state.repos.values()
                            if r.owner.lower() == o.login.lower() and not r.creating),
                           key=lambda r: r.name.lower())
        return self._page(request, [self.repo_reply(r, o, base) for r in repos], base)

    def migrate_repo(self, request, base, auth) -> Reply:
        from portal.devstack.gitea_migrate import migrate
        repo, owner = migrate(self, self.json_body(request), auth)
        return Reply(201, self.repo_reply(repo, owner, base))

    def get_repo(self, request, base, auth, owner, repo) -> Reply:
        found = self.state.repo(owner, repo)
        if found is None:
            raise SimError(404, "The target couldn't be found.")
        return Reply(200, self.repo_reply(found, self._user(found.owner), base))

    def delete_repo(self, request, base, auth, owner, repo) -> Reply:
        found = self.state.repo(owner, repo)
        if found is None:
            raise SimError(404, "The target couldn't be found.")
        with self.state.lock:
            self.state.repos.pop((found.owner.lower(), found.name.lower()), None)
        self.disk.delete(found.owner, found.name)
        return Reply(204)

    def _token_owner(self, auth: Auth, username: str) -> User:
        """UserAssignmentAPI, reqSelfOrAdmin, reqBasicOrRevProxyAuth, in Gitea's order."""
        user = self.state.user(username)
        if user is None:
            raise SimError(404, "The target couldn't be found.")
        if not auth.doer.is_admin and auth.doer.login.lower() != user.login.lower():
            raise SimError(403, "doer should be the site admin or be same as the contextUser")
        if not auth.basic:
            raise SimError(401, "auth required")
        return user

    def list_tokens(self, request, base, auth, username) -> Reply:
        user = self._token_owner(auth, username)
        tokens = [token_json(t, secret=False) for t in self.state.user_tokens(user.login)]
        return self._page(request, tokens, base)

    def create_token(self, request, base, auth, username) -> Reply:
        user = self._token_owner(auth, username)
        body = self.json_body(request)
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise SimError(422, "[Name]: Required")
        scopes = normalise_scopes(body.get("scopes"))
        if any(t.name == name for t in self.state.user_tokens(user.login)):
            raise SimError(400, "access token name has been used already")
        if not scopes:
            raise SimError(400, "access token must have a scope")
        token = self.state.add_token(user.login, name, scopes=scopes)
        return Reply(201, token_json(token, secret=True))

    def delete_token(self, request, base, auth, username, token) -> Reply:
        user = self._token_owner(auth, username)
        self.state.delete_token(user.login, token)
        return Reply(204)


def health_body(ok: bool) -> dict:
    status = "pass" if ok else "fail"
    check = [{"status": status, "time": now()}]
    return {"status": status, "description": "Gitea: Git with a cup of tea",
            "checks": {"cache:ping": check, "database:ping": check}}
