"""In-memory state of the simulated Gitea: users, orgs, teams, repos, tokens.

Thread-safe (one re-entrant lock); names are case-insensitive and users and
organisations share one namespace, as in Gitea. Errors are raised as
`SimError(status, message)` with the real server's status codes and messages
(go-gitea/gitea v1.26.3; see contracts/NOTES.md).
"""
from __future__ import annotations

import base64
import hashlib
import itertools
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from portal.devstack.git_repos import RepoStore, commit_files, read_files
from portal.groups.names import GITEA_RESERVED_NAMES, GITEA_RESERVED_REPO_NAMES

VERSION = "1.26.3"
ADMIN_LOGIN = "gitea-admin"
ADMIN_EMAIL = "admin@devstack.localhost"
USER_RESERVED_SUFFIXES = (".keys", ".gpg", ".rss", ".atom", ".png")
REPO_RESERVED_SUFFIXES = (".wiki", ".git", ".rss", ".atom")
_VALID_USERNAME = re.compile(r"^[\da-zA-Z][-.\w]*$", re.ASCII)
_INVALID_USERNAME = re.compile(r"[-._]{2,}|[-._]$")
_ALPHA_DASH_DOT = re.compile(r"^[-.\w]+$", re.ASCII)
SCOPE_CATEGORIES = ("activitypub", "admin", "issue", "misc", "notification", "organization",
                    "package", "repository", "user")


class SimError(Exception):
    """An API error reply: status and the server's message."""

    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class User:
    id: int
    login: str
    email: str
    full_name: str = ""
    is_admin: bool = False
    is_org: bool = False
    must_change_password: bool = False
    prohibit_login: bool = False  # an offboarded (blocked) person: no sign-in, no git
    password: str = field(default="", repr=False)
    login_name: str = ""
    source_id: int = 0
    visibility: str = "public"
    prohibit_login: bool = False
    created: str = field(default_factory=now)


@dataclass
class Team:
    id: int
    org: str                     # lower name of the organisation
    name: str
    permission: str
    units_map: dict[str, str]
    includes_all_repositories: bool
    can_create_org_repo: bool = False
    description: str = ""
    members: set[str] = field(default_factory=set)   # lower user names


@dataclass
class Repo:
    id: int
    owner: str                   # login as created
    name: str
    default_branch: str
    private: bool
    auto_init: bool
    description: str = ""
    creating: bool = False       # inside a create: a concurrent create of the name fails with 500
    created: str = field(default_factory=now)
    template: bool = False       # a template repository (POST .../generate accepts it)
    # The default branch's files (path -> bytes), set by init_repository_files only, and only
    # when no disk holds the repositories (GiteaState.repo_files reads either).
    files: dict[str, bytes] = field(default_factory=dict, repr=False)


@dataclass
class Token:
    id: int
    owner: str                   # lower user name
    name: str
    sha1: str = field(repr=False)
    scopes: tuple[str, ...]
    created: str = field(default_factory=now)


def check_username(field_name: str, value: Any, max_size: int = 40) -> str:
    """Gitea's binding rules Required;Username;MaxSize(40), as its 422 messages."""
    if not isinstance(value, str) or not value:
        raise SimError(422, f"[{field_name}]: Required")
    if not _VALID_USERNAME.match(value) or _INVALID_USERNAME.search(value):
        raise SimError(422, f"[{field_name}]: invalid username")
    if len(value) > max_size:
        raise SimError(422, f"[{field_name}]: MaxSize")
    lowered = value.lower()
    if lowered in GITEA_RESERVED_NAMES:
        raise SimError(422, f"name is reserved [name: {lowered}]")
    for suffix in USER_RESERVED_SUFFIXES:
        if lowered.endswith(suffix):
            raise SimError(422, f"name pattern is not allowed [pattern: *{suffix}]")
    return value


def check_repo_name(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise SimError(422, "[Name]: Required")
    if not _ALPHA_DASH_DOT.match(value):
        raise SimError(422, "[Name]: AlphaDashDot")
    if len(value) > 100:
        raise SimError(422, "[Name]: MaxSize")
    lowered = value.lower()
    if lowered in GITEA_RESERVED_REPO_NAMES:
        raise SimError(422, f"name is reserved [name: {lowered}]")
    for suffix in REPO_RESERVED_SUFFIXES:
        if lowered.endswith(suffix):
            raise SimError(422, f"name pattern is not allowed [pattern: *{suffix}]")
    return value


def normalise_scopes(scopes: Any) -> tuple[str, ...]:
    """Gitea's AccessTokenScope.Normalize, enough for the portal: known scopes only."""
    if scopes is None:
        scopes = []
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise SimError(422, "[Scopes]: invalid")
    out = []
    for scope in (s.strip() for s in ",".join(scopes).split(",") if s.strip()):
        level, _, category = scope.partition(":")
        if scope not in ("all", "public-only") and (
                level not in ("read", "write") or category not in SCOPE_CATEGORIES):
            raise SimError(400, f"invalid access token scope provided: access token scope "
                                f"`{scope}` is not valid")
        out.append(scope)
    return tuple(dict.fromkeys(out))


def scope_allows(scopes: tuple[str, ...], category: str, write: bool) -> bool:
    have = set(scopes)
    return "all" in have or f"write:{category}" in have or (
        not write and f"read:{category}" in have)


def _readme(repo: Repo) -> bytes:
    """The README of an auto-initialised repository (Gitea's default readme template)."""
    return f"# {repo.name}\n\n{repo.description}".encode()


class GiteaState:
    """Every object the simulated server holds, behind one lock."""

    def __init__(self, admin_token: str, *, auth_source_ids: tuple[int, ...] = (1,)):
        self.lock = threading.RLock()
        self.disk: RepoStore | None = None       # the bare repositories, when hosted for real
        self._ids = itertools.count(1)
        self.users: dict[str, User] = {}         # lower login -> user or org
        self.teams: dict[int, Team] = {}
        self.repos: dict[tuple[str, str], Repo] = {}
        self.tokens: dict[str, Token] = {}       # sha1 -> token
        self.auth_source_ids = set(auth_source_ids)
        self.migrations: list[dict] = []        # imports by POST /repos/migrate (gitea_migrate.py)
        self.private_sources: set[str] = set()   # gitea_migrate.source_key of sources needing credentials
        self.import_sources: dict[str, str] = {}  # source_key -> local repository migrate clones
        admin = self._add_user(ADMIN_LOGIN, ADMIN_EMAIL, is_admin=True)
        self.add_token(admin.login, "devstack-admin", scopes=("all",), sha1=admin_token)

    def next_id(self) -> int:
        return next(self._ids)

    # -- users and orgs --------------------------------------------------------------------
    def _add_user(self, login: str, email: str, **kwargs: Any) -> User:
        user = User(id=self.next_id(), login=login, email=email, **kwargs)
        self.users[login.lower()] = user
        return user

    def create_user(self, body: dict) -> User:
        login = check_username("Username", body.get("username"))
        email = body.get("email")
        if not isinstance(email, str) or not email:
            raise SimError(422, "[Email]: Required")
        if "@" not in email or len(email) > 254:
            raise SimError(422, "[Email]: Email")
        source_id = body.get("source_id") or 0
        if source_id and source_id not in self.auth_source_ids:
            raise SimError(422, f"login source does not exist [id: {source_id}]")
        password = body.get("password") or ""
        if not source_id and len(password) < 8:
            raise SimError(400, "PasswordIsRequired")
        with self.lock:
            if login.lower() in self.users:
                raise SimError(422, f"user already exists [name: {login}]")
            if any(u.email.lower() == email.lower() for u in self.users.values() if not u.is_org):
                raise SimError(422, f"e-mail already in use [email: {email}]")
            must_change = body.get("must_change_password")
            return self._add_user(
                login, email, full_name=body.get("full_name") or "",
                must_change_password=True if must_change is None else bool(must_change),
                password=password, login_name=body.get("login_name") or "",
                source_id=int(source_id), visibility=body.get("visibility") or "public")

    def user(self, name: str, *, orgs: bool = False) -> User | None:
        with self.lock:
            found = self.users.get(name.lower())
        return found if found is not None and found.is_org == orgs else None

    def create_org(self, body: dict, owner: User) -> User:
        name = check_username("UserName", body.get("username"))
        visibility = body.get("visibility") or "public"
        if visibility not in ("public", "limited", "private"):
            raise SimError(422, "[Visibility]: In")
        with self.lock:
            if name.lower() in self.users:
                raise SimError(422, f"user already exists [name: {name}]")
            org = self._add_user(name, body.get("email") or "", is_org=True,
                                 full_name=body.get("full_name") or "", visibility=visibility)
            owners = Team(self.next_id(), name.lower(), "Owners", "owner",
                          {u: "admin" for u in ("repo.code", "repo.issues", "repo.pulls",
                                                "repo.releases", "repo.wiki")}, True, True)
            owners.members.add(owner.login.lower())
            self.teams[owners.id] = owners
            return org

    # -- teams -----------------------------------------------------------------------------
    def org_teams(self, org: str) -> list[Team]:
        with self.lock:
            return sorted((t for t in self.teams.values() if t.org == org.lower()),
                          key=lambda t: t.name.lower())

    def create_team(self, org: User, body: dict) -> Team:
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise SimError(422, "[Name]: Required")
        if not _ALPHA_DASH_DOT.match(name):
            raise SimError(422, "[Name]: AlphaDashDot")
        permission = body.get("permission") or "none"
        units_map = body.get("units_map") or {}
        if permission not in ("admin", "owner") and not units_map and not body.get("units"):
            raise SimError(500, "units permission should not be empty")
        with self.lock:
            if any(t.name.lower() == name.lower() for t in self.org_teams(org.login)):
                raise SimError(422, f"team already exists [org_id: {org.id}, name: {name}]")
            if not units_map:
                level = "read" if permission == "read" else "write"
                units_map = {u: level for u in body.get("units") or []}
            team = Team(self.next_id(), org.login.lower(), name, permission, dict(units_map),
                        bool(body.get("includes_all_repositories")),
                        bool(body.get("can_create_org_repo")), body.get("description") or "")
            self.teams[team.id] = team
            return team

    def team(self, team_id: int) -> Team | None:
        with self.lock:
            return self.teams.get(team_id)

    # -- repos -----------------------------------------------------------------------------
    def repo(self, owner: str, name: str, *, include_creating: bool = False) -> Repo | None:
        with self.lock:
            repo = self.repos.get((owner.lower(), name.lower()))
        return repo if repo is not None and (include_creating or not repo.creating) else None

    def begin_repo(self, owner: User, body: dict, *, readme: bool = True) -> Repo:
        """Insert the row (like the DB insert inside CreateRepository); git init follows."""
        name = check_repo_name(body.get("name"))
        with self.lock:
            existing = self.repos.get((owner.login.lower(), name.lower()))
            if existing is not None:
                if existing.creating:  # unique-key violation inside the loser's transaction
                    raise SimError(500, "UNIQUE constraint failed: repository.owner_id, "
                                        "repository.lower_name")
                raise SimError(409, "The repository with the same name already exists.")
            repo = Repo(self.next_id(), owner.login, name,
                        body.get("default_branch") or "main", bool(body.get("private")),
                        bool(body.get("auto_init")), body.get("description") or "", creating=True,
                        template=bool(body.get("template")))
            self.repos[(owner.login.lower(), name.lower())] = repo
            if repo.auto_init and readme and self.disk is None:  # Gitea's initial commit: the
                # README (on disk, GiteaAPI.create_repo commits it as the doer)
                self.init_repository_files(repo, {"README.md": _readme(repo)}, repo.default_branch)
            return repo

    def init_repository_files(self, repo: Repo, files: dict[str, bytes], branch: str) -> None:
        """The one place a repository gets its content: one commit of `files` on `branch`.

        Into the bare git repository on disk when the simulator hosts them (GiteaSim sets
        `disk`: portal/devstack/git_repos.py), so a clone, a push and this API see the same
        files; kept in memory otherwise (a state used alone in unit tests).
        """
        with self.lock:
            if self.disk is not None:
                commit_files(self.disk.path(repo.owner, repo.name), files, branch=branch)
            else:
                repo.files = dict(files)
            repo.default_branch = branch

    def repo_files(self, repo: Repo) -> dict[str, bytes]:
        """The files of the default branch (what was pushed included, when on disk)."""
        if self.disk is not None:
            return read_files(self.disk.path(repo.owner, repo.name), repo.default_branch)
        return dict(repo.files)

    def finish_repo(self, repo: Repo) -> None:
        with self.lock:
            repo.creating = False

    # -- tokens ----------------------------------------------------------------------------
    def add_token(self, owner: str, name: str, *, scopes: tuple[str, ...],
                  sha1: str | None = None) -> Token:
        with self.lock:
            if any(t.owner == owner.lower() and t.name == name for t in self.tokens.values()):
                raise SimError(400, "access token name has been used already")
            secret = sha1 or hashlib.sha1(secrets.token_bytes(32)).hexdigest()
            token = Token(self.next_id(), owner.lower(), name, secret, scopes)
            self.tokens[secret] = token
            return token

    def user_tokens(self, owner: str) -> list[Token]:
        with self.lock:
            return sorted((t for t in self.tokens.values() if t.owner == owner.lower()),
                          key=lambda t: t.id)

    def delete_token(self, owner: str, ref: str) -> None:
        with self.lock:
            mine = self.user_tokens(owner)
            matches = ([t for t in mine if str(t.id) == ref] if ref.isdigit() and ref != "0"
                       else [t for t in mine if t.name == ref])
            if not matches:
                raise SimError(404, "The target couldn't be found.")
            if len(matches) > 1:
                raise SimError(422, f"multiple matches for token name '{ref}'")
            del self.tokens[matches[0].sha1]

    def token(self, secret: str) -> Token | None:
        with self.lock:
            return self.tokens.get(secret)

    # -- authentication and permissions ------------------------------------------------------
    def basic_login(self, header: str) -> tuple[User | None, Token | None]:
        """Who an Authorization header names: (None, None) without credentials.

        `token X`/`bearer X` is a token; Basic is services/auth/basic.go: a token
        as user name (empty password or `x-oauth-basic`) or as password (any user
        name), else user name + password. Bad credentials: SimError 401.
        """
        scheme, _, credentials = header.partition(" ")
        credentials = credentials.strip()
        if scheme.lower() in ("token", "bearer") and credentials:
            token = self.token(credentials)
            return (self.user(token.owner), token) if token is not None else (None, None)
        if scheme.lower() != "basic" or not credentials:
            return None, None
        try:
            uname, _, passwd = base64.b64decode(credentials).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise SimError(401, "invalid username, password or token") from None
        token = self.token(uname if passwd in ("", "x-oauth-basic") else passwd)
        if token is not None:
            return self.user(token.owner), token
        user = self.user(uname)
        if user is None or not user.password or user.password != passwd:
            raise SimError(401, "invalid username, password or token")
        return user, None

    def repo_access(self, user: User, repo: Repo) -> str:
        """none/read/write/admin on the code of `repo` (models/perm/access, teams' units_map)."""
        if user.is_admin or repo.owner.lower() == user.login.lower():
            return "admin"
        levels = ("none", "read", "write", "admin")
        best = "none"
        with self.lock:
            for team in self.teams.values():
                if team.org != repo.owner.lower() or user.login.lower() not in team.members:
                    continue
                if team.permission in ("owner", "admin"):
                    return "admin"
                level = team.units_map.get("repo.code", "none") \
                    if team.includes_all_repositories else "none"
                if level in levels and levels.index(level) > levels.index(best):
                    best = level
        return best
