"""Live state of the workspaces the portal manages, read from Coder in batches.

One `GET /workspaces?q=id:a,b,c` per `CHUNK` workspaces (never one call per row).
"Stuck" = the latest build failed, or it is still not ready (and not stopped) longer
than PORTAL_BUILD_TIMEOUT after its build started.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from portal.clients.coder import CoderWorkspace, readiness
from portal.clients.http import ServiceError
from portal.models import WorkspaceState, utcnow
from portal.services import Services
from portal.stages import LiveState, live_of

CHUNK = 100
STATES = tuple(s.value for s in LiveState if s is not LiveState.unknown)
FILTERS = STATES + ("stuck",)


@dataclass(frozen=True)
class Live:
    state: LiveState                  # LiveState.unknown when Coder was not read
    message: str = ""
    last_build: dt.datetime | None = None
    stuck: bool = False

    @property
    def running(self) -> bool:
        return self.state == LiveState.running


def of(ws: CoderWorkspace | None, build_timeout: int, now: dt.datetime | None = None) -> Live:
    """The Live view of one Coder workspace (None: not in Coder)."""
    if ws is None:
        return Live(LiveState.missing,
                    "Coder does not know this workspace (deleted outside the portal?).")
    status = readiness(ws)
    started = ws.latest_build.created_at
    state = live_of(status.stage)
    late = (state in (LiveState.starting, LiveState.stopping, LiveState.deleting) and started is not None
            and (now or utcnow()) - started > dt.timedelta(seconds=build_timeout))
    message = status.message
    if late:
        message = f"Not ready {build_timeout} s after its build started: {status.message}"
    return Live(state, message, started, stuck=status.failed or late)


def fetch(services: Services, workspace_ids: Iterable[str]) -> dict[str, CoderWorkspace]:
    """id -> Coder workspace, in ceil(n / CHUNK) calls. Raises ServiceError."""
    ids = [i for i in dict.fromkeys(workspace_ids) if i]
    found: dict[str, CoderWorkspace] = {}
    for start in range(0, len(ids), CHUNK):
        for ws in services.coder.workspaces_by_id(ids[start:start + CHUNK]):
            found[ws.id] = ws
    return found


def states_of(services: Services, rows: Iterable[WorkspaceState]
              ) -> tuple[dict[int, Live], str | None]:
    """WorkspaceState id -> Live, and the reason when Coder could not be read."""
    rows = list(rows)
    try:
        found = fetch(services, (r.coder_workspace_id for r in rows if r.coder_workspace_id))
    except ServiceError as exc:
        return ({r.id: Live(LiveState.unknown, f"Coder could not be read; last seen: {r.stage}.")
                 for r in rows}, exc.user_message)
    timeout, now = services.settings.build_timeout, utcnow()
    out = {}
    for r in rows:
        if not r.coder_workspace_id:
            out[r.id] = Live(LiveState.not_created, "Not created yet.")
        else:
            out[r.id] = of(found.get(r.coder_workspace_id), timeout, now)
    return out, None
