"""Benchmark of the simulated Gitea's real git hosting (prints figures; asserts nothing).

What a repository on disk costs the dev stack and the tests: creating an
auto-initialised repository through the API (git init + the README commit),
and a clone, a one-file push and a refused reader push over smart HTTP
(`git http-backend` behind Gitea's checks). RUNS of each; median and p95 in ms.

    python -m tests.bench git_hosting
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from portal.devstack.gitea import make_gitea_sim
from portal.devstack.server import ServerThread
from tests.git_helpers import AdminAPI, join, make_person, make_project, run_git, with_credentials

RUNS = 20


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def report(name: str, values: list[float]) -> None:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(f"{name:<34} median {statistics.median(values):7.1f} ms   p95 {p95:7.1f} ms")


def main() -> None:
    app, sim = make_gitea_sim()
    with ServerThread(app) as server, tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        api = AdminAPI(server.url, sim.admin_token)
        project = make_project(api)
        writer, reader = make_person(api, "writer"), make_person(api, "reader")
        join(api, project, "Contributors", writer)
        join(api, project, "Readers", reader)

        create = [timed(lambda n=n: api.post(f"/api/v1/orgs/{project.org}/repos", expect=201, json={
            "name": f"repo-{n}", "auto_init": True, "default_branch": "main", "private": True}))
            for n in range(RUNS)]
        clones = [timed(lambda n=n: run_git("clone", "-q", with_credentials(
            project.clone_url, writer.login, writer.token), str(work / f"c{n}")))
            for n in range(RUNS)]
        clone = work / "c0"

        def push(n: int) -> None:
            (clone / f"f{n}.txt").write_text(f"{n}\n")
            run_git("add", ".", cwd=clone)
            run_git("commit", "-qm", f"change {n}", cwd=clone)
            run_git("push", "-q", "origin", "main", cwd=clone)
        pushes = [timed(lambda n=n: push(n)) for n in range(RUNS)]

        refused_clone = work / "r"
        run_git("clone", "-q", with_credentials(project.clone_url, reader.login, reader.token),
                str(refused_clone))
        run_git("commit", "-q", "--allow-empty", "-m", "no", cwd=refused_clone)
        refusals = [timed(lambda: run_git("push", "-q", "origin", "main", cwd=refused_clone,
                                          check=False)) for _ in range(RUNS)]
    print(f"simulated Gitea, real git ({RUNS} runs each)")
    report("create auto-init repository (API)", create)
    report("clone over smart HTTP", clones)
    report("commit + push one file", pushes)
    report("reader push refused (hook)", refusals)


if __name__ == "__main__":
    main()
