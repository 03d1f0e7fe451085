"""A simulated Gitea v1.26 for the dev stack and the tests.

`make_gitea_sim(**knobs)` returns `(wsgi_app, sim)`. The app serves the subset
of Gitea's API the portal uses (portal/devstack/gitea_api.py) with the real
status codes and `{"message", "url"}` error bodies; `sim` is the control
object: fault knobs for a test, and direct access to the state so a test can
introduce drift behind the portal's back (remove a team member, delete a repo).

Knobs (also settable out of process with `POST /__sim/faults` and a JSON object;
`GET /__sim/state` shows state and knobs; `POST /__sim/reset` clears knobs):

* `slow_seconds` – sleep before answering (with `slow_paths`, a regex, only there);
* `status_override` – answer this status instead (500, 503, 429...), on every
  path or those matching `override_paths`; `retry_after` adds Retry-After;
  `override_times` limits how many replies are overridden (None: all);
* `malformed` – answer 200 with a body that is not JSON (`malformed_paths`);
* `down` – answer 502 from a "proxy" as if Gitea were not running;
* `health_fail` – /api/healthz answers 424 "fail";
* `repo_create_seconds` – how long a repository creation takes (widens races).

Repositories are real bare git repositories under `data_dir` (a temporary
folder, removed with the simulator, when none is given), served over git's
smart HTTP protocol at the `clone_url` the API returns (gitea_git.py), with
the teams' permissions. `sim.add_import_source(url, path)` lets
`POST /repos/migrate` of `url` really clone the local repository at `path`.

Every reply produced by a fault carries the `X-Devstack-Fault` header, so the
contract checks in the tests skip it.
"""
from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import threading
import time
import weakref
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request, Response

from portal.devstack.access_log import gitea_request_id, log_access
from portal.devstack.control import control_response
from portal.devstack.git_repos import RepoStore
from portal.devstack.gitea_git import GitHTTP, is_git_path
from portal.devstack.gitea_migrate import source_key
from portal.devstack.gitea_api import GiteaAPI, Reply, health_body
from portal.devstack.gitea_generate import STARTERS_DIR, seed_templates, template_routes
from portal.devstack.gitea_state import ADMIN_LOGIN, GiteaState, Repo, SimError, Team, User

DEFAULT_ADMIN_TOKEN = "devstack-gitea-admin-token"
FAULT_HEADER = "X-Devstack-Fault"
log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"


@dataclass
class Faults:
    slow_seconds: float = 0.0
    slow_paths: str | None = None
    status_override: int | None = None
    override_paths: str | None = None
    retry_after: int | None = None
    override_times: int | None = None
    malformed: bool = False
    malformed_paths: str | None = None
    down: bool = False
    health_fail: bool = False
    repo_create_seconds: float = 0.0


def _matches(pattern: str | None, path: str) -> bool:
    return pattern is None or re.search(pattern, path) is not None


class GiteaSim:
    """Control object of one simulated Gitea: knobs, state accessors, counters."""

    def __init__(self, admin_token: str = DEFAULT_ADMIN_TOKEN, *,
                 auth_source_ids: tuple[int, ...] = (1,), data_dir: str | Path | None = None,
                 **knobs: Any):
        self.admin_token = admin_token
        self.admin_login = ADMIN_LOGIN
        self.state = GiteaState(admin_token, auth_source_ids=auth_source_ids)
        if data_dir is None:
            data_dir = tempfile.mkdtemp(prefix="gitea-sim-")
            weakref.finalize(self, shutil.rmtree, data_dir, True)
        self.disk = RepoStore(Path(data_dir) / "repositories")
        self.api = GiteaAPI(self.state, self.disk)
        self.git = GitHTTP(self.state, self.disk)
        self.api.routes += template_routes(self.api)
        self.state.disk = self.disk  # a repository's content is committed there
        self.faults = Faults()
        self._lock = threading.Lock()
        self.request_count = 0
        self.set_faults(**knobs)

    # -- knobs -----------------------------------------------------------------------------
    def set_faults(self, **knobs: Any) -> None:
        names = {f.name for f in fields(Faults)}
        unknown = set(knobs) - names
        if unknown:
            raise ValueError(f"unknown knob(s): {', '.join(sorted(unknown))}")
        with self._lock:
            for key, value in knobs.items():
                setattr(self.faults, key, value)
            self.api.repo_create_seconds = float(self.faults.repo_create_seconds or 0)

    def reset_faults(self) -> None:
        with self._lock:
            self.faults = Faults()
            self.api.repo_create_seconds = 0.0

    # -- state accessors (drift) -----------------------------------------------------------
    def user(self, name: str) -> User | None:
        return self.state.user(name)

    def org(self, name: str) -> User | None:
        return self.state.user(name, orgs=True)

    def repo(self, owner: str, name: str) -> Repo | None:
        return self.state.repo(owner, name)

    def teams(self, org: str) -> dict[str, Team]:
        return {t.name: t for t in self.state.org_teams(org)}

    def team_members(self, org: str, team: str) -> set[str]:
        found = self.teams(org).get(team)
        return set(found.members) if found else set()

    def add_team_member(self, org: str, team: str, username: str) -> None:
        with self.state.lock:
            self.teams(org)[team].members.add(username.lower())

    def remove_team_member(self, org: str, team: str, username: str) -> None:
        with self.state.lock:
            self.teams(org)[team].members.discard(username.lower())

    def delete_team(self, org: str, team: str) -> None:
        with self.state.lock:
            self.state.teams.pop(self.teams(org)[team].id, None)

    def delete_repo(self, owner: str, name: str) -> None:
        with self.state.lock:
            self.state.repos.pop((owner.lower(), name.lower()), None)
        self.disk.delete(owner, name)

    def block_user(self, name: str, blocked: bool = True) -> None:
        """Gitea's prohibit_login (an offboarded person): no sign-in, no git."""
        with self.state.lock:
            self.state.users[name.lower()].prohibit_login = blocked

    def repo_path(self, owner: str, name: str) -> Path:
        """The bare repository on disk."""
        return self.disk.path(owner, name)

    def add_import_source(self, url: str, path: str | Path, *, private: bool = False) -> None:
        """Make `POST /repos/migrate` of `url` clone the local repository at `path`."""
        with self.state.lock:
            self.state.import_sources[source_key(url)] = str(path)
            if private:
                self.state.private_sources.add(source_key(url))

    def delete_user(self, name: str) -> None:
        with self.state.lock:
            self.state.users.pop(name.lower(), None)
            for team in self.state.teams.values():
                team.members.discard(name.lower())
            for secret in [s for s, t in self.state.tokens.items() if t.owner == name.lower()]:
                del self.state.tokens[secret]

    def tokens_of(self, username: str) -> list[str]:
        """Names of a user's tokens (never the secrets)."""
        return [t.name for t in self.state.user_tokens(username)]

    def token_valid(self, secret: str) -> bool:
        return self.state.token(secret) is not None

    def snapshot(self) -> dict:
        """JSON-able summary of state and knobs (no secrets), for /__sim/state."""
        with self.state.lock:
            return {
                "faults": asdict(self.faults),
                "requests": self.request_count,
                "users": sorted(u.login for u in self.state.users.values() if not u.is_org),
                "orgs": sorted(u.login for u in self.state.users.values() if u.is_org),
                "teams": [{"id": t.id, "org": t.org, "name": t.name, "permission": t.permission,
                           "units_map": t.units_map, "members": sorted(t.members)}
                          for t in self.state.teams.values()],
                "repos": sorted(f"{r.owner}/{r.name}" for r in self.state.repos.values()
                                if not r.creating),
                "tokens": [{"owner": t.owner, "name": t.name, "scopes": list(t.scopes)}
                           for t in self.state.tokens.values()],
            }

    # -- WSGI ------------------------------------------------------------------------------
    def __call__(self, environ: dict, start_response):
        if is_git_path(environ.get("PATH_INFO", "")) and not self.faults.down:
            with self._lock:
                self.request_count += 1
            return self.git(environ, start_response)
        request = Request(environ)
        response = self._respond(request)
        if not request.path.startswith("/__sim/"):
            log_access(log, request, response.status_code, request_id=gitea_request_id(request))
        return response(environ, start_response)

    def _respond(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/__sim/"):
            return self._control(request, path)
        with self._lock:
            self.request_count += 1
            faults = Faults(**asdict(self.faults))
            override = None
            if faults.status_override and _matches(faults.override_paths, path):
                if faults.override_times is None or faults.override_times > 0:
                    override = faults.status_override
                    if faults.override_times is not None:
                        self.faults.override_times = faults.override_times - 1
        if faults.slow_seconds and _matches(faults.slow_paths, path):
            time.sleep(faults.slow_seconds)
        if faults.down:
            return _fault(Response("<html><body><h1>502 Bad Gateway</h1></body></html>",
                                   502, content_type="text/html"))
        if override is not None:
            headers = {"Retry-After": str(faults.retry_after)} if faults.retry_after is not None \
                else {}
            return _fault(_json(override, {"message": f"simulated HTTP {override}",
                                           "url": _swagger(request)}, headers))
        if faults.malformed and _matches(faults.malformed_paths, path):
            return _fault(Response('{"id": 1, "login": "trunc', 200,
                                   content_type="application/json;charset=utf-8"))
        if path == "/api/healthz":
            ok = not faults.health_fail
            return Response(json.dumps(health_body(ok)), 200 if ok else 424,
                            content_type="application/health+json")
        if not path.startswith(API_PREFIX + "/"):
            return Response("Not found.\n", 404, content_type="text/plain;charset=utf-8")
        base = request.host_url.rstrip("/")
        try:
            reply = self.api.handle(request, path[len(API_PREFIX):], base)
        except SimError as exc:
            body = {"message": exc.message, "url": _swagger(request)}
            if exc.extra.get("error"):  # a few handlers answer {"error": ...} instead
                body = {"error": exc.message}
            elif exc.status == 404:
                body["errors"] = []
            return _json(exc.status, body)
        return _reply(reply)

    def _control(self, request: Request, path: str) -> Response:
        return control_response(request, state=self.snapshot, set_faults=self.set_faults,
                                reset=self.reset_faults)


def _swagger(request: Request) -> str:
    return request.host_url + "api/swagger"


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, headers=headers or {},
                    content_type="application/json;charset=utf-8")


def _reply(reply: Reply) -> Response:
    if reply.status == 204:
        return Response(status=204, headers=reply.headers or {})
    return _json(reply.status, reply.body, reply.headers)


def _fault(response: Response) -> Response:
    response.headers[FAULT_HEADER] = "1"
    return response


def make_gitea_sim(admin_token: str = DEFAULT_ADMIN_TOKEN, *, starters: bool = False,
                   **knobs: Any) -> tuple[GiteaSim, GiteaSim]:
    """`(wsgi_app, sim)`: the sim object is itself the WSGI app, returned twice for clarity.

    `starters`: the organization `starters` holds this repository's starters as template
    repositories (workspace-image/starters), as compose/bootstrap.sh makes on a real Gitea.
    """
    sim = GiteaSim(admin_token, **knobs)
    if starters and STARTERS_DIR.is_dir():
        seed_templates(sim.state, "starters", STARTERS_DIR)
    return sim, sim
