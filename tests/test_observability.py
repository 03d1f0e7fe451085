"""GET /metrics and what moves it: access rules, the exposition format, a Code tab open."""
from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.app import dev_sign_in
from tests.observability_helpers import calls_by_operation, delta, scrape, total
from tests.test_code_tab import create_project, csrf, open_code, stop_and_wait

TOKEN = "metrics-token-0123456789abcdef"
FAMILIES = {"portal_http_requests", "portal_http_request_duration_seconds",
            "portal_time_to_ide_seconds", "portal_stage_duration_seconds",
            "portal_stage_failures", "portal_outbound_requests",
            "portal_outbound_request_duration_seconds", "portal_outbound_retries",
            "portal_pass_duration_seconds", "portal_jobs", "portal_job_duration_seconds",
            "portal_worker_last_sweep_timestamp_seconds", "portal_people_signed_in_24h",
            "portal_groups", "portal_projects", "portal_workspaces"}


def test_exposition_parses_and_names_every_family(stack, worker):
    client = stack.app.test_client()
    dev_sign_in(client, "ada@example.com")
    create_project(client)
    resp = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
    assert resp.headers["Cache-Control"] == "no-store"
    families = {f.name: f for f in text_string_to_metric_families(resp.get_data(as_text=True))}
    # portal_workspaces needs a workspace; the last sweep needs a worker that has swept
    # (tests/platform/test_observability_stack.py registers a probe that reports one).
    assert FAMILIES - {"portal_workspaces", "portal_worker_last_sweep_timestamp_seconds"} \
        <= set(families)
    samples = scrape(client)
    assert total(samples, "portal_groups") == 1 and total(samples, "portal_projects") == 1
    assert total(samples, "portal_people_signed_in_24h") == 1
    # route names, never raw paths
    endpoints = {dict(labels)["endpoint"] for name, labels in samples
                 if name == "portal_http_requests_total"}
    assert "groups.create" in endpoints or "groups.new" in endpoints
    assert not any("/" in e for e in endpoints)


@pytest.mark.parametrize("address, authorization, expected", [
    ("127.0.0.1", None, 200),
    ("::1", None, 200),
    ("10.0.0.5", None, 403),
    ("192.168.1.7", None, 403),
    ("10.0.0.5", f"Bearer {TOKEN}", 200),
    ("10.0.0.5", "Bearer wrong-token-0123456789ab", 401),
    ("127.0.0.1", "Bearer wrong-token-0123456789ab", 401),  # a wrong token is never ignored
    ("10.0.0.5", f"Basic {TOKEN}", 401),
    ("10.0.0.5", "Bearer", 401),
])
def test_metrics_access(make_app, address, authorization, expected):
    client = make_app(PORTAL_METRICS_TOKEN=TOKEN).test_client()
    headers = {"Authorization": authorization} if authorization else {}
    resp = client.get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": address})
    assert resp.status_code == expected
    body = resp.get_data(as_text=True)
    assert ("portal_http_requests" in body) == (expected == 200)
    assert TOKEN not in body


@pytest.mark.parametrize("address, expected", [("10.1.2.3", 200), ("127.0.0.1", 403),
                                               ("fd00::5", 200), ("not-an-ip", 403)])
def test_metrics_allow_list(make_app, address, expected):
    client = make_app(PORTAL_METRICS_ALLOW="10.0.0.0/8, fd00::/8").test_client()
    resp = client.get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert resp.status_code == expected
    assert ("portal_http_requests" in resp.get_data(as_text=True)) == (expected == 200)


def test_a_token_is_refused_when_none_is_configured(make_app):
    client = make_app().test_client()
    resp = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"},
                      environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert resp.status_code == 401 and "portal_http_requests" not in resp.get_data(as_text=True)


def test_metrics_off(make_app):
    client = make_app(PORTAL_METRICS="0").test_client()
    try:
        resp = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
        assert resp.status_code == 404 and "portal_http_requests" not in resp.get_data(as_text=True)
    finally:
        make_app()  # back on for the tests that follow in this process


def _sim_calls(stack):
    return (calls_by_operation(stack.coder.recorder.exchanges),
            calls_by_operation(stack.gitea.exchanges))


def _check_outbound(stack, before, after, calls_before):
    """The outbound counters moved by exactly the requests each simulator received."""
    calls_after = _sim_calls(stack)
    for service, old, new in (("coder", calls_before[0], calls_after[0]),
                              ("gitea", calls_before[1], calls_after[1])):
        received = new - old
        for op, count in received.items():
            assert delta(before, after, "portal_outbound_requests_total", service=service,
                         operation=op) == count, (service, op)
            assert delta(before, after, "portal_outbound_request_duration_seconds_count",
                         service=service, operation=op) == count
        assert delta(before, after, "portal_outbound_requests_total",
                     service=service) == sum(received.values())


def _open_and_measure(stack, client, pid, kind):
    """Open the Code tab to the IDE; one time-to-IDE observation of `kind`, and the outbound
    counters moved by what the simulators received. Returns (before, after)."""
    before, calls = scrape(client), _sim_calls(stack)
    body, stages = open_code(client, pid)
    after = scrape(client)
    assert stages[-1] == "ready"
    assert delta(before, after, "portal_time_to_ide_seconds_count", kind=kind) == 1
    assert delta(before, after, "portal_time_to_ide_seconds_count") == 1
    _check_outbound(stack, before, after, calls)
    return before, after


def test_code_tab_opens_move_time_to_ide_and_outbound_counters(stack, worker):
    client = stack.app.test_client()
    dev_sign_in(client, "ada@example.com")
    _, pid = create_project(client)

    before, after = _open_and_measure(stack, client, pid, "first_build")
    assert delta(before, after, "portal_time_to_ide_seconds_sum", kind="first_build") > 0
    assert delta(before, after, "portal_stage_duration_seconds_count", stage="building") == 1
    # The worker's passes do the portal's steps and the create; its tick sees the build end.
    assert delta(before, after, "portal_pass_duration_seconds_count") >= 1
    assert delta(before, after, "portal_outbound_requests_total", service="gitea") > 0

    # Open again while it runs: the workspace is already running; only the hand-off is asked.
    before, after = _open_and_measure(stack, client, pid, "running")
    assert delta(before, after, "portal_outbound_requests_total", service="coder",
                 operation="GET /applications/auth-redirect") == 1

    # Stop it, then open: a start.
    stop_and_wait(client, stack.coder, pid)
    before, after = _open_and_measure(stack, client, pid, "start")
    assert delta(before, after, "portal_outbound_requests_total", service="coder",
                 operation="POST /workspaces/{}/builds") == 1


def test_unavailable_coder_counts_a_stage_failure_and_retries(stack, worker):
    client = stack.app.test_client()
    dev_sign_in(client, "ada@example.com")
    _, pid = create_project(client)
    open_code(client, pid)
    stack.coder.sim.set_faults(status_override={"status": 503})
    before = scrape(client)
    headers = {"HX-Request": "true", "X-CSRFToken": csrf(client)}
    body = client.post(f"/projects/{pid}/code/open", headers=headers).get_data(as_text=True)
    deadline = time.monotonic() + 15  # the worker's pass meets the fault; the poll shows it
    while "not reachable" not in body and time.monotonic() < deadline:
        time.sleep(0.1)
        body = client.get(f"/projects/{pid}/code/status", headers=headers).get_data(as_text=True)
    after = scrape(client)
    stack.coder.sim.reset_faults()
    assert "not reachable" in body
    assert delta(before, after, "portal_stage_failures_total", reason="unavailable") >= 1
    assert delta(before, after, "portal_outbound_retries_total", service="coder") >= 2
    assert delta(before, after, "portal_outbound_requests_total", service="coder",
                 outcome="server_error") >= 3
    assert delta(before, after, "portal_time_to_ide_seconds_count") == 0


def test_http_requests_by_route_and_status(stack):
    client = stack.app.test_client()
    before = scrape(client)
    client.get("/healthz")
    client.get("/no/such/page/42")
    client.get("/no/such/page/43")
    after = scrape(client)
    assert delta(before, after, "portal_http_requests_total", endpoint="health.healthz",
                 status="200") == 1
    assert delta(before, after, "portal_http_requests_total", endpoint="unmatched",
                 status="404") == 2
    assert delta(before, after, "portal_http_request_duration_seconds_count",
                 endpoint="health.healthz") == 1


def test_an_oidc_sign_in_counts_each_call_to_the_provider(make_app):
    from tests.faults import RunningIdp, oidc_sign_in
    idp = RunningIdp()
    try:
        client = make_app(**idp.env()).test_client()
        before = scrape(client)
        assert oidc_sign_in(client, idp.idp, "ada@example.com").status_code == 302
        after = scrape(client)
        idp.wsgi.fault = "500"
        assert oidc_sign_in(make_app(**idp.env()).test_client(), idp.idp,
                            "bob@example.com").status_code >= 400
        failed = scrape(client)
    finally:
        idp.stop()
    operations = ("discovery", "token", "jwks", "userinfo")
    assert {operation: delta(before, after, "portal_outbound_requests_total", service="oidc",
                             operation=operation, outcome="ok")
            for operation in operations} == dict.fromkeys(operations, 1)
    assert delta(after, failed, "portal_outbound_requests_total", service="oidc",
                 outcome="server_error") >= 1


def test_an_email_to_an_unreachable_server_counts(make_app):
    import socket

    from portal import mail
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make_app().test_client()
    before = scrape(client)
    reason = mail.send(f"smtp://127.0.0.1:{port}", "ada@example.com", "Hello", "Body", timeout=2)
    after = scrape(client)
    assert reason and "could not be sent" in reason
    assert delta(before, after, "portal_outbound_requests_total", service="smtp",
                 operation="send", outcome="unreachable") == 1
