"""Coder calls per worker tick while N workspaces build (prints; asserts nothing).

    python -m tests.bench observe [--sizes 10,100,500]

For each N: one person's N projects whose workspaces exist in the simulated Coder (builds
longer than the run) and whose rows say "building"; then ticks of the observation
(portal/workspaces/observe.py) are timed. Printed: Coder calls per tick (target O(1) in N: one
per 100 workspaces) and the tick's wall time; then the same with every tab watched (the
build-log tail is read for watched rows only).
"""
from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from portal.extensions import db
from portal.models import WorkspaceState, utcnow
from portal.services import current_services
from portal.workspaces import observe
from tests.fixtures.app import base_env, build_app
from tests.fixtures.devstack import stack_env
from tests.fixtures.devstack_coder import start_coder_sim
from tests.bench.code_tab import start_gitea_sim
from tests.provisioning_helpers import seed_in_flight


def run(n: int, ticks: int, tmp: Path) -> None:
    coder = start_coder_sim(build_seconds=0.2, agent_seconds=0.2)
    gitea = start_gitea_sim()
    try:
        app = build_app(base_env(tmp / str(n), **stack_env(coder, gitea)))
        with app.app_context():
            seed_in_flight(n, before_create=lambda: setattr(coder.sim, "build_seconds", 3600))
            for watched in (False, True):
                if watched:
                    db.session.execute(db.update(WorkspaceState).values(watched_at=utcnow()))
                    db.session.commit()
                before = coder.sim.count()
                started = time.perf_counter()
                for _ in range(ticks):
                    observe.observe(current_services(), observe.in_flight())
                wall = (time.perf_counter() - started) / ticks
                calls = (coder.sim.count() - before) / ticks
                print(f"  N={n:>4} building, {'every tab watched' if watched else 'none watched':>17}: "
                      f"{calls:.1f} Coder calls per tick, {wall * 1000:.0f} ms a tick")
    finally:
        coder.stop()
        gitea.server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench observe")
    parser.add_argument("--sizes", default="10,100,500")
    parser.add_argument("--ticks", type=int, default=5)
    args = parser.parse_args(argv or [])
    logging.disable(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="portal-observe-"))
    (tmp / "x").mkdir()
    print("Observation: Coder calls per worker tick (target: one per 100 workspaces in flight)")
    for n in (int(s) for s in args.sizes.split(",") if s.strip()):
        (tmp / str(n)).mkdir(exist_ok=True)
        run(n, args.ticks, tmp)
