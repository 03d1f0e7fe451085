"""tests/contract.py itself: it must reject what the real servers reject, and no more."""
from __future__ import annotations

import pytest
import requests

from portal.devstack.server import ServerThread
from tests.contract import (ContractViolation, Exchange, RecordingMiddleware, check_exchanges,
                            check_request, check_response, match_operation, requires_contracts)

pytestmark = requires_contracts


def test_paths_match_templates_with_and_without_base():
    assert match_operation("gitea", "GET", "/api/v1/users/search?q=a").template == "/users/search"
    assert match_operation("gitea", "GET", "/repos/o/r").template == "/repos/{owner}/{repo}"
    assert match_operation("gitea", "GET", "/api/healthz").is_health
    assert match_operation("coder", "GET", "/healthz").is_health
    with pytest.raises(ContractViolation, match="no such path"):
        match_operation("gitea", "PUT", "/api/v1/teams/not-a-number/members/bob")
    with pytest.raises(ContractViolation, match="only allows"):
        match_operation("gitea", "DELETE", "/api/v1/version")


def test_request_bodies_are_validated_with_refs():
    check_request("gitea", "POST", "/api/v1/orgs/o/teams",
                  {"name": "T", "permission": "write", "units_map": {"repo.code": "write"}})
    with pytest.raises(ContractViolation, match="permission"):
        check_request("gitea", "POST", "/api/v1/orgs/o/teams", {"name": "T", "permission": "x"})
    with pytest.raises(ContractViolation, match="required"):
        check_request("gitea", "POST", "/api/v1/orgs", {"full_name": "no username"})
    with pytest.raises(ContractViolation, match="takes no body"):
        check_request("gitea", "GET", "/api/v1/version", {"x": 1})
    check_request("coder", "POST", "/api/v2/users",
                  {"email": "a@b.c", "username": "a", "organization_ids": [], "login_type": "none"})


def test_replies_are_validated_leniently_like_go():
    check_response("gitea", "GET", "/api/v1/user", 200, {"id": 1, "login": "a", "email": None})
    check_response("gitea", "POST", "/api/v1/orgs/o/repos", 409, {"message": "exists"})
    with pytest.raises(ContractViolation, match="integer"):
        check_response("gitea", "GET", "/api/v1/user", 200, {"id": "1"})
    with pytest.raises(ContractViolation, match="should be JSON"):
        check_response("gitea", "GET", "/api/v1/user", 200, None)


def test_recording_middleware_records_and_check_exchanges_reports():
    def app(environ, start_response):
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"version": "1"}' if not body else body]

    recorder = RecordingMiddleware(app)
    with ServerThread(recorder) as server:
        requests.get(server.url + "/api/v1/version", timeout=5)
        requests.post(server.url + "/api/v1/orgs", json={"username": 5}, timeout=5)
    first, second = recorder.exchanges
    assert (first.method, first.path, first.status, first.reply) == (
        "GET", "/api/v1/version", 200, {"version": "1"})
    assert second.body == {"username": 5}
    with pytest.raises(ContractViolation, match="1 exchange"):
        check_exchanges("gitea", recorder.exchanges)
    faulted = Exchange("POST", "/api/v1/orgs", "", {"username": 5}, 500, None,
                       {"X-Devstack-Fault": "1"})
    check_exchanges("gitea", [faulted])
