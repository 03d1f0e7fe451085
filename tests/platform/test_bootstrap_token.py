"""`./bootstrap.sh coder` mints the portal's owner token within the owners' cap and
renews it in time, run against a stand-in `docker` (tests/platform/fake_docker.py).

Coder v2.27 caps an owner's token at CODER_MAX_ADMIN_TOKEN_LIFETIME (168h by default;
coder/coder#18267, coderd/apikey.go): a --lifetime above it is refused, and under
`set -euo pipefail` that ended the whole bootstrap.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from . import fake_docker
from .conftest_helpers import BOOTSTRAP, ENV_EXAMPLE, service_env
from .fake_docker import NEW_KEY
from .test_upstream import go_duration
from .tools import clean_env

OLD_KEY = "oldkey0001-0123456789abcdefghijkl"


def run_bootstrap(tmp_path, *, stored_key: str | None, days_left: float):
    work = tmp_path / "compose"
    work.mkdir()
    shutil.copy(BOOTSTRAP, work / "bootstrap.sh")
    (work / ".env").write_text(ENV_EXAMPLE.read_text().replace("CHANGE_ME", "test-value"))
    if stored_key:
        (work / "generated").mkdir()
        (work / "generated" / "portal.env").write_text(f"CODER_ADMIN_API_KEY={stored_key}\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(f"#!/bin/sh\nexec {sys.executable} {fake_docker.__file__} \"$@\"\n")
    docker.chmod(0o755)
    log = tmp_path / "docker.log"
    expires = datetime.now(timezone.utc) + timedelta(days=days_left)
    cap_hours = go_duration(service_env("coder")["CODER_MAX_ADMIN_TOKEN_LIFETIME"]) / 3600
    env = clean_env(PATH=f"{bin_dir}:/usr/bin:/bin", FAKE_DOCKER_LOG=str(log),
                    FAKE_TOKEN_EXPIRES=expires.isoformat().replace("+00:00", "Z"),
                    FAKE_MAX_ADMIN_LIFETIME_HOURS=str(cap_hours))
    proc = subprocess.run(["bash", str(work / "bootstrap.sh"), "coder"], capture_output=True,
                          text=True, timeout=120, env=env)
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    generated = (work / "generated" / "portal.env").read_text() if \
        (work / "generated" / "portal.env").exists() else ""
    return proc, calls, generated


def lifetimes(calls) -> list[str]:
    return [c[c.index("--lifetime") + 1] for c in calls if "tokens" in c and "create" in c]


def test_first_bootstrap_mints_the_token_within_the_owners_cap(tmp_path):
    proc, calls, generated = run_bootstrap(tmp_path, stored_key=None, days_left=0)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"CODER_ADMIN_API_KEY={NEW_KEY}" in generated
    assert lifetimes(calls) == [service_env("coder")["CODER_MAX_ADMIN_TOKEN_LIFETIME"]]


@pytest.mark.parametrize("days_left,renewed", [(30, False), (14.5, False), (13.5, True), (2, True)])
def test_the_token_is_renewed_once_fewer_than_14_days_are_left(tmp_path, days_left, renewed):
    proc, calls, generated = run_bootstrap(tmp_path, stored_key=OLD_KEY, days_left=days_left)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reads = [c for c in calls if any(a.endswith(f"/api/v2/users/me/keys/{OLD_KEY.split('-')[0]}")
                                     for a in c)]
    assert reads, "the expiry is read from Coder"
    assert (f"CODER_ADMIN_API_KEY={NEW_KEY}" in generated) is renewed
    assert bool(lifetimes(calls)) is renewed
    if renewed:
        assert "expires in" in proc.stdout
