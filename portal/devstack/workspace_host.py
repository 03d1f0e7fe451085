"""The simulated Coder's workspaces as real processes on this machine (the embedded default).

Where real Coder runs the template's container and its agent, this runs, for each
start build of a workspace, in a home folder `<root>/<owner>/<workspace>/`:

1. the template's own `workspace-image/template/startup.sh`, with the environment
   the template's `coder_agent.main.env` gives it (main.tf): GIT_REPO, GITEA_URL,
   GITEA_USERNAME, GITEA_TOKEN, GITHUB_TOKEN, AI_GATEWAY_* ..., PROJECT_DIR = the
   home's `project` folder (the container's /home/coder/project); nothing of the
   portal's own environment. The script ends by starting `code-server` in the
   background: a stand-in on its PATH records the arguments instead;
2. then, when code-server is installed (`make ide`), one real code-server with
   those arguments, bound to a free loopback port instead of 127.0.0.1:13337.

The agent's lifecycle follows the script (`starting`, then `ready` or
`start_error`, as with `startup_script_behavior = "non-blocking"`) and the app's
health follows code-server's /healthz (`initializing`, `healthy`). A stop build
ends the processes, a delete build also removes the home folder. At most
`max_running` code-servers run at once: starting another stops the one idle the
longest, through `on_autostop` (the simulator records a stop build, as Coder's
1-hour auto-stop would). `shutdown()` ends every process; each process carries
the marker variable PORTAL_DEV_WORKSPACE in its environment, so even a terminal
that left code-server's process group is found and ended.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from portal.devstack.server import free_port

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_SCRIPT = REPO_ROOT / "workspace-image" / "template" / "startup.sh"
CODE_SERVER = REPO_ROOT / ".ide" / "node_modules" / "code-server" / "out" / "node" / "entry.js"
CONTAINER_HOME = "/home/coder"
MARKER = "PORTAL_DEV_WORKSPACE"
SCRIPT_TIMEOUT = 120.0
HEALTH_TIMEOUT = 90.0
ARGS_FILE = ".config/portal/code-server.args"

ARGS_WAIT = 30.0
# Stands in for code-server inside startup.sh: records the arguments, NUL-separated. The
# script starts it in the background, so it may run after the script has ended: it writes
# a temporary file and renames it, and the host waits for the file.
CODE_SERVER_STAND_IN = f"""#!/bin/sh
printf '%s\\0' "$@" > "$HOME/{ARGS_FILE}.tmp" && mv "$HOME/{ARGS_FILE}.tmp" "$HOME/{ARGS_FILE}"
"""


def installed_code_server() -> Path | None:
    """code-server as `make ide` installs it, or None."""
    return CODE_SERVER if CODE_SERVER.is_file() else None


@dataclass
class Spec:
    """What a start build gives the workspace: who owns it and its parameters."""

    workspace_id: str
    build_id: str
    owner: str
    workspace: str
    owner_email: str = ""
    owner_full_name: str = ""
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass
class Running:
    spec: Spec
    home: Path
    phase: str = "waiting"          # waiting, starting, ready, start_error, stopped
    healthy: bool = False
    port: int | None = None
    process: subprocess.Popen | None = None
    last_used: float = field(default_factory=time.monotonic)
    cancelled: threading.Event = field(default_factory=threading.Event)


class WorkspaceHost:
    """Runs the workspaces of one simulated Coder; every method is thread-safe."""

    def __init__(self, root: str | Path, *, gitea_url: str = "", ai_gateway_url: str = "",
                 code_server: Path | None = None, max_running: int = 4,
                 startup_script: Path = STARTUP_SCRIPT,
                 on_autostop: Callable[[str], None] | None = None):
        self.root = Path(root)
        self.gitea_url = gitea_url
        self.ai_gateway_url = ai_gateway_url
        self.code_server = code_server
        self.max_running = max(1, max_running)
        self.startup_script = startup_script
        self.on_autostop = on_autostop
        self._lock = threading.RLock()
        self._runs: dict[str, Running] = {}      # workspace id -> its current run
        self._bin = self.root / ".bin"
        self._bin.mkdir(parents=True, exist_ok=True)
        stand_in = self._bin / "code-server"
        stand_in.write_text(CODE_SERVER_STAND_IN)
        stand_in.chmod(0o755)

    # -- what the simulator asks ----------------------------------------------------------
    def home(self, owner: str, workspace: str) -> Path:
        return self.root / owner.lower() / workspace.lower()

    def start(self, spec: Spec, not_before: float = 0.0) -> None:
        """Prepare and start the workspace once the build is done (at `not_before`, epoch)."""
        run = Running(spec, self.home(spec.owner, spec.workspace))
        with self._lock:
            self._end(spec.workspace_id)
            self._runs[spec.workspace_id] = run
        threading.Thread(target=self._start, args=(run, not_before), daemon=True,
                         name=f"workspace:{spec.workspace}").start()

    def stop(self, workspace_id: str) -> None:
        with self._lock:
            self._end(workspace_id)

    def delete(self, owner: str, workspace: str, workspace_id: str) -> None:
        with self._lock:
            self._end(workspace_id)
        shutil.rmtree(self.home(owner, workspace), ignore_errors=True)

    def state(self, build_id: str) -> tuple[str, str] | None:
        """(agent lifecycle, app health) of the run of this build, or None if none."""
        with self._lock:
            run = next((r for r in self._runs.values() if r.spec.build_id == build_id), None)
        if run is None or run.phase == "stopped":
            return None
        lifecycle = {"waiting": "created"}.get(run.phase, run.phase)
        if self.code_server is None:
            return lifecycle, "healthy" if run.phase == "ready" else "initializing"
        return lifecycle, "healthy" if run.healthy else "initializing"

    def port(self, workspace_id: str) -> int | None:
        """The loopback port of the workspace's code-server once healthy; marks it used."""
        with self._lock:
            run = self._runs.get(workspace_id)
            if run is None or not run.healthy:
                return None
            run.last_used = time.monotonic()
            return run.port

    def project_dir(self, workspace_id: str) -> Path | None:
        with self._lock:
            run = self._runs.get(workspace_id)
        return run.home / "project" if run else None

    def running(self) -> list[str]:
        """Workspace ids with a live code-server process."""
        with self._lock:
            return [w for w, r in self._runs.items() if r.process and r.process.poll() is None]

    def shutdown(self) -> None:
        """End every process (portal dev exits)."""
        with self._lock:
            for workspace_id in list(self._runs):
                self._end(workspace_id)

    # -- the work ------------------------------------------------------------------------
    def _end(self, workspace_id: str) -> None:
        run = self._runs.pop(workspace_id, None)
        if run is None:
            return
        run.cancelled.set()
        run.phase, run.healthy = "stopped", False
        end_processes(run.process, workspace_id)

    def _start(self, run: Running, not_before: float) -> None:
        delay = not_before - time.time()
        if delay > 0 and run.cancelled.wait(delay):
            return
        run.phase = "starting"
        try:
            run.home.mkdir(parents=True, exist_ok=True)
            ok = self._run_script(run)
        except OSError as exc:
            log.warning("workspace %s: cannot run startup.sh: %s", run.spec.workspace, exc)
            ok = False
        with self._lock:
            if run.cancelled.is_set():
                return
            run.phase = "ready" if ok else "start_error"
        if ok and self.code_server is not None:
            self._launch(run)

    def environment(self, run: Running) -> dict[str, str]:
        """coder_agent.main.env of main.tf, plus what the agent's shell has (HOME, PATH...)."""
        p = run.spec.parameters
        name = run.spec.owner_full_name or run.spec.owner
        gateway = self.ai_gateway_url.rstrip("/")
        return {
            "HOME": str(run.home), "USER": run.spec.owner, "SHELL": "/bin/bash",
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "PATH": f"{self._bin}:/usr/local/bin:/usr/bin:/bin",
            "CODER": "true", "CODER_WORKSPACE_NAME": run.spec.workspace,
            "CODER_WORKSPACE_OWNER_NAME": run.spec.owner, MARKER: run.spec.workspace_id,
            "PROJECT_DIR": str(run.home / "project"),
            "GIT_REPO": p.get("git_repo", ""), "GITEA_URL": self.gitea_url,
            "GITEA_USERNAME": run.spec.owner, "GITEA_TOKEN": p.get("gitea_token", ""),
            "GITHUB_TOKEN": p.get("github_token", ""),
            "AI_GATEWAY_URL": gateway, "AI_GATEWAY_KEY": p.get("ai_gateway_key", ""),
            "AI_MODEL": p.get("ai_model", ""), "OPENAI_BASE_URL": f"{gateway}/v1",
            "PLATFORM_CA_FILE": "/etc/platform-ca/root.crt",
            "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": run.spec.owner_email,
            "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": run.spec.owner_email,
        }

    def _run_script(self, run: Running) -> bool:
        (run.home / ARGS_FILE).unlink(missing_ok=True)   # this start's, not a previous one's
        logs = run.home / ".startup.log"
        with open(logs, "wb") as out:
            try:
                done = subprocess.run(["bash", str(self.startup_script)], cwd=run.home,
                                      env=self.environment(run), stdout=out,
                                      stderr=subprocess.STDOUT, timeout=SCRIPT_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.warning("workspace %s: startup.sh took over %.0fs", run.spec.workspace,
                            SCRIPT_TIMEOUT)
                return False
        if done.returncode != 0:
            log.warning("workspace %s: startup.sh exited %s (see %s)", run.spec.workspace,
                        done.returncode, logs)
        return done.returncode == 0

    def code_server_args(self, run: Running, port: int) -> list[str]:
        """The arguments startup.sh gave code-server, bound to `port` instead."""
        recorded_at = run.home / ARGS_FILE
        deadline = time.monotonic() + ARGS_WAIT
        while not recorded_at.exists() and time.monotonic() < deadline:
            if run.cancelled.wait(0.1):
                break
        recorded = recorded_at.read_bytes().split(b"\0")[:-1]
        args = [a.decode() for a in recorded]
        for i, arg in enumerate(args):
            if arg == "--bind-addr" and i + 1 < len(args):
                args[i + 1] = f"127.0.0.1:{port}"
        return args

    def _launch(self, run: Running) -> None:
        self._make_room(run.spec.workspace_id)
        port = free_port()
        try:
            args = self.code_server_args(run, port)
        except OSError:
            log.warning("workspace %s: startup.sh did not start code-server", run.spec.workspace)
            return
        env = self.environment(run)
        env["PATH"] = env["PATH"].split(":", 1)[1]   # the real code-server, not the stand-in
        with self._lock:
            if run.cancelled.is_set():
                return
            with open(run.home / ".code-server.log", "ab") as out:
                run.process = subprocess.Popen(
                    [str(self.code_server), *args], cwd=run.home, env=env,
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True)
            run.port = port
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while time.monotonic() < deadline and not run.cancelled.is_set():
            if run.process.poll() is not None:
                log.warning("workspace %s: code-server exited %s", run.spec.workspace,
                            run.process.returncode)
                return
            if _healthy(port):
                run.healthy = True
                run.last_used = time.monotonic()
                return
            run.cancelled.wait(0.3)

    def _make_room(self, starting: str) -> None:
        """Stop the longest-idle code-servers until one more fits under max_running."""
        while True:
            with self._lock:
                live = [r for w, r in self._runs.items() if w != starting and r.process is not None
                        and r.process.poll() is None]
                if len(live) < self.max_running:
                    return
                idle = min(live, key=lambda r: r.last_used)
                self._end(idle.spec.workspace_id)
            log.info("workspace %s auto-stopped: at most %d run at once", idle.spec.workspace,
                     self.max_running)
            if self.on_autostop is not None:
                self.on_autostop(idle.spec.workspace_id)


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


def end_processes(process: subprocess.Popen | None, workspace_id: str, grace: float = 5.0) -> None:
    """End a code-server's process group, then anything else carrying the workspace's marker."""
    if process is not None and process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=grace)
        except (ProcessLookupError, PermissionError):
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=grace)
    for pid in marked_processes(workspace_id):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def marked_processes(workspace_id: str) -> list[int]:
    """Pids of this user's processes whose environment carries the workspace's marker."""
    marker = f"{MARKER}={workspace_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found
