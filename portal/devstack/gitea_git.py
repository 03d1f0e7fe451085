"""Git's smart HTTP protocol on the simulated Gitea, with Gitea's authentication and permissions.

`git http-backend` (Debian's git) serves the repositories of git_repos.RepoStore
as a CGI program. It was chosen over dulwich's WSGI app because it is git's own
implementation of the protocol (v0 and v2, gzip bodies, the same `receive-pack`
that Gitea runs) and it runs the repository's hooks, which is where Gitea
refuses a reader's push; and it adds no dependency, git being needed anyway.

In front of it, the checks of Gitea v1.26 routers/web/repo/githttp.go httpBase,
in its order, with its replies:

* a public repository of a public owner is pulled without credentials; anything
  else without credentials is 401 with `WWW-Authenticate: Basic realm="Gitea"`;
* Basic auth as services/auth/basic.go: a token as password (any user name) or
  as user name (empty password or `x-oauth-basic`), else name + password; bad
  credentials 401; a user who must change their password 401 (NOTES.md);
* over Basic auth, the token's scope must grant `read:repository` (pull) or
  `write:repository` (push) (services/context/permission.go CheckRepoScopedToken): else 403;
* an inactive or login-prohibited (offboarded) user: 403 "Your account is disabled.";
* no read access to the repository (not in a team of its organization, or
  removed): 404 "Repository not found"; an unknown repository: the same for a
  pull, 403 "Push to create is not enabled for organizations." for a push;
* with read access only, the push starts and the pre-receive hook refuses it:
  "remote: Gitea: User permission denied for writing." (git_repos.PRE_RECEIVE_HOOK).
"""
from __future__ import annotations

import logging
import re
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from typing import IO, Iterator

from werkzeug.wrappers import Request, Response

from portal.devstack.git_repos import RepoStore, git_env
from portal.devstack.gitea_state import GiteaState, SimError, User, scope_allows

log = logging.getLogger(__name__)

GIT_PATH = re.compile(r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+?)(?:\.git)?"
                      r"/(?P<rest>info/refs|git-upload-pack|git-receive-pack|HEAD|objects/.+)$")
BACKEND_TIMEOUT = 300.0
REALM = 'Basic realm="Gitea"'


@dataclass
class Grant:
    doer: User | None
    can_write: bool


def _plain(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return Response(text, status, headers=headers or {}, content_type="text/plain;charset=utf-8")


def is_git_path(path: str) -> bool:
    return GIT_PATH.match(path) is not None


def service_of(request: Request, rest: str) -> str:
    if rest == "info/refs":
        return request.args.get("service", "")
    return rest if rest.startswith("git-") else ""


def authorize(state: GiteaState, request: Request, owner_name: str, repo_name: str,
              service: str) -> Grant | Response:
    """Who may do what on this repository, or the refusal Gitea would answer."""
    if service not in ("", "git-upload-pack", "git-receive-pack", "git-upload-archive"):
        return Response(status=400)
    push = service == "git-receive-pack"
    owner = state.user(owner_name) or state.user(owner_name, orgs=True)
    if owner is None:
        return _plain(404, "Not found.\n")
    repo = state.repo(owner_name, repo_name)
    public_pull = (repo is not None and not repo.private and not push
                   and owner.visibility == "public")
    try:
        doer, token = state.basic_login(request.headers.get("Authorization", ""))
    except SimError:
        return _plain(401, "Unauthorized\n", {"WWW-Authenticate": REALM})
    if doer is None or doer.must_change_password:
        if public_pull:
            return Grant(None, False)
        return _plain(401, "Unauthorized\n", {"WWW-Authenticate": REALM})
    basic = request.headers.get("Authorization", "")[:6].lower() == "basic "
    if token is not None and basic and not scope_allows(token.scopes, "repository", push):
        return _plain(403, "Forbidden\n")   # enforced for Basic only, as upstream does
    if doer.prohibit_login:
        return _plain(403, "Your account is disabled.")
    if repo is None:
        if push:
            return _plain(403, "Push to create is not enabled for organizations."
                          if owner.is_org else "Push to create is not enabled for users.")
        return _plain(404, "Repository not found")
    access = state.repo_access(doer, repo)
    if access == "none" and not public_pull:
        return _plain(404, "Repository not found")
    return Grant(doer, access in ("write", "admin"))


class GitHTTP:
    """The smart HTTP endpoints of one simulated Gitea."""

    def __init__(self, state: GiteaState, store: RepoStore):
        self.state = state
        self.store = store

    def __call__(self, environ: dict, start_response):
        request = Request(environ)
        match = GIT_PATH.match(request.path)
        if match is None:
            return _plain(404, "Not found.\n")(environ, start_response)
        owner, name, rest = match["owner"], match["repo"], match["rest"]
        grant = authorize(self.state, request, owner, name, service_of(request, rest))
        if isinstance(grant, Response):
            return grant(environ, start_response)
        repo = self.state.repo(owner, name)
        cgi = {
            "GIT_PROJECT_ROOT": str(self.store.root), "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": f"{self.store.relative(repo.owner, repo.name)}/{rest}",
            "REQUEST_METHOD": request.method, "QUERY_STRING": environ.get("QUERY_STRING", ""),
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "REMOTE_ADDR": request.remote_addr or "127.0.0.1",
            "GITEA_SIM_CAN_WRITE": "1" if grant.can_write else "0",
            # the shared hooks directory (git_repos.RepoStore) for every repository
            "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "core.hooksPath",
            "GIT_CONFIG_VALUE_0": str(self.store.hooks),
        }
        if grant.doer is not None:
            cgi["REMOTE_USER"] = grant.doer.login  # http-backend serves receive-pack only then
        for header, var in (("Content-Encoding", "HTTP_CONTENT_ENCODING"),
                            ("Git-Protocol", "GIT_PROTOCOL")):
            if request.headers.get(header):
                cgi[var] = request.headers[header]
        return run_backend(environ, cgi, start_response)


def _spool_body(environ: dict) -> tuple[IO[bytes], int]:
    """The request body in a temporary file (chunked bodies are de-chunked by werkzeug)."""
    body = tempfile.TemporaryFile()
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    remaining = int(length) if length and length.isdigit() else None
    if remaining is None and not environ.get("wsgi.input_terminated"):
        remaining = 0
    while remaining is None or remaining > 0:
        chunk = stream.read(65536 if remaining is None else min(65536, remaining))
        if not chunk:
            break
        body.write(chunk)
        if remaining is not None:
            remaining -= len(chunk)
    size = body.tell()
    body.seek(0)
    return body, size


def run_backend(environ: dict, cgi: dict[str, str], start_response) -> Iterator[bytes]:
    """Run `git http-backend` as a CGI program and stream its reply."""
    body, size = _spool_body(environ)
    cgi["CONTENT_LENGTH"] = str(size)
    errors = tempfile.TemporaryFile()
    proc = subprocess.Popen(["git", "http-backend"], stdin=body, stdout=subprocess.PIPE,
                            stderr=errors, env=git_env(cgi))
    body.close()
    watchdog = threading.Timer(BACKEND_TIMEOUT, proc.kill)
    watchdog.daemon = True
    watchdog.start()
    status, headers = "200 OK", []
    while True:
        line = proc.stdout.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        key, _, value = line.decode("latin-1").rstrip("\r\n").partition(":")
        if key.lower() == "status":
            status = value.strip()
        else:
            headers.append((key.strip(), value.strip()))
    start_response(status, headers)
    return _stream(proc, watchdog, errors)


def _stream(proc: subprocess.Popen, watchdog: threading.Timer, errors: IO[bytes]
            ) -> Iterator[bytes]:
    try:
        while chunk := proc.stdout.read1(65536):
            yield chunk
    finally:
        watchdog.cancel()
        proc.stdout.close()
        if proc.wait(timeout=BACKEND_TIMEOUT) != 0:
            errors.seek(0)
            log.warning("git http-backend exited %s: %s", proc.returncode,
                        errors.read(2000).decode(errors="replace").strip())
        errors.close()
