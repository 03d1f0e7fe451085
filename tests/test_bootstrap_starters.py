"""compose/bootstrap.sh's starters step, run for real against the simulated Gitea.

The script talks to Gitea with `docker compose exec -T gitea curl ... http://127.0.0.1:3000`;
a stand-in `docker` on PATH runs that curl on this machine against the simulator
instead, so the script's own requests (contract-checked by the gitea_sim fixture) are
what is tested: a first run makes the starters, a second run changes nothing.
"""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import requests

from portal.devstack.gitea_templates import starter_files
from tests.test_gitea_generate import STARTERS

ROOT = STARTERS.parent.parent
FAKE_DOCKER = """#!/usr/bin/env bash
# docker compose exec -T [-u user] [-e K=V] SERVICE curl ARGS...: curl ARGS against the simulator.
args=("$@")
for i in "${!args[@]}"; do
  if [ "${args[$i]}" = curl ]; then
    rest=("${args[@]:$((i + 1))}")
    exec curl "${rest[@]//http:\\/\\/127.0.0.1:3000/$SIM_URL}"
  fi
done
echo "fake docker: unexpected call: $*" >&2
exit 2
"""


@pytest.fixture
def bootstrap(tmp_path, gitea_sim):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    compose = tmp_path / "compose"
    (compose / "generated").mkdir(parents=True)
    shutil.copy(ROOT / "compose" / "bootstrap.sh", compose / "bootstrap.sh")
    (tmp_path / "workspace-image").mkdir()
    (tmp_path / "workspace-image" / "starters").symlink_to(STARTERS)
    (compose / ".env").write_text("PORTAL_HOST=portal.example.com\nAUTH_HOST=auth.example.com\n")
    (compose / "generated" / "portal.env").write_text(f"GITEA_ADMIN_TOKEN={gitea_sim.admin_token}\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "SIM_URL": gitea_sim.url,
           "HOME": str(tmp_path)}

    def run() -> str:
        proc = subprocess.run(["bash", str(compose / "bootstrap.sh"), "starters"], env=env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout
    return run


def _writes(gitea_sim) -> list[str]:
    return [f"{e.method} {e.path}" for e in gitea_sim.exchanges if e.method != "GET"]


def test_first_run_makes_the_starters_a_second_changes_nothing(bootstrap, gitea_sim):
    out = bootstrap()
    assert out.count(": pushed") == 3
    state = gitea_sim.sim.state
    names = ("python", "cpp", "empty")
    repos = {name: state.repo("starters", name) for name in names}
    assert {name: (r.template, r.private, r.default_branch) for name, r in repos.items()} == \
        dict.fromkeys(names, (True, False, "main"))
    assert {name: state.repo_files(r) for name, r in repos.items()} == \
        {name: starter_files(STARTERS / name) for name in names}
    assert state.repo("starters", "python").description.startswith("Python:")
    writes = len(_writes(gitea_sim))
    assert writes == 1 + 3 * 2  # the organization, then each repository and its commit
    out = bootstrap()
    assert ": pushed" not in out
    assert len(_writes(gitea_sim)) == writes  # the second run only read


def test_a_run_stopped_half_way_is_completed_and_a_withdrawn_starter_stays_withdrawn(
        bootstrap, gitea_sim):
    bootstrap()
    state = gitea_sim.sim.state
    state.repo("starters", "cpp").template = False          # an administrator withdrew it
    gitea_sim.sim.delete_repo("starters", "empty")
    gitea_sim.recorder.clear()
    # A repository created by a run that stopped before its commit: empty, no template flag.
    created = requests.post(f"{gitea_sim.url}/api/v1/orgs/starters/repos", timeout=10,
                            headers={"Authorization": f"token {gitea_sim.admin_token}"},
                            json={"name": "empty", "auto_init": False, "private": False})
    assert created.status_code == 201 and created.json()["empty"] is True
    out = bootstrap()
    assert "starter empty: pushed" in out and out.count(": pushed") == 1
    assert state.repo("starters", "empty").template
    assert state.repo_files(state.repo("starters", "empty")) == starter_files(STARTERS / "empty")
    assert not state.repo("starters", "cpp").template
    assert "PATCH /api/v1/repos/starters/cpp" not in _writes(gitea_sim)
