"""Benchmark of the Code tab (prints figures; asserts nothing).

- overhead: (IDE shown by the portal) - (workspace ready in the simulated Coder), over 20
  opens with a fixed build time, polling at the delays the status partial asks for;
- outbound calls to Coder and Gitea per first open and per re-open of a running workspace
  (the in-process worker's calls included: its tick's batched reads count for every workspace
  in flight, here one);
- dashboard server time with 200 projects.
Targets (issue 4): overhead median <= 0.3 s, first open <= 15 calls, re-open <= 1 call.
"""
from __future__ import annotations

import re
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from portal.clients import http
from portal.devstack.server import ServerThread
from portal.extensions import db
from portal.models import Project
from portal.workspaces.queue import InProcessWorker
from tests.fixtures.app import base_env, build_app, dev_sign_in
from tests.fixtures.devstack import stack_env
from tests.fixtures.devstack_coder import start_coder_sim
from tests.fixtures.devstack_gitea import RunningGitea
from tests.provisioning_helpers import seed

DELAY_RE = re.compile(r'load delay:(\d+)ms')
CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


def start_gitea_sim():
    from portal.devstack.gitea import make_gitea_sim
    from tests.contract import RecordingMiddleware
    app, sim = make_gitea_sim()
    recorder = RecordingMiddleware(app)
    server = ServerThread(recorder).start()
    return RunningGitea(server.url, sim.admin_token, sim, recorder, server)


class Calls:
    def __init__(self):
        self.counter: Counter = Counter()
        http.call_listeners.append(self)

    def __call__(self, record):
        self.counter[record.service] += 1
        if record.method == "GET" and (record.path.endswith("/logs")
                                       or re.fullmatch(r"/workspaces/[0-9a-f-]+", record.path)):
            self.counter["polls"] += 1  # status reads while the build runs

    def take(self) -> Counter:
        out, self.counter = self.counter, Counter()
        return out


def open_until_ready(client, project_id: int, csrf: str):
    headers = {"HX-Request": "true", "X-CSRFToken": csrf}
    body = client.post(f"/projects/{project_id}/code/open", headers=headers).get_data(as_text=True)
    while True:
        delay = DELAY_RE.search(body)
        if not delay:
            return body
        time.sleep(int(delay.group(1)) / 1000)
        body = client.get(f"/projects/{project_id}/code/status", headers=headers).get_data(as_text=True)


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main(opens: int = 20, build_seconds: float = 2.0, projects: int = 200) -> None:
    coder = start_coder_sim(build_seconds=build_seconds, agent_seconds=0.5)
    gitea = start_gitea_sim()
    tmp = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    # one person opens every project and leaves each running: the per-person limit of
    # running workspaces (PORTAL_MAX_RUNNING_PER_PERSON) must not queue the later opens
    app = build_app(base_env(tmp, **stack_env(coder, gitea),
                             PORTAL_MAX_RUNNING_PER_PERSON=str(opens + 1)))
    worker = InProcessWorker(app, 4).start()  # the reconciler tier, as under `portal dev`
    calls = Calls()
    client = app.test_client()
    dev_sign_in(client, "ada@example.com", "Ada")
    csrf = CSRF_RE.search(client.get("/").get_data(as_text=True)).group(1)
    overheads, first_calls, reopen_calls = [], [], []
    # the group through the page, as a person makes it (its lead is synced to Gitea then)
    client.post("/groups/new", data={"csrf_token": csrf, "name": "Bench"})
    with app.app_context():
        for i in range(opens):
            resp = client.post("/groups/bench/projects/new", data={"csrf_token": csrf, "name": f"p{i}"})
            project = db.session.get(Project, int(resp.location.rsplit("/", 1)[-1]))
            calls.take()
            body = open_until_ready(client, project.id, csrf)
            shown = time.time()
            assert "<iframe" in body, body[:300]
            first_calls.append(calls.take())
            ws = next(w for w in coder.sim.store.workspaces.values() if w.name == f"proj-{project.id}")
            sim_ready = ws.latest.completed_at + ws.latest.agent_seconds
            overheads.append(shown - sim_ready)
            open_until_ready(client, project.id, csrf)
            reopen_calls.append(calls.take())
    print(f"Code tab, {opens} opens, simulated build {build_seconds:.1f} s + agent 0.5 s")
    print(f"  overhead (IDE shown - simulator ready): median {statistics.median(overheads):.3f} s, "
          f"p95 {pct(overheads, 95):.3f} s, max {max(overheads):.3f} s   [target median <= 0.3 s]")
    first = [c["coder"] + c["gitea"] for c in first_calls]
    setup = [c["coder"] + c["gitea"] - c["polls"] for c in first_calls]
    print(f"  outbound calls per first open: median {statistics.median(first):.0f} "
          f"(coder {statistics.median([c['coder'] for c in first_calls]):.0f}, "
          f"gitea {statistics.median([c['gitea'] for c in first_calls]):.0f}), max {max(first)}; "
          f"without the status reads during the build: median {statistics.median(setup):.0f}, "
          f"max {max(setup)}   [target <= 15]")
    reopen = [c["coder"] + c["gitea"] for c in reopen_calls]
    print(f"  outbound calls per re-open of a running workspace: median {statistics.median(reopen):.0f}, "
          f"max {max(reopen)}   [target <= 1: only the iframe hand-off]")

    with app.app_context():
        for i in range(opens, projects):
            seed("ada@example.com", group=f"g{i // 20}", project=f"p{i}")
    times = []
    for _ in range(20):
        calls.take()
        started = time.perf_counter()
        resp = client.get("/")
        times.append(time.perf_counter() - started)
        assert resp.status_code == 200
    dash_calls = sum(calls.take().values())
    print(f"Dashboard with {projects} projects: server time median {statistics.median(times) * 1000:.1f} ms, "
          f"p95 {pct(times, 95) * 1000:.1f} ms, outbound calls per load {dash_calls}")
    worker.stop()
    coder.stop()
    gitea.server.stop()
    http.call_listeners.remove(calls)
