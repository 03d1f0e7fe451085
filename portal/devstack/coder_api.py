"""HTTP routes of the simulated Coder's `/api/v2`: exactly the endpoints CoderClient uses.

Each handler takes (sim, request, actor, key, **path params) and returns
(status, JSON body) or a ready Response; errors are raised as ApiError and
rendered by the dispatcher in Coder's `{"message","detail","validations"}` shape.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from portal.devstack import coder_apps
from portal.devstack.coder_state import (
    ApiError, ApiKey, User, now, parse_rfc3339, rfc3339, validation_failed)

if TYPE_CHECKING:
    from portal.devstack.coder import CoderSim

Handler = Callable[..., Any]
_HANDLERS: dict[str, Handler] = {}
_RULES: list[Rule] = []
PUBLIC = frozenset({"buildinfo"})


def route(path: str, method: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[fn.__name__] = fn
        _RULES.append(Rule("/api/v2" + path, endpoint=fn.__name__, methods=[method]))
        return fn
    return register


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or the 400 Coder's httpapi.Read answers."""
    try:
        body = json.loads(request.get_data(cache=True) or b"null")
    except ValueError as exc:
        raise ApiError(400, "Request body must be valid JSON.", str(exc)) from None
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be valid JSON.",
                       "json: cannot unmarshal into Go value of type object")
    return body


# -- deployment ---------------------------------------------------------------------------
@route("/buildinfo", "GET")
def buildinfo(sim: "CoderSim", request: Request, actor: User | None, key: ApiKey | None):
    return 200, {"version": "v2.99.0-devstack", "external_url": "https://github.com/coder/coder",
                 "dashboard_url": sim.access_url_for(request), "workspace_proxy": False,
                 "agent_api_version": "2.0", "provisioner_api_version": "1.0",
                 "upgrade_message": "", "deployment_id": sim.deployment_id, "telemetry": False,
                 "webpush_public_key": ""}


@route("/regions", "GET")
def regions(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None):
    access = sim.access_url_for(request)
    return 200, {"regions": [{
        "id": sim.deployment_id, "name": "primary", "display_name": "Default",
        "icon_url": "/emojis/1f3e1.png", "healthy": True, "path_app_url": access,
        "wildcard_hostname": sim.wildcard_host or ""}]}


@route("/applications/host", "GET")
def app_host(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None):
    return 200, {"host": sim.wildcard_host or ""}


@route("/applications/auth-redirect", "GET")
def auth_redirect(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None):
    return coder_apps.auth_redirect(sim, request, actor, key)


@route("/organizations", "GET")
def organizations(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None):
    return 200, [dict(sim.store.org)]


# -- users --------------------------------------------------------------------------------
@route("/users", "GET")
def list_users(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None):
    users = sim.store.search_users(request.args.get("q", ""))
    if not actor.is_admin:
        users = [u for u in users if u.id == actor.id]
    return 200, {"users": [u.json() for u in users], "count": len(users)}


@route("/users", "POST")
def create_user(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None):
    if not actor.is_admin:
        raise ApiError(403, "Forbidden.")
    return 201, sim.store.create_user(json_body(request)).json()


@route("/users/<user>", "GET")
def get_user(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None, user: str):
    target = sim.store.user_param(actor, user)
    sim.store.may_act_for(actor, target)
    return 200, target.json()


@route("/users/<user>/status/suspend", "PUT")
def suspend_user(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None, user: str):
    return 200, sim.store.set_status(actor, sim.store.user_param(actor, user), "suspended").json()


@route("/users/<user>/status/activate", "PUT")
def activate_user(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None, user: str):
    return 200, sim.store.set_status(actor, sim.store.user_param(actor, user), "active").json()


@route("/users/<user>/keys/tokens/tokenconfig", "GET")
def token_config(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None, user: str):
    target = sim.store.user_param(actor, user)
    sim.store.may_act_for(actor, target)
    return 200, {"max_token_lifetime": int(sim.knobs.max_token_lifetime_seconds * 1e9)}


@route("/users/<user>/keys/tokens", "POST")
def create_token(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None, user: str):
    target = sim.store.user_param(actor, user)
    minted = sim.store.mint_key(actor, target, json_body(request))
    return 201, {"key": minted.token}


@route("/users/<user>/keys/<keyid>", "GET")
def get_token(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None, user: str,
              keyid: str):
    return 200, sim.store.key_json(actor, sim.store.user_param(actor, user), keyid)


@route("/users/<user>/keys/<keyid>", "DELETE")
def delete_token(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None, user: str,
                 keyid: str):
    sim.store.delete_key(actor, sim.store.user_param(actor, user), keyid)
    return Response(status=204)


# -- templates ----------------------------------------------------------------------------
@route("/organizations/<organization>/templates/<templatename>", "GET")
def template_by_name(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None,
                     organization: str, templatename: str):
    org = sim.store.org
    if organization not in (org["id"], org["name"]):
        raise ApiError(400, f'Organization "{organization}" either does not exist, or you are '
                            "unauthorized to view it")
    template = sim.store.template
    if templatename.lower() != template.name.lower():
        raise coder_not_found()
    return 200, template.json(org["name"])


@route("/templateversions/<templateversion>/rich-parameters", "GET")
def rich_parameters(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None,
                    templateversion: str):
    if templateversion != sim.store.template.active_version_id:
        raise coder_not_found()
    return 200, [dict(p) for p in sim.store.template.parameters]


# -- workspaces ---------------------------------------------------------------------------
@route("/users/<user>/workspace/<workspacename>", "GET")
def workspace_by_name(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None,
                      user: str, workspacename: str):
    owner = sim.store.user_param(actor, user)
    return 200, sim.store.workspace_json(sim.store.workspace_by_name(actor, owner, workspacename))


@route("/workspaces/<workspace>", "GET")
def workspace_by_id(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None,
                    workspace: str):
    return 200, sim.store.workspace_json(sim.store.workspace_by_id(actor, workspace))


@route("/workspaces", "GET")
def list_workspaces(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None):
    filters = parse_workspace_query(request.args.get("q", ""))
    at = now()
    found = []
    for ws in sim.store.visible_workspaces(actor, at):
        owner = sim.store.users[ws.owner_id]
        if "owner" in filters and filters["owner"] not in (owner.username.lower(), owner.id) \
                and not (filters["owner"] == "me" and owner.id == actor.id):
            continue
        if "name" in filters and filters["name"] not in ws.name.lower():
            continue
        if "id" in filters and ws.id not in filters["id"].split(","):
            continue
        if "status" in filters and ws.latest.status(at) != filters["status"]:
            continue
        found.append(ws)
    found.sort(key=lambda w: w.last_used_at, reverse=True)
    offset = _int_arg(request, "offset", 0)
    limit = _int_arg(request, "limit", 0)
    page = found[offset:offset + limit] if limit else found[offset:]
    return 200, {"workspaces": [sim.store.workspace_json(w, at) for w in page],
                 "count": len(found)}


WORKSPACE_STATUSES = frozenset({"pending", "starting", "running", "stopping", "stopped",
                                "failed", "canceling", "canceled", "deleting", "deleted"})


def parse_workspace_query(q: str) -> dict[str, str]:
    """Coder's searchquery.Workspaces subset: owner:, name:, id:, status: (one value of
    codersdk.WorkspaceStatus: coderd/searchquery/search.go), and bare [owner/]name."""
    out: dict[str, str] = {}
    for element in q.lower().split():
        key, sep, value = element.partition(":")
        if not sep:
            owner, slash, name = element.partition("/")
            out.update({"owner": owner, "name": name} if slash else {"name": element})
        elif not key or not value or ":" in value:
            raise ApiError(400, "Invalid workspace search query.", validations=[
                {"field": "q", "detail": f"Query element {element!r} cannot start or end "
                                          "with ':'"}])
        elif key in ("owner", "name", "id"):
            out[key] = value
        elif key == "status" and value in WORKSPACE_STATUSES:
            out[key] = value
        elif key == "status":
            raise ApiError(400, "Invalid workspace search query.", validations=[
                {"field": "status", "detail": f"Query param \"status\" has invalid value: "
                                              f"{value!r} is not a valid WorkspaceStatus"}])
        else:
            raise ApiError(400, "Invalid workspace search query.", validations=[
                {"field": key, "detail": f"Query param {key!r} is not a valid query param"}])
    return out


def _int_arg(request: Request, name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "Query parameters have invalid values.", validations=[
            {"field": name, "detail": f"Query param {name!r} must be a valid integer"}]) from None
    return max(0, value)


@route("/users/<user>/workspaces", "POST")
def create_workspace(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None,
                     user: str):
    owner = sim.store.user_param(actor, user)
    ws = sim.store.create_workspace(actor, owner, json_body(request))
    return 201, sim.store.workspace_json(ws)


@route("/workspaces/<workspace>/builds", "POST")
def create_build(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None,
                 workspace: str):
    ws = sim.store.workspace_by_id(actor, workspace)
    build = sim.store.new_build(actor, ws, json_body(request))
    return 201, sim.store.build_json(ws, build, now())


@route("/workspacebuilds/<workspacebuild>/logs", "GET")
def build_logs(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None,
               workspacebuild: str):
    if request.args.get("follow") in ("true", "1"):
        raise ApiError(400, "follow=true needs a websocket upgrade; the simulator has none.")
    _ws, build = sim.store.build_for(actor, workspacebuild)
    logs = build.logs(now())
    after, before = _int_arg(request, "after", 0), _int_arg(request, "before", 0)
    logs = [line for line in logs if line["id"] > after and (not before or line["id"] < before)]
    return 200, logs


@route("/workspaces/<workspace>/extend", "PUT")
def extend(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None, workspace: str):
    ws = sim.store.workspace_by_id(actor, workspace)
    raw = json_body(request).get("deadline")
    if not isinstance(raw, str):
        raise validation_failed("deadline", "required", "")
    try:
        deadline = parse_rfc3339(raw)
    except ValueError:
        raise ApiError(400, "Request body must be valid JSON.",
                       f"parsing time {raw!r} as RFC 3339 failed") from None
    at = now()
    build = ws.latest
    if build.transition != "start" or build.job_status(at) != "succeeded":
        raise ApiError(400, "Workspace must be started, current status: " + build.status(at))
    if deadline < at + 29 * 60:
        raise ApiError(400, "Bad extend workspace request.", validations=[
            {"field": "deadline", "detail": "new deadline must be at least 30 minutes in the "
                                            "future"}])
    build.deadline_override = deadline
    return 200, {"message": f"Deadline updated to {rfc3339(deadline)}."}


@route("/workspaces/<workspace>/usage", "POST")
def usage(sim: "CoderSim", request: Request, actor: User, key: ApiKey | None, workspace: str):
    ws = sim.store.workspace_by_id(actor, workspace)
    at = now()
    ws.last_used_at = at
    if request.get_data(cache=True):
        body = json_body(request)
        if body.get("app_name") or body.get("agent_id"):
            if body.get("app_name") not in ("vscode", "jetbrains", "reconnecting-pty", "ssh"):
                raise validation_failed("app_name", "oneof", body.get("app_name"))
            if body.get("agent_id") != ws.latest.agent_id:
                raise ApiError(400, "Invalid request.", validations=[
                    {"field": "agent_id", "detail": "agent does not belong to the workspace"}])
            current = ws.latest.deadline(at)
            if current is not None:  # activity bump: one hour from now, never shorter
                ws.latest.deadline_override = max(current, at + 3600)
    return Response(status=204)


# -- dispatch -----------------------------------------------------------------------------
URL_MAP = Map(_RULES, strict_slashes=False, merge_slashes=False)


def coder_not_found() -> ApiError:
    return ApiError(404, "Resource not found or you do not have access to this resource")


def session_token(request: Request) -> str | None:
    """Coder's APITokenFromRequest order: cookie, query, header, then Bearer."""
    return (request.cookies.get("coder_session_token")
            or request.args.get("coder_session_token")
            or request.headers.get("Coder-Session-Token")
            or _bearer(request.headers.get("Authorization", "")))


def _bearer(value: str) -> str | None:
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def handle_api(sim: "CoderSim", request: Request) -> tuple[int, Any] | Response:
    """Route an /api/v2 request; raises ApiError for every error reply."""
    adapter = URL_MAP.bind_to_environ(request.environ)
    try:
        endpoint, params = adapter.match()
    except MethodNotAllowed:
        raise ApiError(405, "Method not allowed.") from None
    except NotFound:
        raise ApiError(404, "Route not found.") from None
    actor: User | None = None
    key: ApiKey | None = None
    if endpoint not in PUBLIC:
        actor, key = sim.store.authenticate(session_token(request))
    return _HANDLERS[endpoint](sim, request, actor, key, **params)
