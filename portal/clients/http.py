"""One HTTP session per outside system.

`ServiceClient` wraps a `requests.Session` with the service's base URL, its
auth header, connect/read timeouts, bounded retries of idempotent requests and
typed errors. Nothing here knows about Flask; tokens never reach a log line or
an exception message.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import requests
from requests.adapters import HTTPAdapter

from portal.observability import context, metrics
from portal.observability.operations import operation

log = logging.getLogger(__name__)

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})


class ServiceError(Exception):
    """A call to an outside service failed. Carries no credentials."""

    status: int | None = None

    def __init__(self, service: str, method: str, path: str, message: str,
                 status: int | None = None, detail: Any = None):
        self.service = service
        self.method = method
        self.path = path
        self.message = message
        if status is not None:
            self.status = status
        self.detail = detail
        super().__init__(f"{service}: {method} {path} failed: {message}")

    @property
    def user_message(self) -> str:
        """A sentence a person can read; no paths, no secrets."""
        return f"{self.service.capitalize()} answered: {self.message}"


class BadRequest(ServiceError):
    """400/422: the server refused the request body or parameters."""


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class Unauthorized(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403


class RateLimited(ServiceError):
    status = 429

    def __init__(self, *args, retry_after: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class ServiceUnavailable(ServiceError):
    """Down, timed out, or answering 5xx."""

    @property
    def user_message(self) -> str:
        return f"{self.service.capitalize()} is not reachable right now ({self.message})."


class ServerError(ServiceUnavailable):
    """A 500 (or other 5xx that was not retried)."""


class BadResponse(ServiceError):
    """The reply was not JSON, or JSON of the wrong shape."""


_BY_STATUS = {401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
              400: BadRequest, 422: BadRequest}


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # HTTP-date form: treat as unknown


@dataclass
class CallRecord:
    service: str
    method: str
    path: str
    status: int | None
    seconds: float


# Observers of every outbound call (benchmarks and tests count calls here).
call_listeners: list[Callable[[CallRecord], None]] = []


@dataclass
class ServiceClient:
    """One outside service: base URL + auth + timeouts + retries + typed errors."""

    service: str
    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    retries: int = 2
    backoff: float = 0.2
    max_retry_after: float = 5.0
    session: requests.Session | None = None

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        if self.session is None:
            self.session = requests.Session()
            self.session.trust_env = False  # no proxies from the environment on a LAN
        # Keep a connection per thread that may call at once (request and pass threads), so
        # that none is opened and closed per call under load.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=32)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(self.headers)
        self.session.headers.setdefault("Accept", "application/json")
        self.session.headers.setdefault("User-Agent", "portal/0.1")

    # -- low level -----------------------------------------------------------------
    def request(self, method: str, path: str, *, params: dict | None = None,
                json: Any = None, headers: dict | None = None, auth: Any = None,
                allow_redirects: bool = False, ok: Iterable[int] | None = None,
                timeout: tuple[float, float] | None = None) -> requests.Response:
        """Send one request; return the response when its status is 2xx/3xx (or in `ok`).

        Retries idempotent requests on connection errors, timeouts, 429 and
        502/503/504, with exponential backoff and a bounded Retry-After.
        """
        method = method.upper()
        url = self.base_url + path
        attempts = 1 + (self.retries if method in IDEMPOTENT else 0)
        timeout = timeout or (self.connect_timeout, self.read_timeout)
        ok_set = set(ok) if ok is not None else None
        last: ServiceError | None = None
        # The page request's id (or the pass's), so the servers' logs can be matched with ours.
        request_id = context.outbound_request_id()
        for attempt in range(attempts):
            send_headers = {context.HEADER: request_id, **(headers or {})}
            started = time.monotonic()
            try:
                resp = self.session.request(method, url, params=params, json=json,
                                            headers=send_headers, auth=auth, timeout=timeout,
                                            allow_redirects=allow_redirects)
            except requests.Timeout:
                last = ServiceUnavailable(self.service, method, path, "timed out")
                self._record(method, path, None, started, request_id, timed_out=True)
            except requests.RequestException as exc:
                last = ServiceUnavailable(self.service, method, path,
                                          f"connection failed ({type(exc).__name__})")
                self._record(method, path, None, started, request_id)
            else:
                self._record(method, path, resp.status_code, started, request_id,
                             upstream_id=resp.headers.get("X-Coder-Request-Id"))
                if ok_set is not None and resp.status_code in ok_set:
                    return resp
                if resp.status_code < 400 and ok_set is None:
                    return resp
                last = self._error(method, path, resp)
                if resp.status_code not in RETRY_STATUSES:
                    raise last
            if attempt + 1 < attempts:
                delay = self.backoff * (2 ** attempt)
                if isinstance(last, RateLimited) and last.retry_after is not None:
                    if last.retry_after > self.max_retry_after:
                        break
                    delay = max(delay, last.retry_after)
                metrics.outbound_retry(self.service, operation(method, path))
                time.sleep(delay)
        assert last is not None
        raise last

    def json(self, method: str, path: str, *, expect: type | tuple = (dict, list), **kwargs) -> Any:
        """Send a request and return its JSON body, checked to be of type `expect`."""
        resp = self.request(method, path, **kwargs)
        return self.decode(resp, method, path, expect)

    def decode(self, resp: requests.Response, method: str, path: str,
               expect: type | tuple = (dict, list)) -> Any:
        try:
            body = resp.json()
        except ValueError:
            raise BadResponse(self.service, method, path, "reply is not JSON",
                              status=resp.status_code) from None
        if not isinstance(body, expect):
            raise BadResponse(self.service, method, path,
                              f"reply is {type(body).__name__}, expected {_names(expect)}",
                              status=resp.status_code)
        return body

    def field(self, body: Any, key: str, kind: type | tuple, method: str, path: str) -> Any:
        """body[key] checked for presence and type, else BadResponse."""
        return checked_field(self.service, body, key, kind, method, path)

    # -- helpers -------------------------------------------------------------------
    def _error(self, method: str, path: str, resp: requests.Response) -> ServiceError:
        message, detail = _server_message(resp)
        status = resp.status_code
        if status == 429:
            return RateLimited(self.service, method, path, message or "rate limited",
                               status=status, detail=detail,
                               retry_after=_retry_after(resp.headers.get("Retry-After")))
        if status >= 500:
            cls = ServiceUnavailable if status in RETRY_STATUSES else ServerError
            return cls(self.service, method, path, message or f"HTTP {status}",
                       status=status, detail=detail)
        cls = _BY_STATUS.get(status, ServiceError)
        return cls(self.service, method, path, message or f"HTTP {status}",
                   status=status, detail=detail)

    def _record(self, method: str, path: str, status: int | None, started: float,
                request_id: str, timed_out: bool = False, upstream_id: str | None = None) -> None:
        seconds = time.monotonic() - started
        log.debug("%s %s %s -> %s in %.3fs (request %s%s)", self.service, method, path,
                  status if status is not None else "no reply", seconds, request_id,
                  f", {self.service} request {upstream_id[:40]!r}" if upstream_id else "")
        metrics.outbound_call(self.service, operation(method, path),
                              metrics.outcome_of(status, timed_out), seconds)
        record = CallRecord(self.service, method, path, status, seconds)
        for listener in list(call_listeners):
            listener(record)


def checked_field(service: str, body: Any, key: str, kind: type | tuple, method: str,
                  path: str) -> Any:
    """body[key] checked for presence and type, else BadResponse (a reply of `service`)."""
    if not isinstance(body, dict) or key not in body or not isinstance(body[key], kind):
        raise BadResponse(service, method, path,
                          f"reply lacks field '{key}' of type {_names(kind)}")
    return body[key]


def _names(kind: type | tuple) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def _server_message(resp: requests.Response) -> tuple[str, Any]:
    """The server's own error message (Coder: message/detail/validations; Gitea: message)."""
    try:
        body = resp.json()
    except ValueError:
        text = (resp.text or "").strip().splitlines()
        return (text[0][:200] if text else ""), None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):  # LiteLLM: {"error": {"message", "type", "param", "code"}}
            error = error.get("message")
        message = str(body.get("message") or error or "")[:300]
        detail = {k: body[k] for k in ("detail", "validations", "errors") if body.get(k)}
        if body.get("detail") and isinstance(body["detail"], str):
            message = f"{message}: {body['detail'][:200]}" if message else body["detail"][:200]
        return message, detail or None
    return "", None
