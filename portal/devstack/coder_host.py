"""What the simulated Coder's builds do to real workspace processes (workspace_host.py).

Coder's provisioner applies the template on a build: a start creates the
container whose agent runs startup.sh; a stop destroys it (the home volume
stays); a delete destroys the volume too. Here a start build, once its job has
succeeded, starts the workspace on this machine; a stop ends its processes; a
delete also removes its home folder. The agent's lifecycle and the app's health
then follow the real processes instead of the clock.

Callers hold `CoderStore.lock`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from portal.devstack.coder_state import Build, Workspace
from portal.devstack.workspace_host import Spec, WorkspaceHost

if TYPE_CHECKING:
    from portal.devstack.coder_store import CoderStore


def on_build(store: "CoderStore", host: WorkspaceHost, ws: Workspace, build: Build) -> None:
    owner = store.users[ws.owner_id]
    if build.transition == "start":
        if build.fail_message:
            host.stop(ws.id)       # the apply fails: no container, no agent
            return
        params = {p["name"]: p["value"] for p in build.parameters}
        host.start(Spec(ws.id, build.id, owner.username, ws.name, owner.email, owner.name,
                        params), not_before=build.completed_at)
    elif build.transition == "stop":
        host.stop(ws.id)
    elif build.transition == "delete":
        host.delete(owner.username, ws.name, ws.id)


def agent_state(host: WorkspaceHost, build: Build, clock_state: tuple[str, str] | None
                ) -> tuple[str, str, str] | None:
    """(agent status, lifecycle, app health): the processes' when they run, else the clock's."""
    if clock_state is None:
        return None
    status, lifecycle = clock_state
    real = host.state(build.id) if status == "connected" else None
    if real is None:
        return status, lifecycle, "healthy" if lifecycle == "ready" else "initializing"
    return status, real[0], real[1]


def autostop(store: "CoderStore", workspace_id: str) -> None:
    """A stop build for a workspace the host stopped to make room (Coder's auto-stop)."""
    with store.lock:
        ws = store.workspaces.get(workspace_id)
        if ws is None or ws.latest.transition != "start":
            return
        store.add_build(ws, store.users[ws.owner_id], "stop", ws.latest.parameters)
