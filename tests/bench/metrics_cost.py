"""What the metrics cost: the portal's CPU per request with metrics on and off (prints only).

    python -m tests.bench metrics_cost [--people 40] [--duration 20] [--rounds 2]

Same load both ways (tests/bench/load_people.py: people who load the dashboard, open the Code
tab and poll it), on `gunicorn -w 2 -k gthread` against the simulators in their own process.
"on" is production's shape: PROMETHEUS_MULTIPROC_DIR with the gunicorn hooks, and a scrape of
/metrics every 5 s like Prometheus; "off" is PORTAL_METRICS=0. Rounds alternate (on, off, on,
off...) so that the other work on this machine weighs on both alike. Printed: per round and on
average, portal CPU (master + workers) in milliseconds per request, requests, and the
difference. Target: < 5 %.
"""
from __future__ import annotations

import argparse
import logging
import multiprocessing
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests

from tests.bench.load import seed
from tests.bench.load_people import run_process
from tests.fixtures.app import base_env, build_app
from tests.process_helpers import cpu_seconds, start_devstack, start_gunicorn


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench metrics_cost")
    parser.add_argument("--people", type=int, default=40)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--build-seconds", type=float, default=8.0)
    return parser.parse_args(argv)


def _scraper(url: str, stop: threading.Event) -> None:
    session = requests.Session()
    session.trust_env = False
    while not stop.wait(5.0):
        session.get(f"{url}/metrics", timeout=10)


def one_round(args, devstack, metrics_on: bool, tmp: Path) -> tuple[float, int]:
    """(portal CPU seconds per request, requests) of one run."""
    run_dir = Path(tempfile.mkdtemp(dir=tmp))
    extra_env = {"PORTAL_METRICS": "1" if metrics_on else "0"}
    if metrics_on:
        (run_dir / "metrics").mkdir()
        extra_env["PROMETHEUS_MULTIPROC_DIR"] = str(run_dir / "metrics")
    env = base_env(run_dir, **devstack.env, PORTAL_PASS_WAIT="", **extra_env)
    people = seed(build_app(env), args.people)
    gunicorn_conf = ("-c", "python:portal.observability.gunicorn_conf") if metrics_on else ()
    server = start_gunicorn(env, run_dir, workers=2, worker_class="gthread", threads=8,
                            extra=gunicorn_conf)
    procs, stop = [], threading.Event()
    try:
        ctx = multiprocessing.get_context("fork")
        go, ready, results = ctx.Event(), ctx.Queue(), ctx.Queue()
        for i in range(2):
            proc = ctx.Process(target=run_process, args=(server.port, people[i::2], args.duration,
                                                         go, ready, results), daemon=True)
            proc.start()
            procs.append(proc)
        for _ in procs:
            ready.get(timeout=120)
        scraper = threading.Thread(target=_scraper, args=(server.url, stop), daemon=True)
        before = cpu_seconds(server.pids())
        go.set()
        if metrics_on:
            scraper.start()
        time.sleep(args.duration)
        used = cpu_seconds(server.pids()) - before
        stop.set()
        samples = [s for _ in procs for s in results.get(timeout=args.duration + 60)]
        measured = [s for s in samples if s[1] <= args.duration]
        return used / max(1, len(measured)), len(measured)
    finally:
        stop.set()
        for proc in procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
        server.stop()


def recording_cost(n: int = 20000) -> float:
    """Microseconds to record one request's usual figures in this process: the HTTP series
    and three outbound calls (a poll's pass asks Coder once or twice, Gitea rarely)."""
    from portal.observability import metrics
    from portal.observability.operations import operation
    started = time.perf_counter()
    for _ in range(n):
        metrics.http_request("code.status", "POST", 200, 0.004)
        for _call in range(3):
            metrics.outbound_call("coder", operation("GET", "/workspaces/0a1b/builds"), "ok", 0.003)
    return (time.perf_counter() - started) / n * 1e6


def main(argv: list[str] | None = None) -> None:
    args = parse(argv or [])
    logging.disable(logging.WARNING)
    print(f"Metrics cost: {args.people} people, {args.duration:.0f} s a round, {args.rounds} "
          f"rounds each way, gunicorn -w 2 -k gthread --threads 8, SQLite  [target: < 5 %]",
          flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="portal-metrics-cost-"))
    devstack = start_devstack(build_seconds=args.build_seconds, agent_seconds=1.0)
    figures: dict[bool, list[float]] = {True: [], False: []}
    try:
        for _ in range(args.rounds):
            for metrics_on in (True, False):
                per_request, count = one_round(args, devstack, metrics_on, tmp)
                figures[metrics_on].append(per_request)
                print(f"  metrics {'on ' if metrics_on else 'off'}: {per_request * 1000:.2f} ms "
                      f"CPU per request over {count} requests", flush=True)
    finally:
        devstack.stop()
    on, off = statistics.mean(figures[True]), statistics.mean(figures[False])
    print(f"portal CPU per request: on {on * 1000:.2f} ms, off {off * 1000:.2f} ms, "
          f"difference {(on - off) / off * 100:+.1f} % (rounds of one mode differ by "
          f"{_spread(figures):.0f} % on a shared machine)")
    micro = recording_cost()
    print(f"recording one request's figures in-process: {micro:.1f} us "
          f"({micro / 1000 / off * 100:.2f} % of the CPU per request without metrics)")


def _spread(figures: dict[bool, list[float]]) -> float:
    return max((max(v) - min(v)) / min(v) * 100 for v in figures.values() if v)


if __name__ == "__main__":
    main()
