"""`make run` beside another instance (issue item 10): two embedded defaults on ports of their
own, the second one refused with the project's message when a port is taken, and the IDE
of an instance on moved ports served from its own simulated Coder."""
from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.fixtures.oidc import free_port

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


class DevRun:
    """`flask portal dev` (what `make run` starts) in a process of its own."""

    def __init__(self, tmp_path, name: str, port: int, coder: int, gitea: int):
        env = {k: v for k, v in os.environ.items()
               if k not in ("CODER_URL", "GITEA_URL", "LITELLM_URL", "DATABASE_URL")}
        env.update(PORTAL_DEV="1", DATABASE_URL=f"sqlite:///{tmp_path / name}.sqlite",
                   PORTAL_DEV_CODER_PORT=str(coder), PORTAL_DEV_GITEA_PORT=str(gitea))
        flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
        subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, timeout=120,
                       capture_output=True)
        self.proc = subprocess.Popen([*flask, "portal", "dev", "--port", str(port),
                                      "--build-seconds", "1"], cwd=ROOT, env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.url = f"http://portal.localhost:{port}"

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text: str, timeout: float = 60) -> list[str]:
        """Output lines up to the one containing `text` (or up to the end: then it is missing)."""
        seen = []
        while True:
            line = self.lines.get(timeout=timeout)
            if line is None:
                return seen
            seen.append(line)
            if text in line:
                return seen

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        self.proc.kill()  # a no-op once it has exited


@pytest.fixture
def dev_runs(tmp_path):
    runs: list[DevRun] = []

    def start(*args) -> DevRun:
        run = DevRun(tmp_path, *args)
        runs.append(run)
        return run
    yield start
    for run in runs:
        run.stop()


def test_a_second_make_run_on_moved_ports_and_a_clear_refusal(page: Page, dev_runs):
    port, coder, gitea = free_port(), free_port(), free_port()
    first = dev_runs("first", port, coder, gitea)
    assert any("Portal at" in line for line in first.wait_for("Portal at")), "first did not start"

    clash = dev_runs("clash", free_port(), coder, free_port())  # the first one's Coder port
    out = "".join(clash.wait_for("never printed"))
    assert clash.proc.wait(timeout=30) != 0
    assert f"Port {coder} (the simulated Coder) is already in use" in out, out
    assert "make run" in out and "CODER_PORT=" in out and "Traceback" not in out

    page.goto(first.url + "/auth/dev")
    page.fill("form.stack input[name=email]", "ada@example.com")
    page.fill("form.stack input[name=name]", "Ada Lovelace")
    page.click("form.stack button[type=submit]")
    page.goto(first.url + "/groups/new")
    page.fill("input[name=name]", "Ports")
    page.click("button:has-text('Create group')")
    page.click("text=New project")
    page.fill("input[name=name]", "Moved")
    page.click("button:has-text('Create project')")
    page.click("nav.tabs >> text=Code")
    frame = page.locator("iframe[data-testid=ide-frame]")
    expect(frame).to_be_visible(timeout=60000)
    assert urlsplit(frame.get_attribute("src")).port == coder, "the IDE comes from this instance's Coder"
