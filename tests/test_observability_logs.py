"""Request ids and structured logs: generated or taken from a trusted proxy, returned, sent to
Coder and Gitea and found in the simulators' logs; JSON lines with the documented fields."""
from __future__ import annotations

import io
import json
import logging

import pytest

from portal.observability import logs
from tests.fixtures.app import dev_sign_in
from tests.test_code_tab import create_project, csrf, open_code

OIDC = {"PORTAL_DEV": "0", "OIDC_ISSUER": "http://127.0.0.1:9/application/o/portal/",
        "OIDC_CLIENT_ID": "portal", "OIDC_CLIENT_SECRET": "oidc-client-secret-for-tests"}


def _sim_lines(caplog, name: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == f"portal.devstack.{name}"]


def test_request_id_reaches_the_simulators_logs(stack, caplog, worker):
    """The open's id travels with its job: the worker's calls to Gitea carry it; a poll's
    hand-off to Coder carries the poll's own id."""
    caplog.set_level(logging.INFO, logger="portal.devstack")
    client = stack.app.test_client()
    dev_sign_in(client, "ada@example.com")
    _, pid = create_project(client)
    headers = {"HX-Request": "true", "X-CSRFToken": csrf(client, f"/projects/{pid}/code")}

    caplog.clear()
    opened = client.post(f"/projects/{pid}/code/open", headers=headers)
    rid = opened.headers["X-Request-ID"]
    body, stages = open_code(client, pid)
    assert stages[-1] == "ready", body[:300]
    gitea = _sim_lines(caplog, "gitea")
    assert any(line.endswith(f"request_id={rid}") for line in gitea), gitea[:5]

    caplog.clear()
    polled = client.get(f"/projects/{pid}/code/status", headers=headers)
    poll_id = polled.headers["X-Request-ID"]
    assert poll_id != rid
    coder = [line for line in _sim_lines(caplog, "coder") if "auth-redirect" in line]
    assert coder and all(line.endswith(f"x_request_id={poll_id}") for line in coder)


@pytest.mark.parametrize("env, sent, trusted", [
    ({**OIDC, "PORTAL_BEHIND_PROXY": "1"}, "proxy-id-123", True),
    ({**OIDC, "PORTAL_BEHIND_PROXY": "1"}, "bad id with spaces", False),
    ({**OIDC, "PORTAL_BEHIND_PROXY": "1"}, "x" * 65, False),
    (OIDC, "proxy-id-123", False),                          # no trusted proxy
    ({"PORTAL_BEHIND_PROXY": "1"}, "proxy-id-123", False),  # dev: never
])
def test_request_id_from_a_trusted_proxy_only(make_app, env, sent, trusted):
    client = make_app(**env).test_client()
    resp = client.get("/healthz", headers={"X-Request-ID": sent})
    assert resp.status_code == 200
    if trusted:
        assert resp.headers["X-Request-ID"] == sent
    else:
        assert resp.headers["X-Request-ID"] != sent and len(resp.headers["X-Request-ID"]) == 32


def test_json_lines_carry_the_documented_fields(make_app):
    app = make_app(PORTAL_LOG_FORMAT="json")
    stream = io.StringIO()
    logs.configure("json", stream=stream)
    try:
        client = app.test_client()
        dev_sign_in(client, "ada@example.com", "Ada")
        page = client.get("/")
        logging.getLogger("portal.test").warning("a line outside any request")
    finally:
        logs.configure("text")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines, "no JSON line written"
    for line in lines:
        assert {"timestamp", "level", "logger", "message", "request_id"} <= set(line)
    access = [line for line in lines if line["logger"] == "portal.access"
              and line.get("route") == "dashboard.index"]
    assert len(access) == 1
    line = access[0]
    assert line["request_id"] == page.headers["X-Request-ID"] and line["status"] == 200
    assert line["level"] == "INFO" and line["method"] == "GET"
    assert isinstance(line["person_id"], int) and line["duration_ms"] >= 0
    assert lines[-1]["message"] == "a line outside any request" and lines[-1]["request_id"] == "-"
    assert "ada@example.com" not in stream.getvalue()


def test_text_format_names_the_request_id(make_app):
    app = make_app()
    stream = io.StringIO()
    logs.configure("text", stream=stream)
    try:
        rid = app.test_client().get("/healthz").headers["X-Request-ID"]
    finally:
        logs.configure("text")
    assert f"[{rid}] GET health.healthz 200" in stream.getvalue()


def test_configuring_twice_keeps_one_handler():
    logs.configure("json")
    logs.configure("text")
    assert [h.get_name() for h in logging.getLogger().handlers].count(logs.HANDLER_NAME) == 1
