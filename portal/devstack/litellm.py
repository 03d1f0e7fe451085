"""A simulated LiteLLM proxy (key management only) for the dev stack and the tests.

`make_litellm_sim(**knobs)` returns `(wsgi_app, sim)`. The app serves the key
endpoints the portal's LiteLLMClient uses, with the proxy's checks, status
codes and `{"error": {"message", "type", "param", "code"}}` bodies (BerriAI/
litellm, litellm/proxy/management_endpoints/key_management_endpoints.py):

* every route needs `Authorization: Bearer <master key>` (or a virtual key,
  which may only read its own /key/info); otherwise 401 `auth_error`;
* `POST /key/generate`: a `sk-` key, stored under its SHA-256 digest
  (`token_id`); a `key_alias` already in use is a 400;
* `POST /key/delete {"keys": [...]}`: secrets or digests; an unknown key is a
  404 and nothing is deleted;
* `GET /key/info?key=`: secret or digest; unknown: 404 "Key not found in database";
  a deleted key depends on `version` (below);
* `GET /key/list?user_id=&key_alias=&return_full_object=&page=&size=`: exact
  filters over the live keys (list_keys / _build_key_filter_conditions);
* `GET /health/liveliness` and `/health/readiness` need no key.

Knobs (`POST /__sim/faults` with a JSON object; `GET /__sim/state`; `POST
/__sim/reset`): `down` (502 from a "proxy"), `slow_seconds` (with
`slow_paths`, a regex), `status_override` (e.g. 500, 503; with
`override_paths`, `override_times`), `malformed` (200 with a body that is not
JSON), `version` ("1.77.7", the compose pin, or "1.110.0"): 1.77 forgets a
deleted key (/key/info 404), 1.110 archives it like
`LiteLLM_DeletedVerificationToken` and /key/info answers 200 with
`info.status: "deleted"`. Faulted replies carry `X-Devstack-Fault` and are not
contract checked. `block(token)` and `expire(token)` stand for an
administrator's block and a key's end of life (`blocked: true`, `expires` past).
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from typing import Any

from werkzeug.wrappers import Request, Response

from portal.devstack.control import control_response

DEFAULT_MASTER_KEY = "sk-devstack-litellm-master-key"
FAULT_HEADER = "X-Devstack-Fault"


@dataclass
class Faults:
    down: bool = False
    slow_seconds: float = 0.0
    slow_paths: str | None = None
    status_override: int | None = None
    override_paths: str | None = None
    override_times: int | None = None
    malformed: bool = False
    version: str = "1.77.7"


VERSIONS = ("1.77.7", "1.110.0")


@dataclass
class VirtualKey:
    token: str                       # sha256 hex of the secret
    secret: str = field(repr=False)
    user_id: str | None
    key_alias: str | None
    models: list[str]
    max_budget: float | None
    rpm_limit: int | None
    metadata: dict
    spend: float = 0.0
    created_at: str = ""
    blocked: bool | None = None
    expires: str | None = None


class SimError(Exception):
    def __init__(self, status: int, message: str, kind: str = "bad_request_error",
                 param: str = "None"):
        super().__init__(message)
        self.status, self.message, self.kind, self.param = status, message, kind, param


def hash_token(value: str) -> str:
    """LiteLLM's _hash_token_if_needed: only "sk-" values are secrets to hash."""
    return hashlib.sha256(value.encode()).hexdigest() if value.startswith("sk-") else value


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class LiteLLMSim:
    """Control object and WSGI app of one simulated LiteLLM proxy."""

    def __init__(self, master_key: str = DEFAULT_MASTER_KEY, **knobs: Any):
        self.master_key = master_key
        self.keys: dict[str, VirtualKey] = {}
        self.deleted: list[str] = []                 # token ids, in order
        self.archived: dict[str, VirtualKey] = {}    # 1.110's deleted-keys table
        self.requests: list[tuple[str, str]] = []
        self.faults = Faults()
        self.lock = threading.RLock()
        self.set_faults(**knobs)

    # -- knobs and state -------------------------------------------------------------------
    def set_faults(self, **knobs: Any) -> None:
        unknown = set(knobs) - {f.name for f in fields(Faults)}
        if unknown:
            raise ValueError(f"unknown knob(s): {', '.join(sorted(unknown))}")
        if "version" in knobs and knobs["version"] not in VERSIONS:
            raise ValueError(f"version must be one of {', '.join(VERSIONS)}")
        with self.lock:
            for key, value in knobs.items():
                setattr(self.faults, key, value)

    def reset_faults(self) -> None:
        with self.lock:
            self.faults = Faults()

    def keys_of(self, user_id: str) -> list[VirtualKey]:
        with self.lock:
            return [k for k in self.keys.values() if k.user_id == user_id]

    def is_live(self, secret: str) -> bool:
        with self.lock:
            return hash_token(secret) in self.keys

    def block(self, token: str) -> None:
        """What /key/block does: the key stays, `blocked` is true."""
        with self.lock:
            self.keys[hash_token(token)].blocked = True

    def expire(self, token: str) -> None:
        """The key's `expires` (from `duration`) has passed; the row stays."""
        with self.lock:
            self.keys[hash_token(token)].expires = "2020-01-01T00:00:00+00:00"

    def add_spend(self, user_id: str, amount: float) -> None:
        """Pretend the person used the assistant: spend on each of their keys."""
        with self.lock:
            for key in self.keys_of(user_id):
                key.spend += amount

    def snapshot(self) -> dict:
        """JSON-able state without secrets (for /__sim/state)."""
        with self.lock:
            return {"faults": asdict(self.faults), "requests": len(self.requests),
                    "keys": [{"token": k.token, "user_id": k.user_id, "key_alias": k.key_alias,
                              "models": k.models, "max_budget": k.max_budget,
                              "rpm_limit": k.rpm_limit, "spend": k.spend}
                             for k in self.keys.values()],
                    "deleted": list(self.deleted), "archived": len(self.archived)}

    # -- WSGI ------------------------------------------------------------------------------
    def __call__(self, environ: dict, start_response):
        return self._respond(Request(environ))(environ, start_response)

    def _respond(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/__sim/"):
            return self._control(request, path)
        with self.lock:
            self.requests.append((request.method, path))
            faults = Faults(**asdict(self.faults))
            override = None
            if faults.status_override and (faults.override_paths is None
                                           or re.search(faults.override_paths, path)):
                if faults.override_times is None or faults.override_times > 0:
                    override = faults.status_override
                    if faults.override_times is not None:
                        self.faults.override_times = faults.override_times - 1
        if faults.slow_seconds and (faults.slow_paths is None or re.search(faults.slow_paths, path)):
            time.sleep(faults.slow_seconds)
        if faults.down:
            return _fault(Response("<html><body><h1>502 Bad Gateway</h1></body></html>", 502,
                                   content_type="text/html"))
        if override is not None:
            return _fault(_error(SimError(override, f"simulated HTTP {override}",
                                          "internal_server_error")))
        if faults.malformed:
            return _fault(Response('{"key": "sk-trunc', 200, content_type="application/json"))
        try:
            return _json(200, self._route(request, path))
        except SimError as exc:
            return _error(exc)

    def _route(self, request: Request, path: str) -> Any:
        if path in ("/health/liveliness", "/health/readiness") and request.method == "GET":
            return "I'm alive!" if path.endswith("liveliness") else {
                "status": "connected", "db": "connected", "litellm_version": "1.77.7"}
        routes = {("POST", "/key/generate"): self._generate, ("POST", "/key/delete"): self._delete,
                  ("GET", "/key/info"): self._info, ("GET", "/key/list"): self._list}
        handler = routes.get((request.method, path))
        if handler is None:
            if any(p == path for _, p in routes):
                raise SimError(405, "Method Not Allowed")
            raise SimError(404, "Not Found", "not_found_error")
        caller = self._authenticate(request)
        if handler != self._info and caller is not None:
            raise SimError(401, "Authentication Error, Only proxy admin can be used to "
                                "generate, delete, update info for new keys/users/teams.",
                           "auth_error")
        return handler(request, caller)

    def _authenticate(self, request: Request) -> VirtualKey | None:
        """None for the master key, the VirtualKey for a virtual key; 401 otherwise."""
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value:
            raise SimError(401, "Authentication Error, No api key passed in.", "auth_error")
        if secrets.compare_digest(value, self.master_key):
            return None
        with self.lock:
            key = self.keys.get(hash_token(value))
        if key is None:
            raise SimError(401, "Authentication Error, Invalid proxy server token passed.",
                           "auth_error")
        return key

    @staticmethod
    def _body(request: Request) -> dict:
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            raise SimError(422, "Invalid JSON body", "invalid_request_error") from None
        if not isinstance(body, dict):
            raise SimError(422, "Input should be a valid dictionary", "invalid_request_error")
        return body

    def _generate(self, request: Request, caller) -> dict:
        body = self._body(request)
        checks = {"user_id": str, "key_alias": str, "models": list, "metadata": dict,
                  "max_budget": (int, float), "rpm_limit": int}
        for name, kind in checks.items():
            value = body.get(name)
            if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
                raise SimError(422, f"{name}: invalid type", "invalid_request_error", name)
        models = body.get("models") or []
        if not all(isinstance(m, str) for m in models):
            raise SimError(422, "models: Input should be a valid string", "invalid_request_error")
        secret = "sk-" + secrets.token_urlsafe(16)
        key = VirtualKey(hash_token(secret), secret, body.get("user_id"), body.get("key_alias"),
                         list(models), body.get("max_budget"), body.get("rpm_limit"),
                         dict(body.get("metadata") or {}), created_at=_now())
        with self.lock:
            if key.key_alias and any(k.key_alias == key.key_alias for k in self.keys.values()):
                raise SimError(400, f"Key with alias '{key.key_alias}' already exists.",
                               "bad_request_error", "key_alias")
            self.keys[key.token] = key
        return {**self._public(key), "key": secret, "token": secret, "token_id": key.token,
                "expires": None}

    def _delete(self, request: Request, caller) -> dict:
        body = self._body(request)
        keys = body.get("keys") or []
        aliases = body.get("key_aliases") or []
        if not keys and not aliases:
            raise SimError(422, "At least one of 'keys' or 'key_aliases' must be provided.",
                           "invalid_request_error")
        with self.lock:
            ids = [hash_token(k) for k in keys if isinstance(k, str)]
            ids += [k.token for k in self.keys.values() if k.key_alias in aliases]
            missing = [i for i in ids if i not in self.keys]
            if missing or len(ids) != len(keys) + len(aliases):
                raise SimError(404, "Failed to delete all keys. Keys passed in "
                                    f"{len(ids)}. Deleted 0 keys", "not_found_error", "keys")
            for token in ids:
                gone = self.keys.pop(token)
                self.deleted.append(token)
                if self.faults.version != "1.77.7":
                    self.archived[token] = gone
        return {"deleted_keys": list(keys) + list(aliases)}

    def _info(self, request: Request, caller) -> dict:
        value = request.args.get("key") or (caller.secret if caller is not None else None)
        if not value:
            raise SimError(400, "No key passed in.", "bad_request_error", "key")
        token = hash_token(value)
        with self.lock:
            key = self.keys.get(token)
            archived = self.archived.get(token)
        if key is None and archived is not None and caller is None:
            return {"key": value, "info": {**self._public(archived), "status": "deleted"}}
        if key is None:
            raise SimError(404, "Key not found in database", "not_found_error", "key")
        if caller is not None and caller.token != token:
            raise SimError(403, "You are not allowed to access this key's info.", "auth_error")
        return {"key": value, "info": self._public(key)}

    def _list(self, request: Request, caller) -> dict:
        args = request.args
        try:
            page, size = int(args.get("page", 1)), int(args.get("size", 10))
        except ValueError:
            raise SimError(422, "page and size must be integers", "invalid_request_error") from None
        if page < 1 or not 1 <= size <= 100:
            raise SimError(422, "page >= 1 and 1 <= size <= 100", "invalid_request_error")
        full = args.get("return_full_object", "false").lower() == "true"
        with self.lock:
            found = [k for k in self.keys.values()
                     if all(args.get(f) in (None, "", getattr(k, f)) for f in ("user_id", "key_alias"))]
        found.sort(key=lambda k: (k.created_at, k.token), reverse=True)
        chunk = found[(page - 1) * size:page * size]
        return {"keys": [{**self._public(k), "token": k.token} if full else k.token for k in chunk],
                "total_count": len(found), "current_page": page,
                "total_pages": -(-len(found) // size)}

    @staticmethod
    def _public(key: VirtualKey) -> dict:
        return {"key_alias": key.key_alias, "user_id": key.user_id, "models": key.models,
                "max_budget": key.max_budget, "rpm_limit": key.rpm_limit, "tpm_limit": None,
                "spend": key.spend, "metadata": key.metadata, "team_id": None,
                "blocked": key.blocked, "expires": key.expires, "created_at": key.created_at,
                "budget_duration": None}

    def _control(self, request: Request, path: str) -> Response:
        return control_response(request, state=self.snapshot, set_faults=self.set_faults,
                                reset=self.reset_faults)


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")


def _error(exc: SimError) -> Response:
    return _json(exc.status, {"error": {"message": exc.message, "type": exc.kind,
                                        "param": exc.param, "code": str(exc.status)}})


def _fault(response: Response) -> Response:
    response.headers[FAULT_HEADER] = "1"
    return response


def make_litellm_sim(master_key: str = DEFAULT_MASTER_KEY, **knobs: Any
                     ) -> tuple[LiteLLMSim, LiteLLMSim]:
    """`(wsgi_app, sim)`: the sim object is itself the WSGI app."""
    sim = LiteLLMSim(master_key, **knobs)
    return sim, sim
