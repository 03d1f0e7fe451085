"""CoderClient: one method per Coder v2 endpoint the portal uses.

Every request exists in ../shared/contracts/coder-v2-swagger.json and follows
the real server's behaviour written down in ../shared/contracts/NOTES.md. The
HTTP layer (timeouts, retries of idempotent calls, typed errors) is
`ServiceClient`; this module adds Coder's paths and bodies, checks every field it
reads from a reply (a malformed reply is `BadResponse`, never a KeyError), and
turns a workspace into a `WorkspaceStatus` by the NOTES.md "Ready to open" rule.

The session token travels per request rather than on the shared session, so
`as_user(token)` can reuse the connection pool while sending the person's own
token: per-user reads then don't share the admin token's rate-limit bucket.
Tokens never appear in `repr()`, log lines or exception messages.
"""
from __future__ import annotations

import copy
import http.cookiejar
import secrets
import threading
from datetime import datetime, timezone
from typing import Any, Iterable
from urllib.parse import quote, urlencode, urljoin, urlsplit

import requests

from portal.clients.http import (
    BadRequest, BadResponse, Conflict, NotFound, ServiceClient, ServiceError)
from portal.clients.coder_status import (  # noqa: F401 - re-exported
    BuildLog, CoderStage, MintedToken, WorkspaceStatus, readiness)
from portal.clients.coder_types import (  # noqa: F401 - re-exported
    CoderBuild, CoderBuildInfo, CoderParameter, CoderTemplate, CoderUser, CoderWorkspace,
    buildinfo_from, build_from, parameter_from, template_from, text, user_from, workspace_from)
from portal.workspaces.workspace_params import AGENT_NAME, APP_SLUG

SESSION_HEADER = "Coder-Session-Token"
# Coder answers 400 with this message (not 404) for an unknown `{user}` path parameter.
UNKNOWN_USER_MESSAGE = '"user" must be an existing uuid or username.'
# -- the client --------------------------------------------------------------------------
class _Shared:
    """Lookups shared by a client and its `as_user` copies (they never change at runtime)."""

    def __init__(self, wildcard_host: str | None):
        self.lock = threading.Lock()
        self.organization_id: str | None = None
        self.wildcard_host = wildcard_host


def _absent(exc: ServiceError) -> bool:
    """Coder's "no such thing": a 404, or the 400 it answers for an unknown `{user}` in a path."""
    return isinstance(exc, NotFound) or (isinstance(exc, BadRequest)
                                         and UNKNOWN_USER_MESSAGE in exc.message)


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    # One session serves many people's tokens: never keep a cookie between requests.
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return session


def _wildcard(value: str | None) -> str | None:
    """Accept CODER_WILDCARD_ACCESS_URL as `*.apps.example.com` or `https://*.apps.example.com`."""
    if not value:
        return None
    return urlsplit(value).netloc if "://" in value else value.strip().rstrip("/")


def _seg(value: str) -> str:
    return quote(value, safe="")


class CoderClient:
    """The portal's view of one Coder deployment, acting with `admin_token` (or a person's)."""

    def __init__(self, base_url: str, admin_token: str, *, login_type: str = "none",
                 connect_timeout: float = 3, read_timeout: float = 10,
                 organization: str | None = None, wildcard_host: str | None = None,
                 retries: int = 2, backoff: float = 0.2, max_retry_after: float = 5.0):
        self.url = base_url.rstrip("/")
        self.login_type = login_type
        self.organization = organization
        self._token = admin_token
        self._http = ServiceClient("coder", self.url + "/api/v2", connect_timeout=connect_timeout,
                                   read_timeout=read_timeout, retries=retries,
                                   backoff=backoff, max_retry_after=max_retry_after,
                                   session=_session())
        self._shared = _Shared(_wildcard(wildcard_host))

    def __repr__(self) -> str:
        return f"CoderClient({self.url!r})"

    def as_user(self, token: str) -> "CoderClient":
        """The same client sending a person's token: their own rate-limit bucket and rights."""
        clone = copy.copy(self)
        clone._token = token
        return clone

    # -- plumbing ---------------------------------------------------------------------------
    def _auth(self, token: str | None = None) -> dict[str, str]:
        return {SESSION_HEADER: self._token if token is None else token}

    def _json(self, method: str, path: str, expect: type | tuple = dict, **kwargs: Any) -> Any:
        return self._http.json(method, path, expect=expect, headers=self._auth(), **kwargs)

    def _need(self, body: Any, key: str, kind: type | tuple, method: str, path: str) -> Any:
        return self._http.field(body, key, kind, method, path)

    def _objects(self, items: Any, method: str, path: str, *keys: tuple[str, type]) -> list[dict]:
        """A list of JSON objects, each with `keys` of the given types, else BadResponse."""
        if items is None:
            return []  # Go encodes an empty slice as null
        if not isinstance(items, list):
            raise BadResponse("coder", method, path, "expected a list")
        for item in items:
            for key, kind in keys:
                self._need(item, key, kind, method, path)
        return items

    def _workspace(self, body: Any, method: str, path: str) -> CoderWorkspace:
        return workspace_from(body, method, path)

    # -- deployment -------------------------------------------------------------------------
    def buildinfo(self) -> CoderBuildInfo:
        """GET /buildinfo (no auth needed): the deployment's version."""
        return buildinfo_from(self._json("GET", "/buildinfo"), "GET", "/buildinfo")

    def organization_id(self) -> str:
        """The id of the configured organization (by name or id), else the default one."""
        with self._shared.lock:
            if self._shared.organization_id:
                return self._shared.organization_id
        orgs = self._objects(self._json("GET", "/organizations", expect=list), "GET",
                             "/organizations", ("id", str))
        wanted = self.organization
        for org in orgs:
            chosen = wanted in (org.get("name"), org["id"]) if wanted else org.get("is_default")
            if chosen is True:
                with self._shared.lock:
                    self._shared.organization_id = org["id"]
                return org["id"]
        raise NotFound("coder", "GET", "/organizations",
                       f"organization {wanted!r} not found" if wanted
                       else "no default organization")

    def known_wildcard_host(self) -> str | None:
        """The app wildcard if configured or already learned; never calls Coder (CSP headers)."""
        with self._shared.lock:
            return self._shared.wildcard_host

    def wildcard_host(self) -> str:
        """The app wildcard host (e.g. `*.apps.example.com:8443`): override, else GET /regions."""
        with self._shared.lock:
            if self._shared.wildcard_host:
                return self._shared.wildcard_host
        body = self._json("GET", "/regions")
        regions = self._objects(self._need(body, "regions", list, "GET", "/regions"), "GET",
                                "/regions", ("wildcard_hostname", str))
        primary = next((r for r in regions if r.get("name") == "primary"),
                       regions[0] if regions else None)
        host = primary["wildcard_hostname"] if primary else ""
        if not host:
            raise BadResponse("coder", "GET", "/regions", "Coder has no wildcard access URL "
                              "(CODER_WILDCARD_ACCESS_URL), so subdomain apps are unavailable")
        with self._shared.lock:
            self._shared.wildcard_host = host
        return host

    # -- users ------------------------------------------------------------------------------
    def get_user(self, user: str) -> CoderUser | None:
        """A user by username, id or 'me' (an address with '@' is searched); None if unknown."""
        if "@" in user:
            return self.find_user_by_email(user)
        path = f"/users/{_seg(user)}"
        try:
            body = self._json("GET", path)
        except (NotFound, BadRequest) as exc:
            if _absent(exc):
                return None
            raise
        return user_from(body, "GET", path)

    def set_user_active(self, user: str, active: bool) -> CoderUser | None:
        """PUT /users/{user}/status/activate|suspend; the user, or None when Coder has none.

        Suspending ends every session and application key of the user (NOTES.md; coderd's
        httpmw/apikey.go refuses any key of a user whose status is not active)."""
        path = f"/users/{_seg(user)}/status/{'activate' if active else 'suspend'}"
        try:
            return user_from(self._json("PUT", path), "PUT", path)
        except (NotFound, BadRequest) as exc:
            if _absent(exc):
                return None
            raise

    def find_user_by_email(self, email: str) -> CoderUser | None:
        """GET /users?q=<email>: the user with exactly this address (any case), or None."""
        body = self._json("GET", "/users", params={"q": email})
        users = self._objects(self._need(body, "users", (list, type(None)), "GET", "/users"),
                              "GET", "/users")
        found = [user_from(u, "GET", "/users") for u in users]
        return next((u for u in found if u.email.lower() == email.lower()), None)

    def create_user(self, email: str, username: str, name: str = "", *,
                    password: str | None = None) -> CoderUser:
        """POST /users in the portal's organization with the configured login type.

        A password is sent only for login type `password` (Coder refuses one
        otherwise); a random one is made up when none is given, since the portal
        signs people in with tokens, never with it.
        """
        body: dict[str, Any] = {"email": email, "username": username, "name": name,
                                "login_type": self.login_type,
                                "organization_ids": [self.organization_id()]}
        if self.login_type == "password":
            body["password"] = password or secrets.token_urlsafe(24)
        return user_from(self._json("POST", "/users", json=body), "POST", "/users")

    def ensure_user(self, email: str, username: str, name: str = "") -> CoderUser:
        """The Coder user for this person, created if missing; safe to repeat.

        On 409 the existing user is fetched by username, then by email. The
        returned `username` is authoritative (an existing account may use
        another one). A username held by a different email is a Conflict.
        """
        try:  # create first: a new person costs one call, an existing one two
            return self.create_user(email, username, name)
        except ServiceError as exc:
            if exc.status != 409:
                raise
        existing = self.get_user(username)
        if existing is not None and existing.email.lower() == email.lower():
            return existing
        by_email = self.find_user_by_email(email)
        if by_email is not None:
            return by_email
        raise Conflict("coder", "POST", "/users",
                       f"username {username!r} belongs to another email address")

    # -- API keys ---------------------------------------------------------------------------
    def mint_token(self, username: str, token_name: str, lifetime_seconds: float) -> MintedToken:
        """POST /users/{user}/keys/tokens (lifetime in nanoseconds); 409 if the name is taken."""
        path = f"/users/{_seg(username)}/keys/tokens"
        body = {"token_name": token_name, "lifetime": int(round(lifetime_seconds * 1e9))}
        key = self._need(self._json("POST", path, json=body), "key", str, "POST", path)
        key_id, sep, secret = key.partition("-")
        if not (key_id and sep and secret):
            raise BadResponse("coder", "POST", path, "reply key is not of the form <id>-<secret>")
        return MintedToken(key_id, key)

    def delete_token(self, username: str, key_id: str) -> bool:
        """DELETE /users/{user}/keys/{keyid}; False when it was already gone."""
        path = f"/users/{_seg(username)}/keys/{_seg(key_id)}"
        try:
            self._http.request("DELETE", path, headers=self._auth())
        except (NotFound, BadRequest) as exc:
            if _absent(exc):
                return False
            raise
        return True

    def token_expiry(self, key_id: str, username: str = "me") -> datetime:
        """GET /users/{user}/keys/{keyid} (codersdk.APIKey): when that key expires."""
        path = f"/users/{_seg(username)}/keys/{_seg(key_id)}"
        raw = self._need(self._json("GET", path), "expires_at", str, "GET", path)
        try:
            expires = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise BadResponse("coder", "GET", path, "expires_at is not a timestamp") from None
        return expires if expires.tzinfo else expires.replace(tzinfo=timezone.utc)

    # -- templates --------------------------------------------------------------------------
    def template_by_name(self, org: str | None, name: str) -> CoderTemplate:
        """GET /organizations/{org}/templates/{name} (org None: the portal's organization)."""
        path = f"/organizations/{_seg(org or self.organization_id())}/templates/{_seg(name)}"
        return template_from(self._json("GET", path), "GET", path)

    def rich_parameters(self, template_version_id: str) -> list[CoderParameter]:
        """GET /templateversions/{id}/rich-parameters: what a build may be given."""
        path = f"/templateversions/{_seg(template_version_id)}/rich-parameters"
        items = self._objects(self._json("GET", path, expect=list), "GET", path)
        return [parameter_from(item, "GET", path) for item in items]

    # -- workspaces -------------------------------------------------------------------------
    def get_workspace(self, owner: str, name: str) -> CoderWorkspace | None:
        """GET /users/{user}/workspace/{name}; None when it (or its owner) doesn't exist."""
        path = f"/users/{_seg(owner)}/workspace/{_seg(name)}"
        try:
            return self._workspace(self._json("GET", path), "GET", path)
        except (NotFound, BadRequest) as exc:
            if _absent(exc):
                return None
            raise

    def get_workspace_by_id(self, workspace_id: str) -> CoderWorkspace | None:
        """GET /workspaces/{id}; None when unknown or deleted (Coder answers 410)."""
        path = f"/workspaces/{_seg(workspace_id)}"
        try:
            return self._workspace(self._json("GET", path), "GET", path)
        except NotFound:
            return None
        except ServiceError as exc:
            if exc.status == 410:
                return None
            raise

    def _search(self, q: str) -> list[CoderWorkspace]:
        body = self._json("GET", "/workspaces", params={"q": q})
        items = self._need(body, "workspaces", (list, type(None)), "GET", "/workspaces")
        return [self._workspace(w, "GET", "/workspaces") for w in items or []]

    def search_workspaces(self, q: str) -> list[CoderWorkspace]:
        """GET /workspaces?q=... (e.g. `status:running`; every workspace the token may see)."""
        return self._search(q)

    def list_workspaces(self, owner: str) -> list[CoderWorkspace]:
        """All of one person's workspaces in one call: GET /workspaces?q=owner:NAME."""
        return self._search(f"owner:{owner}")

    def workspaces_by_id(self, workspace_ids: Iterable[str]) -> list[CoderWorkspace]:
        """Many workspaces in ONE call: GET /workspaces?q=id:a,b,c (Coder's `id:` takes a list)."""
        ids = [i for i in dict.fromkeys(workspace_ids) if i]
        return self._search("id:" + ",".join(ids)) if ids else []

    def create_workspace(self, owner: str, name: str, template_id: str,
                         rich_parameter_values: dict[str, str], ttl_ms: int | None = None
                         ) -> CoderWorkspace:
        """POST /users/{user}/workspaces from a template; 409 if the name exists."""
        path = f"/users/{_seg(owner)}/workspaces"
        body: dict[str, Any] = {"name": name, "template_id": template_id,
                                "rich_parameter_values": [
                                    {"name": k, "value": str(v)}
                                    for k, v in rich_parameter_values.items()]}
        if ttl_ms is not None:
            body["ttl_ms"] = int(ttl_ms)
        return self._workspace(self._json("POST", path, json=body), "POST", path)

    def build(self, workspace_id: str, transition: str,
              rich_parameter_values: dict[str, str] | None = None) -> CoderBuild:
        """POST /workspaces/{id}/builds {transition}; 409 while another build is active."""
        if transition not in ("start", "stop", "delete"):
            raise ValueError(f"unknown transition {transition!r}")
        path = f"/workspaces/{_seg(workspace_id)}/builds"
        body: dict[str, Any] = {"transition": transition}
        if rich_parameter_values:
            body["rich_parameter_values"] = [{"name": k, "value": str(v)}
                                             for k, v in rich_parameter_values.items()]
        return build_from(self._json("POST", path, json=body), "POST", path)

    def start_workspace(self, workspace_id: str, **kwargs: Any) -> CoderBuild:
        return self.build(workspace_id, "start", **kwargs)

    def stop_workspace(self, workspace_id: str) -> CoderBuild:
        return self.build(workspace_id, "stop")

    def delete_workspace(self, workspace_id: str) -> CoderBuild:
        return self.build(workspace_id, "delete")

    def build_logs(self, build_id: str, tail: int = 20) -> BuildLog:
        """GET /workspacebuilds/{id}/logs (not follow): the last `tail` lines and all errors."""
        path = f"/workspacebuilds/{_seg(build_id)}/logs"
        logs = self._objects(self._json("GET", path, expect=list), "GET", path,
                             ("output", str))
        lines = tuple(item["output"] for item in logs[-tail:]) if tail > 0 else ()
        errors = tuple(item["output"] for item in logs if item.get("log_level") == "error")
        stage = text(logs[-1].get("stage")) if logs else ""
        return BuildLog(lines, errors, stage)

    def extend_deadline(self, workspace_id: str, deadline: datetime) -> None:
        """PUT /workspaces/{id}/extend: move the autostop deadline (at least 30 min ahead)."""
        if deadline.tzinfo is None:
            deadline = deadline.replace(tzinfo=timezone.utc)
        path = f"/workspaces/{_seg(workspace_id)}/extend"
        self._json("PUT", path, json={"deadline": deadline.isoformat().replace("+00:00", "Z")})

    readiness = staticmethod(readiness)

    def status(self, owner: str, name: str) -> WorkspaceStatus:
        """readiness() of the named workspace (one GET)."""
        return readiness(self.get_workspace(owner, name))

    # -- apps -------------------------------------------------------------------------------
    def app_url(self, owner: str, workspace: str, *, folder: str | None = None,
                agent: str = AGENT_NAME, slug: str = APP_SLUG) -> str:
        """Subdomain app URL: `<scheme>://{slug}--{agent}--{workspace}--{owner}.<suffix>/`."""
        host = self.wildcard_host().replace("*", f"{slug}--{agent}--{workspace}--{owner}", 1)
        query = f"?{urlencode({'folder': folder})}" if folder else ""
        return f"{urlsplit(self.url).scheme}://{host.lower()}/{query}"

    def auth_redirect(self, user_token: str, app_url: str) -> str:
        """The URL to put in the iframe: app URL + a one-time encrypted key, from Coder.

        GET /applications/auth-redirect?redirect_uri=<app_url> with the PERSON'S
        token; the redirect is not followed and its Location is returned.
        """
        if not user_token:  # never fall back to the admin token for a person's IDE
            raise ValueError("auth_redirect needs the person's own token")
        path = "/applications/auth-redirect"
        resp = self._http.request("GET", path, params={"redirect_uri": app_url},
                                  headers=self._auth(user_token), allow_redirects=False)
        if not 300 <= resp.status_code < 400:
            raise BadResponse("coder", "GET", path, f"expected a redirect, got HTTP "
                              f"{resp.status_code}", status=resp.status_code)
        location = resp.headers.get("Location")
        if not location:
            raise BadResponse("coder", "GET", path, "redirect without a Location",
                              status=resp.status_code)
        location = urljoin(self.url + "/", location)
        if urlsplit(location).netloc.lower() != urlsplit(app_url).netloc.lower():
            raise BadResponse("coder", "GET", path, "redirect points away from the app host",
                              status=resp.status_code)
        return location

    def healthz(self) -> str:
        """GET /healthz (outside /api/v2, no auth): 200 with a plain "OK" while Coder serves.

        Uses the client's session, timeouts and retries; a down or failing
        server raises ServiceUnavailable like any other call.
        """
        root = ServiceClient("coder", self.url, connect_timeout=self._http.connect_timeout,
                             read_timeout=self._http.read_timeout, retries=self._http.retries,
                             backoff=self._http.backoff,
                             max_retry_after=self._http.max_retry_after,
                             session=self._http.session)
        resp = root.request("GET", "/healthz", headers={"Accept": "text/plain"})
        return (resp.text or "").strip()
