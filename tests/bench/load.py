"""Load benchmark: N people polling their Code tab on gunicorn + worker + PostgreSQL + Redis
(prints; asserts nothing).

    python -m tests.bench load [--sizes 100,250,500] [--duration 50] [--workers 2]
                               [--worker-class gthread] [--threads 16] [--build-seconds 15]
                               [--bench-workers 1] [--worker-threads 8]

For each N: a fresh database on a throwaway PostgreSQL cluster, the simulated Coder and Gitea in
their own process (`python -m portal.devstack`), `gunicorn wsgi:app` on 127.0.0.1, and N people
(tests/bench/load_people.py: a thread each, spread over several processes so the load generator
is not the bottleneck) who load the dashboard, open the Code tab and poll it once a second while
their workspace builds, the provisioning done by `flask portal worker` processes on a throwaway
Redis queue. Polls are conditional GETs (the partial's ETag), as a browser sends them. Printed:
requests/s, p50/p95/p99 latency (all, and per kind), errors, portal CPU (master + workers, in
cores) and RSS, PostgreSQL / simulator / load-generator CPU for context, and outbound calls per
second to Coder and Gitea (the simulators' request counters), and the latency of the run's second
half alone (with a build longer than the run, that is polling while building, after the
first-open burst), web and worker CPU separately, and how many people saw their IDE and when
(target: all within build time + 30 s). Target: 500 people at p99 <= 100 ms with 0 errors. Everything shares this machine's cores; see the CPU columns.
"""
from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from portal.extensions import db
from portal.models import Group, Membership, Project, Role, User
from tests.bench.load_people import run_process
from tests.fixtures.app import base_env, build_app
from tests.fixtures.redis import RunningRedis
from tests.process_helpers import (cpu_seconds, fresh_database, postmaster_pids, rss_mb,
                                   start_devstack, start_gunicorn, start_worker,
                                   throwaway_postgres)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench load")
    parser.add_argument("--sizes", default="100,250,500")
    parser.add_argument("--duration", type=float, default=50.0)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", 2)))
    parser.add_argument("--worker-class", default=os.environ.get("BENCH_WORKER_CLASS", "gthread"))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", 16)))
    parser.add_argument("--bench-workers", type=int, default=1, help="`portal worker` processes")
    parser.add_argument("--worker-threads", type=int, default=8, help="PORTAL_WORKER_THREADS")
    parser.add_argument("--build-seconds", type=float, default=15.0)
    parser.add_argument("--load-processes", type=int, default=4)
    parser.add_argument("--profile", default="", help="py-spy binary: record the portal's workers "
                        "during the largest size into load-profile-<pid>.txt")
    return parser.parse_args(argv)


def seed(app, n: int) -> list[tuple[str, str, int]]:
    """N people, each the lead of a group with one project, already signed in:
    (session cookie, CSRF token, project id). The cookies are what the dev sign-in would set
    (flask-login + Flask-WTF in a session signed with the portal's key); signing 500 people in
    over HTTP would trip the per-address sign-in limit, as everyone here is 127.0.0.1."""
    from flask import session
    from flask_login import login_user

    from portal.web import sessions
    from flask_wtf.csrf import generate_csrf
    people = []
    with app.app_context():
        for i in range(n):
            email = f"person{i:04d}@example.com"
            user = User(sub=f"dev:{email}", email=email, name=f"Person {i}", username=f"person{i:04d}")
            group = Group(slug=f"team-{i:04d}", name=f"Team {i}")
            project = Project(group=group, slug="app", name="App")
            db.session.add_all([user, group, Membership(user=user, group=group, role=Role.lead),
                                project])
        db.session.commit()
        rows = db.session.execute(db.select(User, Project.id)
                                  .join(Membership, Membership.user_id == User.id)
                                  .join(Project, Project.group_id == Membership.group_id)).all()
        signer = app.session_interface.get_signing_serializer(app)
        for user, project_id in rows:
            with app.test_request_context("/", environ_base={"REMOTE_ADDR": "127.0.0.1"}):
                sessions.begin(user, "dev")  # what the dev sign-in does (clears g's CSRF token too)
                login_user(user)
                csrf = generate_csrf()
                people.append((signer.dumps(dict(session)), csrf, project_id))
        db.engine.dispose()
    return people


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def run_size(args, pg_server: str, n: int, tmp: Path) -> dict:
    devstack = start_devstack(build_seconds=args.build_seconds, agent_seconds=2.0)
    server = None
    procs: list = []
    workers: list = []
    redis = RunningRedis().start()
    try:
        env = base_env(tmp, DATABASE_URL=fresh_database(pg_server), **devstack.env,
                       PORTAL_QUEUE_URL=redis.url, PORTAL_WORKER_THREADS=args.worker_threads,
                       PORTAL_HTTP_CONNECT_TIMEOUT="3", PORTAL_HTTP_READ_TIMEOUT="10")
        app = build_app(env)
        people = seed(app, n)
        server = start_gunicorn(env, tmp, workers=args.workers, worker_class=args.worker_class,
                                threads=args.threads, extra=("--backlog", "2048"))
        workers = [start_worker(env, tmp, args.worker_threads) for _ in range(args.bench_workers)]
        ctx = multiprocessing.get_context("fork")
        go, ready, results = ctx.Event(), ctx.Queue(), ctx.Queue()
        k = max(1, min(args.load_processes, n))
        for i in range(k):
            proc = ctx.Process(target=run_process, args=(server.port, people[i::k], args.duration,
                                                         go, ready, results), daemon=True)
            proc.start()
            procs.append(proc)
        signed_in = sum(ready.get(timeout=360) for _ in procs)
        before = _counters(devstack, server, workers, pg_server, procs)
        profiler = _start_profiler(args, server, tmp, n)
        go.set()
        time.sleep(args.duration)
        after = _counters(devstack, server, workers, pg_server, procs)
        samples = [s for _ in procs for s in results.get(timeout=args.duration + 120)]
        if profiler is not None:
            profiler.wait(60)
        for proc in procs:
            proc.join(10)
        return _figures(n, signed_in, samples, before, after, args.duration,
                        rss_mb(server.pids()))
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
        for worker in workers:
            worker.stop()
        if server is not None:
            server.stop()
        redis.close()
        devstack.stop()


def _counters(devstack, server, workers, pg_server, procs) -> dict:
    return {"t": time.monotonic(), "coder": devstack.coder_state()["requests_total"],
            "gitea": devstack.gitea_state()["requests"], "portal": cpu_seconds(server.pids()),
            "worker": cpu_seconds([w.pid for w in workers]),
            "pg": cpu_seconds(postmaster_pids(pg_server)), "sims": cpu_seconds([devstack.proc.pid]),
            "load": cpu_seconds([p.pid for p in procs])}


def _start_profiler(args, server, tmp: Path, n: int):
    if not args.profile or n != max(int(s) for s in args.sizes.split(",")):
        return None
    import subprocess
    out = Path(tempfile.gettempdir()) / f"portal-load-profile-{n}.txt"
    worker = server.worker_pids()[0]
    print(f"  profiling worker {worker} for {args.duration:.0f} s -> {out}")
    return subprocess.Popen([args.profile, "record", "-p", str(worker), "-d", str(int(args.duration)),
                             "-f", "raw", "-o", str(out), "-r", "200", "--nonblocking", "--gil"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _figures(n, signed_in, samples, before, after, duration, rss) -> dict:
    seconds = after["t"] - before["t"]
    ready = sorted(s[1] for s in samples if s[0] == "ready")
    measured = [s for s in samples if s[1] <= duration and s[0] != "ready"]
    lat = [s[2] for s in measured]
    by_kind = defaultdict(list)
    for kind, _start, elapsed, _status in measured:
        by_kind[kind].append(elapsed)
    return {"n": n, "signed_in": signed_in, "requests": len(measured), "rps": len(measured) / duration,
            "p50": pct(lat, 50), "p95": pct(lat, 95), "p99": pct(lat, 99), "max": max(lat or [0]),
            "late": _late(measured, duration),
            "errors": sum(1 for s in measured if s[3] not in (200, 304)),
            "statuses": dict(Counter(s[3] for s in measured if s[3] not in (200, 304))),
            "not_modified": sum(1 for s in measured if s[3] == 304),
            "ready": (len(ready), ready[len(ready) // 2] if ready else float("nan"),
                      ready[-1] if ready else float("nan")),
            "kinds": {k: (len(v), pct(v, 50), pct(v, 99)) for k, v in sorted(by_kind.items())},
            "cpu": {k: (after[k] - before[k]) / seconds
                    for k in ("portal", "worker", "pg", "sims", "load")},
            "rss": rss, "coder_rps": (after["coder"] - before["coder"]) / seconds,
            "gitea_rps": (after["gitea"] - before["gitea"]) / seconds}


def _late(measured: list, duration: float) -> tuple[int, float, float]:
    """Requests of the run's second half (after the first-open burst): count, p50, p99."""
    lat = [s[2] for s in measured if s[1] >= duration / 2]
    return len(lat), pct(lat, 50), pct(lat, 99)


def report(f: dict) -> None:
    ms = lambda v: f"{v * 1000:.0f}"  # noqa: E731
    print(f"N={f['n']:>4} ({f['signed_in']} people): {f['rps']:.0f} req/s, "
          f"p50 {ms(f['p50'])} ms, p95 {ms(f['p95'])} ms, p99 {ms(f['p99'])} ms, "
          f"max {ms(f['max'])} ms, errors {f['errors']}/{f['requests']}"
          + (f" (HTTP status: count {f['statuses']}, 0 = no answer)" if f["errors"] else ""))
    count, p50, p99 = f["late"]
    print(f"         second half of the run: {count} requests, p50 {ms(p50)} ms, p99 {ms(p99)} ms")
    print("         by kind: " + ", ".join(f"{k} {c}× p50 {ms(a)} / p99 {ms(b)} ms"
                                          for k, (c, a, b) in f["kinds"].items()))
    cpu = f["cpu"]
    count, median, last = f["ready"]
    print(f"         IDE shown: {count}/{f['n']} people, median {median:.1f} s, last {last:.1f} s "
          f"after the start; {f['not_modified']} polls answered 304")
    print(f"         CPU (cores): web {cpu['portal']:.2f}, worker {cpu['worker']:.2f}, "
          f"postgres {cpu['pg']:.2f}, "
          f"simulators {cpu['sims']:.2f}, load generator {cpu['load']:.2f}; portal RSS "
          f"{f['rss']:.0f} MB; outbound calls/s: Coder {f['coder_rps']:.0f}, Gitea {f['gitea_rps']:.0f}")


def main(argv: list[str] | None = None) -> None:
    args = parse(argv or [])
    logging.disable(logging.WARNING)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print(f"Load: gunicorn -w {args.workers} -k {args.worker_class} --threads {args.threads}, "
          f"{args.bench_workers} worker process(es) × {args.worker_threads} threads, Redis, "
          f"PostgreSQL, {args.duration:.0f} s per size, simulated build {args.build_seconds:.0f} s "
          f"+ agent 2 s, {os.cpu_count()} cores shared by everything   [target: 500 people, "
          f"p99 <= 100 ms, 0 errors]", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="portal-load-"))
    with throwaway_postgres(max_connections=400) as pg_server:
        for n in sizes:
            report(run_size(args, pg_server, n, tmp))
