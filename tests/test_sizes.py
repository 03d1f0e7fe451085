"""Workspace sizes: the parameters sent match the chosen size, a size a person may not use
is refused with a message before any call, changing the disk asks and then recreates."""
from __future__ import annotations

import threading
import time

import pytest

from portal.workspaces import workspace_params as wp
from portal.clients import http
from portal.config import ConfigError, Settings
from portal.extensions import db
from portal.models import AuditEvent, WorkspaceState
from tests.fixtures.app import dev_sign_in
from tests.fixtures.devstack import stack_env
from tests.platform.conftest_helpers import blocks
from tests.test_code_tab import create_project, csrf, open_code, stop_and_wait

SIZES = "small=2/4/10,fast=4/8/10,large=4/8/20,huge=8/16/50@gpu-team"


@pytest.fixture
def sized(make_app, coder_sim, gitea_sim, start_worker):
    app = make_app(**stack_env(coder_sim, gitea_sim), PORTAL_WORKSPACE_SIZES=SIZES)
    start_worker(app)  # the reconciler tier does the Code tab's work
    client = app.test_client()
    dev_sign_in(client, "ada@example.com", "Ada Lovelace")
    return app, client, coder_sim


def _builds(coder) -> list[dict]:
    """The rich parameters of every create and build the portal sent, in order."""
    out = []
    for e in coder.api_exchanges():
        if e.method == "POST" and (e.path.endswith("/workspaces") or e.path.endswith("/builds")):
            values = {p["name"]: p["value"] for p in (e.body or {}).get("rich_parameter_values", [])}
            out.append({"path": e.path, "transition": (e.body or {}).get("transition", "create"),
                        **{k: v for k, v in values.items() if k in wp.SIZE_OPTIONS}})
    return out


def _stops(coder) -> list[dict]:
    return [b for b in _builds(coder) if b["transition"] == "stop"]


def _pick(client, pid: int, size: str, **extra):
    return client.post(f"/projects/{pid}/size",
                       data={"csrf_token": csrf(client, f"/projects/{pid}"), "size": size, **extra})


@pytest.mark.parametrize("size, cpu, memory, disk", [("small", "2", "4", "10"),
                                                     ("large", "4", "8", "20")])
def test_parameters_sent_match_the_chosen_size(sized, size, cpu, memory, disk):
    app, client, coder = sized
    _, pid = create_project(client)
    assert _pick(client, pid, size).status_code == 303
    assert open_code(client, pid)[1][-1] == "ready"
    create = _builds(coder)[0]
    assert (create["transition"], create["cpu_cores"], create["memory_gb"],
            create["disk_size"]) == ("create", cpu, memory, disk)
    with app.app_context():
        assert db.session.scalar(db.select(WorkspaceState.disk_size)) == int(disk)


def test_cpu_and_memory_go_with_every_start_disk_only_with_the_create(sized):
    app, client, coder = sized
    _, pid = create_project(client)
    open_code(client, pid)
    stop_and_wait(client, coder, pid)
    resp = _pick(client, pid, "fast")  # same disk: no question, applies at the next start
    assert resp.status_code == 303
    assert open_code(client, pid)[1][-1] == "ready"
    start = [b for b in _builds(coder) if b["transition"] == "start"][-1]
    assert start["cpu_cores"] == "4" and start["memory_gb"] == "8" and "disk_size" not in start


@pytest.mark.parametrize("size, message", [("huge", "reserved for the groups gpu-team"),
                                           ("nosuch", "no such workspace size"),
                                           ("", "no such workspace size")])
def test_a_size_the_person_may_not_use_is_refused_with_a_message(sized, size, message):
    app, client, coder = sized
    _, pid = create_project(client)
    here, calls = threading.get_ident(), []

    def in_this_request(record):  # the worker's own calls (pre-warm, tick) go on beside it
        if threading.get_ident() == here:
            calls.append(record)
    http.call_listeners.append(in_this_request)
    try:
        resp = _pick(client, pid, size)
    finally:
        http.call_listeners.remove(in_this_request)
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    assert calls == [], "refused before any call"
    with app.app_context():
        assert db.session.scalar(db.select(WorkspaceState.size_name)) is None


def test_changing_the_disk_asks_then_recreates(sized):
    app, client, coder = sized
    _, pid = create_project(client)
    open_code(client, pid)
    with app.app_context():
        first = db.session.scalar(db.select(WorkspaceState.coder_workspace_id))
    asked = _pick(client, pid, "large")
    page = asked.get_data(as_text=True)
    assert asked.status_code == 200 and 'data-testid="confirm-disk"' in page
    assert "deleted and created anew" in page
    assert not [b for b in _builds(coder) if b["transition"] == "delete"], "nothing deleted yet"
    assert _pick(client, pid, "large", confirm="y").status_code == 303
    deadline = time.monotonic() + 15  # the worker deletes the old workspace
    while not [b for b in _builds(coder) if b["transition"] == "delete"] and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    assert [b for b in _builds(coder) if b["transition"] == "delete"]
    assert open_code(client, pid, timeout=30)[1][-1] == "ready"
    creates = [b for b in _builds(coder) if b["transition"] == "create"]
    assert [c["disk_size"] for c in creates] == ["10", "20"]
    with app.app_context():
        state = db.session.scalar(db.select(WorkspaceState))
        assert state.coder_workspace_id != first and state.disk_size == 20
        actions = set(db.session.scalars(db.select(AuditEvent.action)))
        assert {"workspace.recreate", "workspace.size"} <= actions


def test_a_lead_sets_the_project_default(sized):
    app, client, coder = sized
    _, pid = create_project(client)
    resp = client.post(f"/projects/{pid}/default-size",
                       data={"csrf_token": csrf(client, f"/projects/{pid}"), "size": "large"})
    assert resp.status_code == 303
    assert open_code(client, pid)[1][-1] == "ready"
    assert _builds(coder)[0]["disk_size"] == "20"
    page = client.get(f"/projects/{pid}").get_data(as_text=True)
    assert 'data-testid="size-now">large' in page


@pytest.mark.parametrize("raw, fragment", [("a=3/4/10", "cpu_cores must be one of 2, 4, 8"),
                                           ("a=2/4/30", "disk_size must be one of 10, 20, 50"),
                                           ("a=2/4", "must look like"),
                                           ("a=2/4/10,a=4/8/20", "named twice")])
def test_sizes_setting_outside_the_template_stops_start_up(raw, fragment):
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"PORTAL_DEV": "1", "PORTAL_WORKSPACE_SIZES": raw})
    assert str(err.value).startswith("PORTAL_WORKSPACE_SIZES") and fragment in str(err.value)


@pytest.mark.parametrize("name", list(wp.SIZE_OPTIONS))
def test_size_options_are_the_templates(name):
    options, default = wp.SIZE_OPTIONS[name]
    by_name = {body["name"]: body for body in blocks("data", "coder_parameter").values()}
    body = by_name[name]
    assert tuple(int(o["value"]) for o in body["option"]) == options
    assert int(body["default"]) == default
    assert (body["mutable"] is False) == (name in wp.IMMUTABLE)


def test_make_room_stops_the_least_recently_used_and_the_waiting_one_starts(
        make_app, coder_sim, gitea_sim, start_worker):
    """Over the personal limit the Code tab offers to stop the person's least recently used
    workspace: a job of the worker (no call to Coder in the request), then the place is theirs."""
    app = make_app(**stack_env(coder_sim, gitea_sim), PORTAL_MAX_RUNNING_PER_PERSON="1")
    start_worker(app)
    client = app.test_client()
    dev_sign_in(client, "ada@example.com", "Ada Lovelace")
    _, first = create_project(client, project="First")
    assert open_code(client, first)[1][-1] == "ready"
    _, second = create_project(client, group="Other Team", project="Second")
    body, stages = open_code(client, second, timeout=5)
    assert stages[-1] == "waiting" and 'data-testid="make-room"' in body
    resp = client.post(f"/projects/{second}/code/make-room",
                       data={"csrf_token": csrf(client, f"/projects/{second}/code")})
    assert resp.status_code == 303
    body, stages = open_code(client, second, timeout=30)
    assert stages[-1] == "ready", body[:300]
    stops = [b for b in _builds(coder_sim) if b["transition"] == "stop"]
    assert len(stops) == 1
    with app.app_context():
        actions = list(db.session.scalars(db.select(AuditEvent.action)))
        assert "workspace.stop" in actions
