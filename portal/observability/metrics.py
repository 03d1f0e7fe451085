"""The portal's Prometheus metrics and the small functions that record them.

Metric objects live in prometheus_client's default registry (one process) or, when
PROMETHEUS_MULTIPROC_DIR is set before the portal starts (gunicorn with several workers,
gunicorn_conf.py), in that directory's files, which `GET /metrics` merges. Labels are
bounded: route names, stage names, service names, operation templates; never a raw path,
a name or an id. Nothing here knows about Flask.
"""
from __future__ import annotations

import socket
import time

from prometheus_client import Counter, Histogram

# Seconds: from a poll's few milliseconds to a first build of several minutes.
FAST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SLOW_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0)
IDE_KINDS = ("first_build", "start", "running")  # what the person waited for, worst first
# PORTAL_METRICS=0 turns recording off in this process (create_app calls enable()); the
# objects stay, so code that records never has to ask.
enabled = True


def enable(flag: bool) -> None:
    global enabled
    enabled = flag

HTTP_REQUESTS = Counter("portal_http_requests", "HTTP requests served, by route name and status.",
                        ["endpoint", "method", "status"])
HTTP_LATENCY = Histogram("portal_http_request_duration_seconds",
                         "Time to serve an HTTP request, by route name.",
                         ["endpoint", "method"], buckets=FAST_BUCKETS)
TIME_TO_IDE = Histogram("portal_time_to_ide_seconds",
                        "From the recorded intent (Code tab opened) to the IDE iframe served, by "
                        "what had to happen: first_build, start (stopped workspace), running.",
                        ["kind"], buckets=SLOW_BUCKETS)
STAGE_DURATION = Histogram("portal_stage_duration_seconds",
                           "Time a workspace spent in a provisioning stage before leaving it.",
                           ["stage"], buckets=SLOW_BUCKETS)
STAGE_FAILURES = Counter("portal_stage_failures",
                         "Provisioning trouble by stage and reason class (transient included).",
                         ["stage", "reason"])
OUTBOUND_CALLS = Counter("portal_outbound_requests",
                         "Calls to outside systems by service, operation and outcome.",
                         ["service", "operation", "outcome"])
OUTBOUND_LATENCY = Histogram("portal_outbound_request_duration_seconds",
                             "Duration of one attempt of an outbound call.",
                             ["service", "operation"], buckets=FAST_BUCKETS)
OUTBOUND_RETRIES = Counter("portal_outbound_retries", "Outbound attempts repeated after a failure.",
                           ["service", "operation"])
PASS_DURATION = Histogram("portal_pass_duration_seconds",
                          "Duration of one reconcile pass, by how it ended.", ["outcome"],
                          buckets=FAST_BUCKETS)
JOBS = Counter("portal_jobs", "Worker jobs run, by kind and outcome.", ["kind", "outcome"])
JOB_DURATION = Histogram("portal_job_duration_seconds", "Duration of one worker job, by kind.",
                         ["kind"], buckets=SLOW_BUCKETS)


def http_request(endpoint: str | None, method: str, status: int, seconds: float) -> None:
    if not enabled:
        return
    name = endpoint or "unmatched"  # a 404 for an unknown path: one series, whatever the path
    HTTP_REQUESTS.labels(name, method, str(status)).inc()
    HTTP_LATENCY.labels(name, method).observe(seconds)


def outcome_of(status: int | None, timed_out: bool = False) -> str:
    """The outcome label of one outbound attempt."""
    if status is None:
        return "timeout" if timed_out else "unreachable"
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    if status >= 400:
        return "client_error"
    return "ok"


def outbound_call(service: str, operation: str, outcome: str, seconds: float) -> None:
    if not enabled:
        return
    OUTBOUND_CALLS.labels(service, operation, outcome).inc()
    OUTBOUND_LATENCY.labels(service, operation).observe(seconds)


def outbound_retry(service: str, operation: str) -> None:
    if not enabled:
        return
    OUTBOUND_RETRIES.labels(service, operation).inc()


class timed_call:
    """`with timed_call("smtp", "send"):` records one outbound call of a client that does not
    go through ServiceClient (SMTP): outcome ok, timeout, unreachable or error."""

    def __init__(self, service: str, operation: str):
        self.service, self.operation = service, operation

    def __enter__(self) -> "timed_call":
        self.started = time.perf_counter()
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if kind is None:
            outcome = "ok"
        elif isinstance(exc, TimeoutError):
            outcome = "timeout"
        elif isinstance(exc, (ConnectionError, socket.gaierror)):
            outcome = "unreachable"
        else:  # refused by the server (smtplib's errors), TLS trouble
            outcome = "error"
        outbound_call(self.service, self.operation, outcome, time.perf_counter() - self.started)


def time_to_ide(kind: str, seconds: float) -> None:
    if not enabled:
        return
    TIME_TO_IDE.labels(kind if kind in IDE_KINDS else "running").observe(max(0.0, seconds))


def stage_finished(stage: str, seconds: float | None) -> None:
    """A workspace left `stage` after `seconds` in it (None: start unknown, not observed)."""
    if not enabled:
        return
    if seconds is not None and seconds >= 0:
        STAGE_DURATION.labels(stage).observe(seconds)


def stage_left(stage: str, started_at) -> None:
    """`stage_finished` from the stage's start time (a datetime; naive ones are UTC)."""
    if not enabled or started_at is None:
        return
    import datetime as dt
    if started_at.tzinfo is None:
        started_at = started_at.replace(tzinfo=dt.timezone.utc)
    stage_finished(stage, (dt.datetime.now(dt.timezone.utc) - started_at).total_seconds())


def timed_pass(reconcile, *args):
    """Run one reconcile pass and observe its duration by how it ended."""
    started = time.perf_counter()
    try:
        status = reconcile(*args)
    except Exception:
        pass_finished("error", time.perf_counter() - started)  # a bug: the runner logs it
        raise
    if status is not None:
        outcome = ("ready" if status.ready else "failed" if status.failed else
                   "transient" if status.transient else "progress")
        pass_finished(outcome, time.perf_counter() - started)
    return status


def stage_failed(stage: str | None, reason: str) -> None:
    if not enabled:
        return
    STAGE_FAILURES.labels(stage or "unknown", reason).inc()


def reason_class(exc: BaseException) -> str:
    """A bounded reason for a failed pass: the kind of trouble, not its message."""
    from portal.clients import http
    classes = ((http.RateLimited, "rate_limited"), (http.ServiceUnavailable, "unavailable"),
               (http.Unauthorized, "unauthorized"), (http.BadResponse, "bad_response"),
               (http.Forbidden, "forbidden"), (http.NotFound, "not_found"),
               (http.Conflict, "conflict"), (http.BadRequest, "refused"),
               (http.ServiceError, "refused"))
    for cls, name in classes:
        if isinstance(exc, cls):
            return name
    return "provisioning"  # the portal's own verdict: a failed build, a timeout, a conflict


def pass_finished(outcome: str, seconds: float) -> None:
    if not enabled:
        return
    PASS_DURATION.labels(outcome).observe(seconds)


def job_finished(kind: str, outcome: str, seconds: float) -> None:
    """For the worker: one job of `kind` ended with `outcome` (ok, retry, failed...)."""
    if not enabled:
        return
    JOBS.labels(kind, outcome).inc()
    JOB_DURATION.labels(kind).observe(seconds)

