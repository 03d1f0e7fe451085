"""A simulated Coder v2 server (WSGI) for the dev stack and the tests.

It speaks the subset of Coder's HTTP API that `portal.clients.coder.CoderClient`
uses, with the real server's status codes and error bodies (NOTES.md), the
auth-redirect hand-off and subdomain app hosts (coder_apps.py), and builds whose
progress is derived from the clock (coder_state.py).

    app, sim = make_coder_sim(build_seconds=0.5, access_url=..., wildcard_host=...)
    sim.fail_builds = 1                      # the next build fails
    sim.status_override = StatusOverride(503, path="/api/v2/users")

The same knobs are reachable out of process: `POST /__sim/faults` (JSON object of
knob -> value) and `GET /__sim/state`. Those control endpoints have no auth: the
simulator listens on loopback only (ServerThread refuses anything else).

Faulted replies carry `X-Devstack-Fault` so contract checks skip them.
"""
from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, fields
from typing import Any

from werkzeug.wrappers import Request, Response

from portal.devstack import coder_apps, coder_host
from portal.devstack.access_log import log_access
from portal.devstack.coder_api import handle_api
from portal.devstack.coder_state import ApiError
from portal.devstack.coder_store import CoderStore, Knobs
from portal.devstack.control import control_response
from portal.devstack.workspace_host import WorkspaceHost

DEFAULT_ADMIN_TOKEN = "simadmin01-codersimadminsecret000"
FAULT_HEADER = "X-Devstack-Fault"
API_CSP = "frame-ancestors 'none'"
REQUEST_LOG_SIZE = 10_000
log = logging.getLogger(__name__)


@dataclass
class StatusOverride:
    """Answer `status` instead of the real reply, on every path or those containing `path`."""

    status: int
    path: str | None = None
    method: str | None = None
    retry_after: float | None = None
    times: int | None = None     # how many replies to override; None = until cleared
    message: str = ""

    def matches(self, request: Request) -> bool:
        return ((self.path is None or self.path in request.path)
                and (self.method is None or self.method.upper() == request.method)
                and (self.times is None or self.times > 0))


def _knob(name: str) -> property:
    return property(lambda self: getattr(self.knobs, name),
                    lambda self, value: setattr(self.knobs, name, value),
                    doc=f"Knob {name!r} (see Knobs).")


class CoderSim:
    """State and knobs of one simulated Coder. Attributes are safe to set from a test."""

    build_seconds = _knob("build_seconds")
    agent_seconds = _knob("agent_seconds")
    fail_builds = _knob("fail_builds")
    fail_message = _knob("fail_message")
    max_token_lifetime_seconds = _knob("max_token_lifetime_seconds")
    oidc_enabled = _knob("oidc_enabled")

    def __init__(self, *, admin_token: str = DEFAULT_ADMIN_TOKEN, admin_username: str = "admin",
                 template_name: str = "portal-workspace", organization_name: str = "coder",
                 access_url: str | None = None, wildcard_host: str | None = None,
                 host: WorkspaceHost | None = None, **knobs: Any):
        self.knobs = Knobs()
        self.store = CoderStore(self.knobs, admin_token=admin_token,
                                admin_username=admin_username, template_name=template_name,
                                organization_name=organization_name)
        if host is not None:  # real workspace processes (coder_host.py)
            self.store.host = host
            host.on_autostop = lambda workspace_id: coder_host.autostop(self.store, workspace_id)
        self.keybox = coder_apps.KeyBox()
        self.deployment_id = str(uuid.uuid4())
        self.access_url = access_url.rstrip("/") if access_url else None
        self.wildcard_host = wildcard_host
        self.slow_seconds = 0.0
        self.status_override: StatusOverride | None = None
        self.malformed: str | None = None        # "text" (not JSON) or "shape" (wrong JSON)
        self.malformed_path: str | None = None
        # [method, path, status or None while running]; bounded for a long-lived dev stack.
        self.requests: deque[list[Any]] = deque(maxlen=REQUEST_LOG_SIZE)
        self._arrivals = itertools.count(1)  # every request ever, for rates (the log is bounded)
        self.requests_total = 0
        self.set_faults(**knobs)

    @property
    def admin_token(self) -> str:
        return self.store.admin_token

    @property
    def admin_username(self) -> str:
        return self.store.admin.username

    @property
    def template_name(self) -> str:
        return self.store.template.name

    def access_url_for(self, request: Request) -> str:
        """The configured access URL, else the URL the request came in on."""
        return self.access_url or request.host_url.rstrip("/")

    # -- knobs ------------------------------------------------------------------------------
    def set_faults(self, **values: Any) -> None:
        """Set knobs by name (also what `POST /__sim/faults` calls); unknown names are errors."""
        knob_names = {f.name for f in fields(Knobs)}
        with self.store.lock:
            for name, value in values.items():
                if name in knob_names:
                    setattr(self.knobs, name, value)
                elif name == "status_override":
                    self.status_override = (value if value is None or isinstance(
                        value, StatusOverride) else StatusOverride(**value))
                elif name in ("slow_seconds", "malformed", "malformed_path", "access_url",
                              "wildcard_host"):
                    setattr(self, name, value)
                elif name == "revoke_tokens":
                    if value:
                        self.revoke_tokens(None if value is True else str(value))
                else:
                    raise ValueError(f"unknown simulator knob {name!r}")

    def reset_faults(self) -> None:
        """Back to a well-behaved server (build timings are left alone)."""
        with self.store.lock:
            self.slow_seconds = 0.0
            self.status_override = None
            self.malformed = self.malformed_path = None
            self.knobs.fail_builds = 0

    def revoke_tokens(self, username: str | None = None) -> int:
        """Delete the API keys of `username` (or of everyone); the admin token stays valid."""
        with self.store.lock:
            return self.store.revoke(username)

    def count(self, path: str | None = None, method: str | None = None) -> int:
        """How many requests reached the simulator (optionally: containing `path`, by `method`)."""
        return sum(1 for m, p, _status in list(self.requests)
                   if (path is None or path in p) and (method is None or m == method.upper()))

    def state(self) -> dict[str, Any]:
        with self.store.lock:
            return {"knobs": asdict(self.knobs), "slow_seconds": self.slow_seconds,
                    "status_override": asdict(self.status_override)
                    if self.status_override else None,
                    "malformed": self.malformed, "malformed_path": self.malformed_path,
                    "access_url": self.access_url, "wildcard_host": self.wildcard_host,
                    "users": sorted(u.username for u in self.store.users.values()),
                    "workspaces": sorted(
                        f"{self.store.users[w.owner_id].username}/{w.name}"
                        for w in self.store.workspaces.values() if not w.deleted(time.time())),
                    "tokens": len(self.store.keys), "requests": len(self.requests),
                    "requests_total": self.requests_total}

    # -- fault plumbing ---------------------------------------------------------------------
    def _take_override(self, request: Request) -> StatusOverride | None:
        with self.store.lock:
            override = self.status_override
            if override is None or not override.matches(request):
                return None
            if override.times is not None:
                override.times -= 1
            return override

    def _malformed_for(self, request: Request) -> str | None:
        if self.malformed and (self.malformed_path is None or self.malformed_path in request.path):
            return self.malformed
        return None


class CoderSimApp:
    """The WSGI application of a CoderSim."""

    def __init__(self, sim: CoderSim):
        self.sim = sim

    def __call__(self, environ: dict, start_response):
        request = Request(environ)
        record: list[Any] = [request.method, request.path, None]
        self.sim.requests.append(record)  # counted on arrival, so a timed-out call counts too
        if not request.path.startswith("/__sim/"):
            self.sim.requests_total = next(self.sim._arrivals)
        response = self.respond(request)
        record[2] = response.status_code
        if not request.path.startswith("/__sim/"):
            own = str(uuid.uuid4())  # Coder's own id per request (httpmw.AttachRequestID)
            if isinstance(response, Response):  # an app proxy streams the upstream's headers
                response.headers["X-Coder-Request-Id"] = own
            log_access(log, request, response.status_code, request_id=own,
                       x_request_id=request.headers.get("X-Request-ID", "-"))
        return response(environ, start_response)

    def respond(self, request: Request) -> Response:
        sim = self.sim
        if request.path.startswith("/__sim/"):
            return self._control(request)
        if sim.slow_seconds:
            time.sleep(sim.slow_seconds)
        override = sim._take_override(request)
        if override is not None:
            return self._overridden(override)
        with sim.store.lock:
            app_response = coder_apps.app_request(sim, request)
            if app_response is not None:
                return app_response          # apps are framed: no frame-blocking headers
            response = self._api_or_site(request)
        response.headers["Content-Security-Policy"] = API_CSP
        if request.path.startswith("/api/v2/") and (kind := sim._malformed_for(request)):
            response = self._malform(response, kind)
        return response

    def _api_or_site(self, request: Request) -> Response:
        if request.path == "/healthz":
            return Response("OK", mimetype="text/plain")
        if request.path.startswith("/api/v2/"):
            try:
                result = handle_api(self.sim, request)
            except ApiError as exc:
                return _json(exc.status, exc.body())
            if isinstance(result, Response):
                return result
            return _json(*result)
        if request.path == "/":
            return Response("<!doctype html><title>Coder (simulated)</title>"
                            "<h1>Coder (simulated dashboard)</h1>", mimetype="text/html")
        return Response("<!doctype html><title>Not found</title><h1>404</h1>", status=404,
                        mimetype="text/html")

    def _overridden(self, override: StatusOverride) -> Response:
        message = override.message or {
            429: "You've been rate limited for sending more than 512 requests in 1m0s.",
            503: "Service Unavailable"}.get(override.status, "Internal error (simulated).")
        response = _json(override.status, {"message": message})
        if override.retry_after is not None:
            response.headers["Retry-After"] = f"{override.retry_after:g}"
        response.headers[FAULT_HEADER] = f"status-{override.status}"
        return response

    @staticmethod
    def _malform(response: Response, kind: str) -> Response:
        if response.mimetype != "application/json":
            return response
        if kind == "shape":
            body = response.get_json()
            bad: Any = [] if isinstance(body, dict) else {"unexpected": True}
            replaced = _json(response.status_code, bad)
        else:
            replaced = Response("<html><body>502 Bad Gateway (simulated)</body></html>",
                                status=response.status_code, mimetype="text/html")
        replaced.headers[FAULT_HEADER] = f"malformed-{kind}"
        replaced.headers["Content-Security-Policy"] = API_CSP
        return replaced

    def _control(self, request: Request) -> Response:
        return control_response(request, state=self.sim.state, set_faults=self.sim.set_faults,
                                reset=self.sim.reset_faults)


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def make_coder_sim(**knobs: Any) -> tuple[CoderSimApp, CoderSim]:
    """A fresh simulated Coder: (WSGI app, control object).

    Keyword arguments: admin_token, admin_username, template_name,
    organization_name, access_url, wildcard_host, host (a WorkspaceHost: real
    workspace processes behind the app hosts), and any knob (build_seconds,
    agent_seconds, fail_builds, fail_message, max_token_lifetime_seconds,
    oidc_enabled, slow_seconds, status_override, malformed, malformed_path).
    Seeded with an admin user holding `admin_token`, the default organization
    and a template whose active version declares workspace_params.PARAMETERS.
    """
    sim = CoderSim(**knobs)
    return CoderSimApp(sim), sim
