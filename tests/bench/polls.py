"""Micro-benchmark of one Code tab status poll while the workspace builds (prints; asserts nothing).

    python -m tests.bench polls [--polls 1000] [--db sqlite|postgres] [--gap 0]

One person, one project, the simulated Coder and Gitea in their own process (so their CPU is not
counted), a build long enough to last the run. An in-process worker takes the workspace to
"building" and is stopped (the poll only reads the row it wrote); then GET /code/status and
GET /healthz are timed `--polls` times each through the test client (`--gap` seconds apart).
Printed: wall and CPU time (this thread's) per poll, SQL statements, connection checkouts and
outbound calls per poll, and the poll's CPU against /healthz's in the same app.
"""
from __future__ import annotations

import argparse
import logging
import re
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import event

from portal.clients import http
from portal.extensions import db
from portal.workspaces.queue import InProcessWorker
from tests.fixtures.app import CSRF_RE, base_env, build_app, dev_sign_in
from tests.process_helpers import fresh_database, start_devstack, throwaway_postgres

STAGE_RE = re.compile(r'data-stage="([a-z_]+)"')


def run(polls: int, database_url: str | None, gap: float, tmp: Path,
        conditional: bool = True) -> None:
    devstack = start_devstack(build_seconds=3600, agent_seconds=1)
    try:
        db_env = {"DATABASE_URL": database_url} if database_url else {}  # else base_env's SQLite file
        env = base_env(tmp, **devstack.env, **db_env)
        app = build_app(env)
        worker = InProcessWorker(app).start()
        client = app.test_client()
        dev_sign_in(client, "ada@example.com", "Ada")
        csrf = CSRF_RE.search(client.get("/").get_data(as_text=True)).group(1)
        client.post("/groups/new", data={"csrf_token": csrf, "name": "Bench"})
        resp = client.post("/groups/bench/projects/new", data={"csrf_token": csrf, "name": "p"})
        pid = int(resp.location.rsplit("/", 1)[-1])
        headers = {"HX-Request": "true", "X-CSRFToken": csrf}
        body = client.post(f"/projects/{pid}/code/open", headers=headers).get_data(as_text=True)
        deadline = time.monotonic() + 30
        while STAGE_RE.search(body).group(1) != "building" and time.monotonic() < deadline:
            time.sleep(0.2)
            body = client.get(f"/projects/{pid}/code/status", headers=headers).get_data(as_text=True)
        assert STAGE_RE.search(body).group(1) == "building", body[:300]
        worker.stop()  # the row stays as the worker wrote it
        counts = {"sql": 0, "checkouts": 0, "calls": 0}
        with app.app_context():
            engine = db.engine

        def on_sql(*_a, **_k):
            counts["sql"] += 1

        def on_checkout(*_a, **_k):
            counts["checkouts"] += 1

        def on_call(_record):
            counts["calls"] += 1

        event.listen(engine, "before_cursor_execute", on_sql)
        event.listen(engine, "checkout", on_checkout)
        http.call_listeners.append(on_call)
        walls = []
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        etag = None
        for _ in range(polls):
            started = time.perf_counter()
            # as a browser does with the partial's ETag (Cache-Control: no-cache): revalidate
            sent = {**headers, **({"If-None-Match": etag} if conditional and etag else {})}
            resp = client.get(f"/projects/{pid}/code/status", headers=sent)
            walls.append(time.perf_counter() - started)
            assert resp.status_code == 304 or (resp.status_code == 200 and b'data-stage="building"'
                                                 in resp.data), resp.data[:300]
            etag = resp.headers.get("ETag", etag)
            if gap:
                time.sleep(gap)
        cpu = time.thread_time() - cpu0
        wall = time.perf_counter() - wall0
        health0 = time.thread_time()
        for _ in range(polls):
            assert client.get("/healthz").status_code == 200
        health = time.thread_time() - health0
        http.call_listeners.remove(on_call)
        event.remove(engine, "before_cursor_execute", on_sql)
        event.remove(engine, "checkout", on_checkout)
        kind = "postgres" if database_url else "sqlite"
        print(f"{polls} building-stage polls ({kind}, {'conditional' if conditional else 'full'}, "
              f"gap {gap:.2f} s): wall {statistics.mean(walls) * 1000:.2f} ms "
              f"mean, p50 {statistics.median(walls) * 1000:.2f} ms, max {max(walls) * 1000:.1f} ms; "
              f"CPU {(cpu) / polls * 1000:.2f} ms/poll ({wall:.1f} s in all); per poll: "
              f"{counts['sql'] / polls:.2f} SQL, {counts['checkouts'] / polls:.2f} checkouts, "
              f"{counts['calls'] / polls:.2f} outbound calls; /healthz CPU "
              f"{health / polls * 1000:.2f} ms: a poll costs {cpu / health:.2f}x /healthz")
        with app.app_context():
            db.engine.dispose()
    finally:
        devstack.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench polls")
    parser.add_argument("--polls", type=int, default=1000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--gap", type=float, default=0.0)
    args = parser.parse_args(argv or [])
    logging.disable(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="portal-polls-"))
    for conditional in (True, False):  # with the browser's If-None-Match, and without
        if args.db in ("sqlite", "both"):
            run(args.polls, None, args.gap, tmp / f"s{conditional}", conditional)
        if args.db in ("postgres", "both"):
            with throwaway_postgres() as server:
                run(args.polls, fresh_database(server), args.gap, tmp, conditional)
