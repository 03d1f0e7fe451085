"""The portal as production runs it, for crash tests and the load bench.

- `start_devstack()`: `python -m portal.devstack` in its own process (simulated Coder and
  Gitea, controlled over HTTP with /__sim/faults and /__sim/state);
- `start_gunicorn(env)`: `gunicorn wsgi:app` on a free loopback port, with its master and
  worker pids (from /proc: no psutil) so a test can SIGKILL workers;
- `throwaway_postgres()`: a PostgreSQL cluster outside pytest (the bench), like the fixture;
- `HttpPerson`: a requests.Session that signs in with the dev sign-in and drives the Code tab.
Everything listens on 127.0.0.1 and every wait is bounded.
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.fixtures.postgres import free_port, throwaway_postgres  # noqa: F401 - re-exported

ROOT = Path(__file__).resolve().parent.parent
CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')
STAGE_RE = re.compile(r'data-stage="([a-z_]+)"')
DELAY_RE = re.compile(r"load delay:(\d+)ms")
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- /proc ----------------------------------------------------------------------------------
def child_pids(pid: int) -> list[int]:
    """Direct children of `pid` (what `pgrep -P` prints), read from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields_after_name = stat.rsplit(")", 1)[1].split()
        if int(fields_after_name[1]) == pid:
            out.append(int(entry))
    return sorted(out)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (exited ones count as 0)."""
    total = 0
    for pid in pids:
        try:
            parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(parts[11]) + int(parts[12])  # utime, stime (fields 14 and 15)
    return total / CLK_TCK


def rss_mb(pids: list[int]) -> float:
    total_kb = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
    return total_kb / 1024


# -- the simulators in their own process -------------------------------------------------------
@dataclass
class Devstack:
    proc: subprocess.Popen
    env: dict[str, str]

    @property
    def coder_url(self) -> str:
        return self.env["CODER_URL"]

    @property
    def gitea_url(self) -> str:
        return self.env["GITEA_URL"]

    def coder_faults(self, **knobs) -> dict:
        return _ok(requests.post(f"{self.coder_url}/__sim/faults", json=knobs, timeout=5)).json()

    def coder_state(self) -> dict:
        return _ok(requests.get(f"{self.coder_url}/__sim/state", timeout=5)).json()

    def gitea_state(self) -> dict:
        return _ok(requests.get(f"{self.gitea_url}/__sim/state", timeout=5)).json()

    def stop(self) -> None:
        _terminate(self.proc)


def start_devstack(build_seconds: float = 2.0, agent_seconds: float = 0.5,
                   timeout: float = 20.0) -> Devstack:
    proc = subprocess.Popen([sys.executable, "-m", "portal.devstack", "--build-seconds",
                             str(build_seconds), "--agent-seconds", str(agent_seconds)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    env: dict[str, str] = {}
    watchdog = threading.Timer(timeout, proc.kill)  # bounds the readline()s below
    watchdog.start()
    try:
        for line in proc.stdout:
            line = line.strip()
            if line == "READY":
                return Devstack(proc, env)
            name, _, value = line.partition("=")
            env[name] = value
    except BaseException:
        _terminate(proc)
        raise
    finally:
        watchdog.cancel()
    _terminate(proc)
    raise RuntimeError("python -m portal.devstack did not start")


# -- gunicorn -------------------------------------------------------------------------------
@dataclass
class Gunicorn:
    proc: subprocess.Popen
    port: int
    log_path: Path
    workers: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        return child_pids(self.proc.pid)

    def pids(self) -> list[int]:
        return [self.proc.pid, *self.worker_pids()]

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until every worker is up and /healthz answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                if (len(self.worker_pids()) >= self.workers
                        and requests.get(f"{self.url}/healthz", timeout=2).status_code == 200):
                    return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not become ready:\n{self.log()[-3000:]}")

    def kill_workers(self) -> list[int]:
        """SIGKILL every worker (the master respawns them); returns the killed pids."""
        pids = self.worker_pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return pids

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        _terminate(self.proc)


def start_gunicorn(env: dict[str, str], log_dir: Path, workers: int = 2, worker_class: str = "sync",
                   threads: int = 1, extra: tuple[str, ...] = ()) -> Gunicorn:
    port = free_port()
    log_path = Path(log_dir) / f"gunicorn-{port}.log"
    cmd = [str(Path(sys.executable).parent / "gunicorn"), "-w", str(workers), "-k", worker_class,
           "--threads", str(threads), "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "3",
           *extra, "wsgi:app"]
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8",
                "PORTAL_BIND_HOST": "127.0.0.1", **env}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    server = Gunicorn(proc, port, log_path, workers)
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    return server


# -- the reconciler tier: `flask portal worker` processes --------------------------------------
@dataclass
class WorkerProcess:
    proc: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL: whatever job it was running is lost (the sweep re-enqueues its row)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        _terminate(self.proc)


def start_worker(env: dict[str, str], log_dir: Path, threads: int = 2) -> WorkerProcess:
    log_path = Path(log_dir) / f"worker-{uuid.uuid4().hex[:6]}.log"
    cmd = [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "portal", "worker",
           "--threads", str(threads)]
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", **env}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    return WorkerProcess(proc, log_path)


def _terminate(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()


def _ok(resp: requests.Response) -> requests.Response:
    resp.raise_for_status()
    return resp


# -- PostgreSQL outside pytest: tests/fixtures/postgres.py's throwaway_postgres ----------------
def fresh_database(server_url: str) -> str:
    import psycopg
    name = f"bench_{uuid.uuid4().hex[:8]}"
    dsn = server_url.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server_url}/{name}"


def postmaster_pids(database_url: str) -> list[int]:
    """The PostgreSQL server's processes (postmaster and backends) listening on that port."""
    port = database_url.rsplit(":", 1)[1].split("/")[0]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
                if cmd and cmd[0].endswith(b"postgres") and f"-p {port}".encode() in b" ".join(cmd):
                    return [int(entry), *child_pids(int(entry))]
    return []


# -- a person in a browser ----------------------------------------------------------------------
@dataclass
class HttpPerson:
    base: str
    email: str
    session: requests.Session = field(default_factory=requests.Session)
    csrf: str = ""

    def __post_init__(self) -> None:
        self.session.trust_env = False

    def sign_in(self) -> None:
        page = _ok(self.session.get(f"{self.base}/auth/dev", timeout=10)).text
        token = CSRF_RE.search(page).group(1)
        resp = self.session.post(f"{self.base}/auth/dev", allow_redirects=False, timeout=10,
                                 data={"csrf_token": token, "email": self.email, "name": ""})
        assert resp.status_code == 302, resp.text[:300]
        self.csrf = CSRF_RE.search(_ok(self.session.get(f"{self.base}/", timeout=10)).text).group(1)

    def create_project(self, group: str, project: str) -> int:
        form = {"csrf_token": self.csrf, "name": group}
        resp = self.session.post(f"{self.base}/groups/new", data=form, allow_redirects=False,
                                 timeout=10)
        assert resp.status_code == 303, resp.text[:300]
        slug = resp.headers["Location"].rsplit("/", 1)[-1]
        resp = self.session.post(f"{self.base}/groups/{slug}/projects/new", allow_redirects=False,
                                 data={"csrf_token": self.csrf, "name": project}, timeout=10)
        assert resp.status_code == 303, resp.text[:300]
        return int(resp.headers["Location"].rsplit("/", 1)[-1])

    def code(self, project_id: int, action: str = "status", timeout: float = 10) -> str:
        """The Code tab as htmx drives it (GET the status poll, POST open/retry); the partial."""
        url = f"{self.base}/projects/{project_id}/code/{action}"
        headers = {"HX-Request": "true", "X-CSRFToken": self.csrf}
        resp = (self.session.get(url, timeout=timeout, headers=headers) if action == "status"
                else self.session.post(url, timeout=timeout, headers=headers))
        return _ok(resp).text


def stage_of(body: str) -> str | None:
    if "<iframe" in body:
        return "ready"
    match = STAGE_RE.search(body)
    return match.group(1) if match else None
