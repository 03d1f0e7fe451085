"""Check HTTP exchanges against the real servers' swagger contracts.

The simulators in `portal/devstack` and the clients in `portal/clients` must
speak exactly the API of the real Coder and Gitea. Rather than trusting our
memory of those APIs, tests record every exchange and check it here against
the swagger documents in `<repo>/../shared/contracts`:

* `check_request(spec, method, path, body)`: the path matches a template, the
  method exists there, and a JSON body validates against the body parameter.
* `check_response(spec, method, path, status, body)`: the reply validates
  against the schema documented for that status (undocumented statuses, such as
  Gitea's 409 on a duplicate repository, are accepted: the swagger files are
  incomplete about errors, the servers are the truth; see NOTES.md).

Swagger 2.0 is close to JSON Schema Draft 4 with quirks. We are deliberately
not stricter than the real (Go) servers: `null` is accepted wherever a value is
(Go encodes nil slices, maps and pointers as `null` and decodes `null` as "not
set"), `format` is not enforced, unknown fields are allowed.

`RecordingMiddleware` wraps a simulator's WSGI app and records each exchange so
a fixture can check them all at teardown with `check_exchanges`.
"""
from __future__ import annotations

import copy
import functools
import io
import json
import pathlib
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable

import pytest

from portal.devstack.gitea_git import is_git_path

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONTRACTS_DIR = ROOT.parent / "shared" / "contracts"
SPEC_FILES = {"coder": "coder-v2-swagger.json", "gitea": "gitea-v1-swagger.json"}
# Health endpoints live outside the API base path and outside the swagger files.
HEALTH_PATHS = {"coder": frozenset({"/healthz"}), "gitea": frozenset({"/api/healthz"})}
# A simulator sets this response header when a test asked it to misbehave
# (malformed JSON, injected 500/429...). Such exchanges are not contract checked.
FAULT_HEADER = "X-Devstack-Fault"
# Control endpoints of the simulators, never part of a contract.
SIM_CONTROL_PREFIX = "/__sim/"

CONTRACTS_AVAILABLE = all((CONTRACTS_DIR / name).is_file() for name in SPEC_FILES.values())
requires_contracts = pytest.mark.skipif(
    not CONTRACTS_AVAILABLE,
    reason=f"swagger contracts not found in {CONTRACTS_DIR} (the shared/contracts folder beside the repo)")

_JSON_TYPES = {"object", "array", "string", "integer", "number", "boolean", "null"}


class ContractViolation(AssertionError):
    """An exchange does not match the real server's documented API."""


@dataclass(frozen=True)
class Operation:
    """One swagger operation matched for a concrete path."""

    spec: str
    template: str           # e.g. "/teams/{id}/members/{username}"; health paths as given
    method: str             # lower case
    definition: dict = field(repr=False, hash=False, compare=False)
    pointer: str = ""       # JSON pointer of the operation inside the document

    @property
    def is_health(self) -> bool:
        return self.template in HEALTH_PATHS[self.spec]


# -- loading -----------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def load_spec(spec: str) -> dict:
    """The swagger document of `spec` ("coder" or "gitea"), made Go-lenient (see module doc)."""
    if spec not in SPEC_FILES:
        raise ValueError(f"unknown spec {spec!r}; expected one of {sorted(SPEC_FILES)}")
    path = CONTRACTS_DIR / SPEC_FILES[spec]
    if not path.is_file():
        pytest.skip(f"swagger contract {path} not available")
    with path.open(encoding="utf-8") as fh:
        doc = json.load(fh)
    return _lenient(copy.deepcopy(doc))


def _lenient(node: Any) -> Any:
    """Rewrite swagger schemas so they accept what a Go server accepts/emits.

    Only dicts whose "type" is a string (or list) are schemas; a property that is
    itself *named* "type" has a dict value and is left alone.
    """
    if isinstance(node, list):
        return [_lenient(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _lenient(value) for key, value in node.items()}
    kind = out.get("type")
    if isinstance(kind, (str, list)):
        kinds = [kind] if isinstance(kind, str) else list(kind)
        kinds = [k for k in kinds if k in _JSON_TYPES]  # swagger's "file" is not JSON
        if not kinds:
            del out["type"]
        else:
            out["type"] = sorted(set(kinds) | {"null"})
    if isinstance(out.get("enum"), list) and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    return out


@functools.lru_cache(maxsize=None)
def _registry_and_uri(spec: str):
    from referencing import Registry
    from referencing.jsonschema import DRAFT4

    uri = f"urn:portal-contract:{spec}"
    resource = DRAFT4.create_resource(load_spec(spec))
    return Registry().with_resource(uri, resource), uri


@functools.lru_cache(maxsize=None)
def _templates(spec: str) -> list[tuple[tuple, str, re.Pattern]]:
    """Path templates as regexes, most specific first (literal segments beat parameters)."""
    doc = load_spec(spec)
    compiled = []
    for template, item in doc["paths"].items():
        int_params = set()
        for op in [item] + [v for v in item.values() if isinstance(v, dict)]:
            for param in op.get("parameters", []) if isinstance(op.get("parameters"), list) else []:
                if param.get("in") == "path" and "integer" in _types(param):
                    int_params.add(param.get("name"))
        parts, specificity = [], []
        for segment in template.strip("/").split("/"):
            regex_segment = ""
            for piece in re.split(r"(\{[^}]+\})", segment):
                if piece.startswith("{") and piece.endswith("}"):
                    name = piece[1:-1]
                    regex_segment += r"-?\d+" if name in int_params else r"[^/]+"
                else:
                    regex_segment += re.escape(piece)
            parts.append(regex_segment)
            specificity.append(1 if "{" in segment else 0)
        pattern = re.compile("^/" + "/".join(parts) + "$") if parts != [""] else re.compile("^/$")
        compiled.append((tuple(specificity), template, pattern))
    compiled.sort(key=lambda entry: (entry[0], entry[1]))
    return compiled


def _types(schema: dict) -> list[str]:
    kind = schema.get("type")
    return [kind] if isinstance(kind, str) else list(kind or [])


def _strip(spec: str, path: str) -> str:
    path = path.split("?", 1)[0].split("#", 1)[0] or "/"
    base = load_spec(spec).get("basePath", "").rstrip("/")
    if base and (path == base or path.startswith(base + "/")):
        path = path[len(base):] or "/"
    return path


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


# -- matching ----------------------------------------------------------------------------
def match_operation(spec: str, method: str, path: str) -> Operation:
    """The swagger operation serving `method path` (path with or without the basePath)."""
    method = method.lower()
    raw = path.split("?", 1)[0]
    if raw in HEALTH_PATHS[spec]:
        return Operation(spec, raw, method, {}, "")
    relative = _strip(spec, path)
    doc = load_spec(spec)
    for _specificity, template, pattern in _templates(spec):
        if pattern.match(relative):
            item = doc["paths"][template]
            if method not in item:
                allowed = sorted(k.upper() for k in item if k in
                                 {"get", "put", "post", "delete", "patch", "head", "options"})
                raise ContractViolation(
                    f"{spec}: {method.upper()} {path}: path matches {template} which only "
                    f"allows {', '.join(allowed)}")
            return Operation(spec, template, method, item[method],
                             f"/paths/{_escape(template)}/{method}")
    raise ContractViolation(f"{spec}: {method.upper()} {path}: no such path in the contract")


def _validate(spec: str, pointer: str, instance: Any, what: str) -> None:
    from jsonschema import Draft4Validator

    registry, uri = _registry_and_uri(spec)
    validator = Draft4Validator({"$ref": f"{uri}#{pointer}"}, registry=registry)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors[:5]]
        raise ContractViolation(f"{spec}: {what} does not match the contract:\n" + "\n".join(lines))


# -- public checks -----------------------------------------------------------------------
def check_request(spec: str, method: str, path: str, body: Any = None) -> Operation:
    """Raise ContractViolation unless `method path` exists and `body` fits its body parameter.

    `body` is the decoded JSON body, or None when the request had none.
    """
    op = match_operation(spec, method, path)
    if op.is_health:
        return op
    params = list(op.definition.get("parameters", []))
    body_params = [(i, p) for i, p in enumerate(params) if p.get("in") == "body"]
    what = f"{method.upper()} {path} request body"
    if body is None:
        if body_params and body_params[0][1].get("required"):
            raise ContractViolation(f"{spec}: {what} is required ({op.template})")
        return op
    if not body_params:
        raise ContractViolation(f"{spec}: {method.upper()} {path} takes no body ({op.template})")
    index, param = body_params[0]
    if "schema" in param:
        _validate(spec, f"{op.pointer}/parameters/{index}/schema", body, what)
    return op


def check_response(spec: str, method: str, path: str, status: int, body: Any = None) -> Operation:
    """Raise ContractViolation unless a documented reply schema for `status` accepts `body`.

    Statuses the contract doesn't document, and replies without a schema, pass:
    the swagger files under-document errors (see NOTES.md for the real ones).
    """
    op = match_operation(spec, method, path)
    if op.is_health:
        return op
    responses = op.definition.get("responses", {})
    key = str(status) if str(status) in responses else ("default" if "default" in responses else None)
    if key is None:
        return op
    pointer = f"{op.pointer}/responses/{key}"
    response = responses[key]
    doc = load_spec(spec)
    if "$ref" in response:  # Gitea: "#/responses/Repository"
        ref = response["$ref"]
        if not ref.startswith("#/responses/"):
            raise ContractViolation(f"{spec}: unsupported response reference {ref}")
        name = ref[len("#/responses/"):]
        response = doc.get("responses", {}).get(name, {})
        pointer = f"/responses/{_escape(name)}"
    if "schema" not in response:
        return op
    what = f"{method.upper()} {path} reply {status}"
    if body is None:
        if 200 <= status < 300:
            raise ContractViolation(f"{spec}: {what} should be JSON per the contract, got none")
        return op
    _validate(spec, f"{pointer}/schema", body, what)
    return op


# -- recording ---------------------------------------------------------------------------
@dataclass
class Exchange:
    """One request/response through a simulator, as seen on the wire."""

    method: str
    path: str
    query: str
    body: Any              # decoded JSON request body, or None
    status: int
    reply: Any             # decoded JSON reply, or None
    reply_headers: dict[str, str]
    raw_body: bytes = b""
    raw_reply: bytes = b""

    @property
    def faulted(self) -> bool:
        """The simulator was told to misbehave for this reply."""
        return FAULT_HEADER.lower() in {k.lower() for k in self.reply_headers}

    @property
    def is_control(self) -> bool:
        return self.path.startswith(SIM_CONTROL_PREFIX)

    @property
    def is_git(self) -> bool:
        """git's smart HTTP protocol, which no swagger file describes."""
        return is_git_path(self.path)


def _decode(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


class RecordingMiddleware:
    """WSGI middleware recording every exchange with the wrapped simulator.

    JSON replies are buffered so they can be decoded; anything else streams
    through untouched and is recorded with `reply=None`.
    """

    def __init__(self, app):
        self.app = app
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()

    def __getattr__(self, name: str):  # expose the wrapped app's attributes (e.g. .sim)
        return getattr(self.app, name)

    def clear(self) -> None:
        with self._lock:
            self.exchanges.clear()

    def __call__(self, environ: dict, start_response):
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if environ.get("wsgi.input_terminated") and not environ.get("CONTENT_LENGTH"):
            raw_body = environ["wsgi.input"].read()  # a chunked body (a large git push)
        else:
            raw_body = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(raw_body)
        environ["CONTENT_LENGTH"] = str(len(raw_body))
        captured: dict[str, Any] = {}

        def recording_start_response(status, headers, exc_info=None):
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = {k: v for k, v in headers}
            return start_response(status, headers, exc_info)

        result = self.app(environ, recording_start_response)

        def record(raw_reply: bytes, reply: Any) -> None:
            exchange = Exchange(
                method=environ.get("REQUEST_METHOD", "GET").upper(),
                path=environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
                query=environ.get("QUERY_STRING", ""),
                body=_decode(raw_body), status=captured.get("status", 0), reply=reply,
                reply_headers=captured.get("headers", {}), raw_body=raw_body,
                raw_reply=raw_reply)
            with self._lock:
                self.exchanges.append(exchange)

        content_type = {k.lower(): v for k, v in captured.get("headers", {}).items()}.get(
            "content-type", "")
        if "status" in captured and "json" in content_type:
            try:
                data = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
            record(data, _decode(data))
            return [data]
        return _RecordOnClose(result, lambda: record(b"", None))


class _RecordOnClose:
    """Streams a non-JSON reply and records the exchange when the server closes it."""

    def __init__(self, result: Iterable[bytes], on_close):
        self._result = result
        self._on_close = on_close

    def __iter__(self):
        return iter(self._result)

    def close(self) -> None:
        try:
            if hasattr(self._result, "close"):
                self._result.close()
        finally:
            self._on_close()


def check_exchange(spec: str, exchange: Exchange) -> None:
    """check_request + check_response for one recorded exchange (faults and control skipped)."""
    if exchange.faulted or exchange.is_control or exchange.is_git:
        return
    path = exchange.path + (f"?{exchange.query}" if exchange.query else "")
    check_request(spec, exchange.method, path, exchange.body)
    check_response(spec, exchange.method, path, exchange.status, exchange.reply)


def check_exchanges(spec: str, exchanges: Iterable[Exchange]) -> None:
    """Check every exchange; report all violations at once."""
    problems = []
    for exchange in list(exchanges):
        try:
            check_exchange(spec, exchange)
        except ContractViolation as exc:
            problems.append(str(exc))
    if problems:
        raise ContractViolation(f"{len(problems)} exchange(s) break the {spec} contract:\n"
                                + "\n".join(problems))
