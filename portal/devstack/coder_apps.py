"""Subdomain workspace apps of the simulated Coder, and the auth-redirect hand-off.

Mirrors coderd/workspaceapps (see NOTES.md, "Browser auth for apps"):

1. `GET /api/v2/applications/auth-redirect?redirect_uri=<app URL>` with the
   person's token mints an `application_connect` API key, encrypts it, and
   answers 303 to the app URL with the key in `coder_application_connect_api_key_35e783`
   (the parameter name of coderd/workspaceapps/proxy.go).
2. The app host sees that parameter, decrypts it, sets the HttpOnly SameSite=Lax
   cookie `coder_subdomain_app_session_token_<hash>` on the wildcard's parent
   domain and redirects to the same URL without the parameter.
3. An app request without a usable cookie is redirected to step 1; with one, the
   app is served. A session token in the query string is served once and only
   gets a one-minute signed-app-token cookie, never the lasting session cookie.

When the simulator runs real workspaces (workspace_host.py) with code-server
installed, the app host proxies to that workspace's code-server (app_proxy.py);
otherwise it serves a plain page naming the workspace, its repository and the
`folder` it was asked to open, and how to get the real IDE.
"""
from __future__ import annotations

import hashlib
import html
import json
import re
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit, urlunsplit, parse_qsl

from cryptography.fernet import Fernet, InvalidToken
from werkzeug.wrappers import Request, Response

from portal.devstack.app_proxy import AppProxy
from portal.devstack.coder_state import ApiError, ApiKey, User, now
from portal.devstack.workspace_host import CONTAINER_HOME
from portal.workspaces.workspace_params import AGENT_NAME, APP_SLUG

if TYPE_CHECKING:
    from portal.devstack.coder import CoderSim

API_KEY_PARAM = "coder_application_connect_api_key_35e783"
SESSION_QUERY_PARAM = "coder_session_token"
SIGNED_APP_TOKEN_COOKIE = "coder_signed_app_token"
KEY_TTL_SECONDS = 60
PLACEHOLDER_HINT = ("This is a placeholder. Run <code>make ide</code> to install code-server; "
                    "<code>portal dev</code> then serves a real VS Code here, in a folder the "
                    "template's own startup.sh prepared.")
STARTING = "code-server is starting; reload in a moment."
_NAME = r"[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*"
APP_SUBDOMAIN_RE = re.compile(
    rf"^(?P<slug>{_NAME})(?:--(?P<agent>{_NAME}))?--(?P<workspace>{_NAME})--(?P<owner>{_NAME})$")


def compile_wildcard(pattern: str) -> re.Pattern[str]:
    """Coder's CompileHostnamePattern: '*.apps.example.com[:port]' -> regex capturing '*'."""
    host = pattern.lower().split(":", 1)[0]
    if not host.startswith("*") or host.count("*") != 1 or "." not in host:
        raise ValueError(f"invalid wildcard hostname {pattern!r}")
    body = re.escape(host).replace(r"\*", "([^.]+)", 1)
    return re.compile(rf"^\s*{body}\.?(?::\d+)?\s*$")


def cookie_name(wildcard: str) -> str:
    """coder_subdomain_app_session_token_<first 16 bytes of sha256(hostname), hex>."""
    digest = hashlib.sha256(wildcard.encode()).digest()[:16].hex()
    return f"coder_subdomain_app_session_token_{digest}"


class KeyBox:
    """Encrypts app-connect keys for the redirect; each encrypted key works once."""

    def __init__(self) -> None:
        self._fernet = Fernet(Fernet.generate_key())
        self._used: dict[str, float] = {}   # sealed key -> when used (kept while unexpired)

    def seal(self, token: str) -> str:
        return self._fernet.encrypt(json.dumps({"api_key": token}).encode()).decode()

    def open(self, sealed: str) -> str | None:
        at = now()
        self._used = {k: t for k, t in self._used.items() if at - t <= KEY_TTL_SECONDS + 1}
        if sealed in self._used:
            return None
        try:
            payload = json.loads(self._fernet.decrypt(sealed.encode(), ttl=KEY_TTL_SECONDS))
        except (InvalidToken, ValueError):
            return None
        self._used[sealed] = at
        token = payload.get("api_key") if isinstance(payload, dict) else None
        return token if isinstance(token, str) else None


def auth_redirect(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None) -> Response:
    """GET /api/v2/applications/auth-redirect: 303 to the app URL with an encrypted key."""
    redirect_uri = request.args.get("redirect_uri", "")
    if not redirect_uri:
        raise ApiError(400, "Missing redirect_uri query parameter.")
    parts = urlsplit(redirect_uri)
    wildcard = sim.wildcard_host
    if not wildcard or not parts.netloc or not compile_wildcard(wildcard).match(parts.netloc):
        raise ApiError(400, "Invalid redirect_uri.",
                       "The redirect_uri query parameter must be the primary wildcard app "
                       "hostname, a workspace proxy access URL or a workspace proxy wildcard "
                       "app hostname.")
    lifetime = max(1.0, (key.expires_at - now()) if key else 86400.0)
    app_key = ApiKey.generate(actor.id, f"app-connect-{now():.6f}", min(lifetime, 86400.0),
                              scope="application_connect")
    sim.store.prune_keys()
    sim.store.keys[app_key.id] = app_key
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k != API_KEY_PARAM]
    query.append((API_KEY_PARAM, sim.keybox.seal(app_key.token)))
    scheme = urlsplit(sim.access_url_for(request)).scheme  # Coder forces the access scheme
    location = urlunsplit((scheme, parts.netloc, parts.path or "/", urlencode(query), ""))
    return Response(status=303, headers={"Location": location})


def app_request(sim: "CoderSim", request: Request) -> Response | AppProxy | None:
    """Serve `request` if its Host is a subdomain app host; None lets the API handle it."""
    wildcard = sim.wildcard_host
    if not wildcard:
        return None
    match = compile_wildcard(wildcard).match(request.host)
    if not match:
        return None
    app = APP_SUBDOMAIN_RE.match(match.group(1))
    if not app:
        return _page(400, "Invalid Application URL",
                     f"Could not parse subdomain application URL {match.group(1)!r}.")
    sealed = request.args.get(API_KEY_PARAM)
    if sealed:
        return _exchange_key(sim, request, sealed)
    return _serve(sim, request, app)


def _exchange_key(sim: "CoderSim", request: Request, sealed: str) -> Response:
    token = sim.keybox.open(sealed)
    if token is None:
        return _page(400, "Bad Request", "Could not decrypt API key. Please remove the query "
                                         "parameter and try again.")
    query = [(k, v) for k, v in request.args.items(multi=True) if k != API_KEY_PARAM]
    location = (request.path or "/") + (f"?{urlencode(query)}" if query else "")
    resp = Response(status=307, headers={"Location": location})
    resp.set_cookie(cookie_name(sim.wildcard_host or ""), token, path="/",
                    domain=_cookie_domain(sim.wildcard_host or ""), httponly=True,
                    samesite="Lax", secure=sim.access_url_for(request).startswith("https:"))
    return resp


def _cookie_domain(wildcard: str) -> str | None:
    """'.' + everything after the first label of the wildcard host, without the port."""
    host = wildcard.split(":", 1)[0]
    parent = host.split(".", 1)[1] if "." in host else ""
    # A cookie Domain of a bare single-label name (e.g. "localhost") is refused by browsers.
    return f".{parent}" if "." in parent else None


def _serve(sim: "CoderSim", request: Request, app: re.Match[str]) -> Response | AppProxy:
    store = sim.store
    token = request.cookies.get(cookie_name(sim.wildcard_host or "")) \
        or request.headers.get("Coder-Session-Token")
    from_query = False
    if not token and request.args.get(SESSION_QUERY_PARAM):
        token, from_query = request.args[SESSION_QUERY_PARAM], True
    try:
        user, _key = store.authenticate(token)
    except ApiError:
        redirect_uri = request.url
        target = sim.access_url_for(request).rstrip("/") + "/api/v2/applications/auth-redirect?" \
            + urlencode({"redirect_uri": redirect_uri})
        return Response(status=303, headers={"Location": target})
    owner = next((u for u in store.users.values()
                  if u.username.lower() == app["owner"].lower()), None)
    ws = None
    if owner is not None:
        ws = next((w for w in store.workspaces.values() if w.owner_id == owner.id
                   and w.name.lower() == app["workspace"].lower() and not w.deleted(now())),
                  None)
    if ws is None or app["slug"] != APP_SLUG or (app["agent"] or AGENT_NAME) != AGENT_NAME \
            or not (user.is_admin or user.id == ws.owner_id):
        return _page(404, "Application Not Found",
                     "The application or workspace you are trying to access does not exist or "
                     "you do not have permission to access it.")
    state = ws.latest.agent_state(now())
    if state is None or state[0] != "connected":
        status = state[0] if state else "disconnected"
        return _page(502, "Application Unavailable",
                     f'Agent state is "{status}", not "connected".')
    host = sim.store.host
    if host is not None and (port := host.port(ws.id)) is not None:
        return AppProxy(port, CONTAINER_HOME, str(host.home(app["owner"], ws.name)))
    folder = request.args.get("folder", "")
    body = (f"<h1>code-server (simulated)</h1>"
            f"<p>Workspace <b id=workspace>{html.escape(ws.name)}</b> of "
            f"<b id=owner>{html.escape(app['owner'])}</b></p>"
            f"<p>Repository <code id=repo>{html.escape(ws.parameter('git_repo'))}</code></p>"
            f"<p>Folder <code id=folder>{html.escape(folder)}</code></p>"
            f"<p id=hint>{PLACEHOLDER_HINT if host is None or host.code_server is None else STARTING}"
            f"</p>")
    resp = Response(_html("code-server", body), status=200, mimetype="text/html")
    if from_query:
        # A query-string token only earns a short-lived signed app token, never a session.
        resp.set_cookie(SIGNED_APP_TOKEN_COOKIE, "signed-app-token", max_age=60, path="/",
                        httponly=True, samesite="Lax")
    return resp


def _page(status: int, title: str, description: str) -> Response:
    body = f"<h1>{html.escape(title)}</h1><p>{html.escape(description)}</p>"
    return Response(_html(title, body), status=status, mimetype="text/html")


def _html(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}"
            f"</title></head><body>{body}</body></html>")
