"""The simulated Coder's workspaces as real processes: startup.sh, code-server, proxy, limits.

A stand-in code-server (tests/fixtures/fake_code_server.py) keeps these fast and
always running; tests/browser/test_real_ide.py drives the real one when installed.
"""
from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from portal.devstack.workspace_host import CONTAINER_HOME, WorkspaceHost, marked_processes
from tests.fixtures.devstack_coder import start_coder_sim
from tests.git_helpers import AdminAPI, join, make_person, make_project
from tests.test_coder_sim import admin, api, new_user, org_id

FAKE = Path(__file__).parent / "fixtures" / "fake_code_server.py"
NO_REPO = "http://127.0.0.1:9/none.git"   # the discard port: the clone fails fast, start goes on


@pytest.fixture
def fake_code_server(tmp_path) -> Path:
    script = tmp_path / "code-server"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.fixture
def host(tmp_path, fake_code_server, gitea_sim):
    host = WorkspaceHost(tmp_path / "workspaces", gitea_url=gitea_sim.url,
                         code_server=fake_code_server, max_running=2)
    yield host
    host.shutdown()


@pytest.fixture
def coder(host):
    running = start_coder_sim(host=host, build_seconds=0.2, agent_seconds=0.1)
    yield running
    running.stop()


def person_token(coder, username: str) -> str:
    if new_user(coder, username).status_code != 201:
        raise AssertionError(f"cannot create {username}")
    return admin(coder, "POST", f"/users/{username}/keys/tokens",
                 json={"token_name": "t", "lifetime": 3600 * 10**9}).json()["key"]


def create_workspace(coder, token: str, name: str, **parameters: str) -> dict:
    template = admin(coder, "GET", f"/organizations/{org_id(coder)}/templates/portal-workspace")
    values = [{"name": k, "value": v} for k, v in {"git_repo": NO_REPO, **parameters}.items()]
    created = api(coder, "POST", "/users/me/workspaces", token, json={
        "name": name, "template_id": template.json()["id"], "rich_parameter_values": values})
    assert created.status_code == 201, created.text
    return created.json()


def agent_of(coder, token: str, workspace_id: str) -> dict | None:
    ws = api(coder, "GET", f"/workspaces/{workspace_id}", token).json()
    agents = [a for r in ws["latest_build"]["resources"] for a in r["agents"]]
    return agents[0] if agents else None


def wait_ready(coder, token: str, workspace_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        agent = agent_of(coder, token, workspace_id)
        if agent and agent["lifecycle_state"] == "ready" and agent["apps"][0]["health"] == "healthy":
            return agent
        time.sleep(0.1)
    raise AssertionError(f"workspace not ready: {agent_of(coder, token, workspace_id)}")


def app_host(coder, owner: str, workspace: str) -> str:
    return f"code-server--main--{workspace}--{owner}.portal.localhost:{urlsplit(coder.url).port}"


def build(coder, token: str, workspace_id: str, transition: str) -> None:
    reply = api(coder, "POST", f"/workspaces/{workspace_id}/builds", token,
                json={"transition": transition})
    assert reply.status_code == 201, reply.text
    time.sleep(0.3)   # the simulated build's job (0.2 s) finishes


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def test_start_runs_startup_sh_then_code_server_behind_the_app_host(coder, host, gitea_sim):
    gitea = AdminAPI(gitea_sim.url, gitea_sim.admin_token)
    project = make_project(gitea)
    alice = make_person(gitea, "alice")
    join(gitea, project, "Contributors", alice)
    token = person_token(coder, "alice")
    ws = create_workspace(coder, token, "proj-1", git_repo=project.clone_url,
                          gitea_token=alice.token)
    agent = wait_ready(coder, token, ws["id"])
    home = host.home("alice", "proj-1")
    assert (home / "project" / "README.md").is_file()        # startup.sh cloned the project
    headers = {"Host": app_host(coder, "alice", "proj-1"), "Coder-Session-Token": token,
               "Cookie": "coder_signed_app_token=x; theme=dark"}
    moved = requests.get(f"{coder.url}/?folder={CONTAINER_HOME}/project", headers=headers,
                         timeout=10, allow_redirects=False)
    assert moved.status_code == 307                          # VS Code reads `folder` from its URL
    assert parse_qs(urlsplit(moved.headers["Location"]).query)["folder"] == [f"{home}/project"]
    page = requests.get(coder.url + moved.headers["Location"], headers=headers, timeout=10)
    assert page.status_code == 200 and "fake code-server" in page.text
    assert f"<p id=folder>{home}/project</p>" in page.text   # the container path, mapped
    assert f"<p id=cwd>{home}</p>" in page.text
    assert "<p id=cookies>theme=dark</p>" in page.text       # Coder's own cookies stay with Coder
    assert agent["apps"][0]["health"] == "healthy"


def test_websocket_is_tunnelled_to_code_server(coder, host):
    token = person_token(coder, "alice")
    ws = create_workspace(coder, token, "proj-1")
    wait_ready(coder, token, ws["id"])
    port = urlsplit(coder.url).port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall((f"GET /stable/ws HTTP/1.1\r\nHost: {app_host(coder, 'alice', 'proj-1')}\r\n"
                      f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                      f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      f"Coder-Session-Token: {token}\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 101"), head
        sock.sendall(b"ping through the tunnel")
        assert sock.recv(4096) == b"ping through the tunnel"


def test_stop_ends_every_process_and_delete_removes_the_home(coder, host):
    token = person_token(coder, "alice")
    ws = create_workspace(coder, token, "proj-1")
    wait_ready(coder, token, ws["id"])
    pids = marked_processes(ws["id"])
    assert len(pids) >= 2            # code-server and its terminal in a session of its own
    build(coder, token, ws["id"], "stop")
    assert not any(alive(p) for p in pids)
    assert host.home("alice", "proj-1").is_dir()              # the home outlives a stop
    build(coder, token, ws["id"], "delete")
    assert not host.home("alice", "proj-1").exists()


def test_at_most_max_running_the_longest_idle_is_auto_stopped(coder, host):
    token = person_token(coder, "alice")
    first, second = (create_workspace(coder, token, f"proj-{n}") for n in (1, 2))
    for ws in (first, second):
        wait_ready(coder, token, ws["id"])
    host.port(first["id"])           # the first was used most recently: the second is idle longest
    third = create_workspace(coder, token, "proj-3")
    wait_ready(coder, token, third["id"])
    assert sorted(host.running()) == sorted([first["id"], third["id"]])
    stopped = api(coder, "GET", f"/workspaces/{second['id']}", token).json()["latest_build"]
    assert stopped["transition"] == "stop"


def test_without_code_server_the_placeholder_says_how_to_get_it(tmp_path, gitea_sim):
    host = WorkspaceHost(tmp_path / "workspaces", gitea_url=gitea_sim.url, code_server=None)
    coder = start_coder_sim(host=host, build_seconds=0.2, agent_seconds=0.1)
    try:
        token = person_token(coder, "alice")
        ws = create_workspace(coder, token, "proj-1")
        wait_ready(coder, token, ws["id"])
        page = requests.get(coder.url + "/", timeout=10, headers={
            "Host": app_host(coder, "alice", "proj-1"), "Coder-Session-Token": token})
        assert page.status_code == 200 and "make ide" in page.text
        assert (host.home("alice", "proj-1") / ".gitconfig").is_file()   # startup.sh ran
    finally:
        coder.stop()
        host.shutdown()


def test_dev_stack_exit_leaves_no_workspace_process(tmp_path, fake_code_server):
    proc = subprocess.Popen(
        [sys.executable, "-m", "portal.devstack", "--build-seconds", "0.2", "--agent-seconds",
         "0.1", "--workspaces", str(tmp_path / "ws"), "--code-server", str(fake_code_server)],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent)
    try:
        settings = {}
        for line in proc.stdout:
            if line.strip() == "READY":
                break
            key, _, value = line.strip().partition("=")
            settings[key] = value

        class Sim:   # what the helpers of test_coder_sim need
            url = settings["CODER_URL"]
            admin_token = settings["CODER_ADMIN_API_KEY"]
        token = person_token(Sim, "alice")
        ws = create_workspace(Sim, token, "proj-1")
        wait_ready(Sim, token, ws["id"])
        pids = marked_processes(ws["id"])
        assert len(pids) >= 2 and all(alive(p) for p in pids)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert not any(alive(p) for p in pids)
    assert marked_processes(ws["id"]) == []
    assert os.path.isdir(tmp_path / "ws" / "alice" / "proj-1")


def test_code_server_started_late_in_the_background_is_still_found(tmp_path, fake_code_server):
    """startup.sh starts code-server with `&`: it may run after the script has ended."""
    script = tmp_path / "startup.sh"
    script.write_text('#!/usr/bin/env bash\nmkdir -p "$HOME/.config/portal" "$PROJECT_DIR"\n'
                      '(sleep 1; code-server --bind-addr 127.0.0.1:13337 "$PROJECT_DIR") &\n')
    host = WorkspaceHost(tmp_path / "workspaces", code_server=fake_code_server,
                         startup_script=script)
    coder = start_coder_sim(host=host, build_seconds=0.2, agent_seconds=0.1)
    try:
        token = person_token(coder, "alice")
        ws = create_workspace(coder, token, "proj-1")
        wait_ready(coder, token, ws["id"])
        assert host.port(ws["id"]) is not None
    finally:
        coder.stop()
        host.shutdown()
