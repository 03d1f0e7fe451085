"""Benchmark of admission control (prints figures; asserts nothing).

Limit 10 running workspaces, 100 people arriving at random over 60 s, each using their
workspace for a random 10-40 s. Time is SIMULATED (a virtual clock ticking once a second;
a start takes effect at once), so the run takes a few seconds, not minutes; the decisions
are the real ones: portal/workspaces/admission.py on a real SQLite database. Prints the
waiting time p50/p95/max (virtual seconds), the highest occupancy, a text chart of the
host's occupancy over time, and the CPU the portal (request() in passes) and the worker
(admit_waiting() each tick) spent deciding.

`python -m tests.bench admission [--limit 10 --people 100 --arrive 60 --seed 7]`
"""
from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from portal.clients.coder_types import workspace_from
from portal.extensions import db
from portal.models import Group, Project, User
from portal.services import current_services
from portal.workspaces import admission, occupancy
from tests.fixtures.app import base_env, build_app


def pct(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def _seed(n: int) -> list[tuple[int, int]]:
    group = Group(slug="bench", name="Bench")
    db.session.add(group)
    users = [User(sub=f"b{i}", email=f"b{i}@example.com", username=f"b{i:03d}") for i in range(n)]
    projects = [Project(group=group, slug=f"p{i}", name=f"P{i}") for i in range(n)]
    db.session.add_all(users + projects)
    db.session.commit()
    return [(u.id, p.id) for u, p in zip(users, projects)]


def _host(running: dict[str, tuple[str, float]]) -> occupancy.Occupancy:
    return occupancy.from_workspaces([
        workspace_from({"id": ws, "owner_name": owner, "name": ws,
                        "latest_build": {"id": f"b-{ws}", "transition": "start",
                                         "status": "running", "job": {"status": "succeeded"}}},
                       "GET", "/workspaces")
        for ws, (owner, _) in running.items()])


def run(limit: int, people: int, arrive: float, seed: int) -> None:
    rng = random.Random(seed)
    arrivals = sorted((rng.uniform(0, arrive), i) for i in range(people))
    use = {i: rng.uniform(10, 40) for i in range(people)}
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(base_env(Path(tmp), PORTAL_MAX_RUNNING_WORKSPACES=str(limit),
                                 PORTAL_MAX_RUNNING_PER_PERSON="2"))
        with app.app_context():
            settings = current_services().settings
            pairs = _seed(people)
            index = {uid: i for i, (uid, _) in enumerate(pairs)}
            running: dict[str, tuple[str, float]] = {}  # ws -> (owner, ends at)
            asked: dict[int, float] = {}
            waited: list[float] = []
            chart: list[int] = []
            cpu = {"portal": 0.0, "worker": 0.0}
            calls = {"portal": 0, "worker": 0}
            peak, t, nxt = 0, 0, 0

            def start(uid: int, pid: int, now: float) -> None:
                i = index[uid]
                running[f"ws{i}"] = (f"b{i:03d}", now + use[i])
                admission.started(db.session.get(User, uid), db.session.get(Project, pid), f"ws{i}")
                db.session.commit()
                waited.append(now - asked[i])

            while len(waited) < people:
                for ws in [w for w, (_, end) in running.items() if end <= t]:
                    del running[ws]
                while nxt < people and arrivals[nxt][0] <= t:  # passes of those arriving now
                    i = arrivals[nxt][1]
                    uid, pid = pairs[i]
                    asked[i] = arrivals[nxt][0]
                    c0 = time.process_time()
                    decision = admission.request(settings, db.session.get(User, uid),
                                                 db.session.get(Project, pid), _host(running))
                    cpu["portal"] += time.process_time() - c0
                    calls["portal"] += 1
                    if decision.admitted:
                        start(uid, pid, t)
                    nxt += 1
                c0 = time.process_time()  # the worker's tick after its observation
                admitted = admission.admit_waiting(settings, _host(running))
                cpu["worker"] += time.process_time() - c0
                calls["worker"] += 1
                for uid, pid in admitted:
                    start(uid, pid, t)
                peak = max(peak, len(running))
                chart.append(len(running))
                t += 1
    print(f"admission bench (simulated time, 1 s ticks): limit {limit}, {people} people "
          f"arriving over {arrive:.0f} s, using 10-40 s each, seed {seed}")
    print(f"  waiting time: p50 {pct(waited, 50):.0f} s, p95 {pct(waited, 95):.0f} s, "
          f"max {max(waited):.0f} s; served {len(waited)} of {people} in {t} s")
    print(f"  highest occupancy: {peak} (limit {limit})")
    for who in ("portal", "worker"):
        n = max(1, calls[who])
        print(f"  {who} CPU: {cpu[who] * 1000:.0f} ms in {calls[who]} decisions "
              f"({cpu[who] * 1000 / n:.2f} ms each)")
    print("  occupancy over time (one row per 5 s: the highest in it):")
    for start_s in range(0, len(chart), 5):
        level = max(chart[start_s:start_s + 5])
        print(f"  {start_s:4d}s |{'#' * level}{' ' * (limit - level)}| {level}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench admission")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--arrive", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv or [])
    run(args.limit, args.people, args.arrive, args.seed)


if __name__ == "__main__":
    main()
