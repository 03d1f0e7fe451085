"""Who occupies the host now, from Coder's live state (workspaces started outside the portal too).

A workspace occupies a place while its latest build is a start that is pending, starting or
running (a pre-warm build included). Coder's workspace search takes one `status:` value
(coderd/searchquery/search.go, `httpapi.ParseCustom(... "status" ...)`), so reading the
host is one call per occupying status, with the admin token (it sees every workspace).
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from portal.clients.coder import CoderWorkspace
from portal.services import Services

OCCUPYING = ("pending", "starting", "running")


@dataclass(frozen=True)
class Occupant:
    workspace_id: str
    owner: str
    name: str
    status: str
    last_used_at: dt.datetime | None = None


@dataclass(frozen=True)
class Occupancy:
    occupants: tuple[Occupant, ...] = ()
    read_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))

    @property
    def total(self) -> int:
        return len(self.occupants)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(o.workspace_id for o in self.occupants)

    def per_owner(self) -> Counter:
        return Counter(o.owner.lower() for o in self.occupants)

    def of_owner(self, owner: str) -> list[Occupant]:
        return [o for o in self.occupants if o.owner.lower() == owner.lower()]

    def idle_first(self) -> list[Occupant]:
        """Longest unused first (Coder's `last_used_at`; never used counts as oldest)."""
        oldest = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
        return sorted(self.occupants, key=lambda o: o.last_used_at or oldest)

    def least_recently_used(self, owner: str) -> Occupant | None:
        mine = [o for o in self.idle_first() if o.owner.lower() == owner.lower()]
        return mine[0] if mine else None


def from_workspaces(workspaces: list[CoderWorkspace],
                    read_at: dt.datetime | None = None) -> Occupancy:
    """Pure: the occupants among Coder workspaces (a start build not yet stopped)."""
    out: dict[str, Occupant] = {}
    for ws in workspaces:
        build = ws.latest_build
        if build.transition != "start" or build.status not in OCCUPYING:
            continue
        out[ws.id] = Occupant(ws.id, ws.owner_name, ws.name, build.status, ws.last_used_at)
    if read_at is None:
        return Occupancy(tuple(out.values()))
    return Occupancy(tuple(out.values()), read_at)


def read(services: Services) -> Occupancy:
    """The host now: one search per occupying status. Raises ServiceError."""
    read_at = dt.datetime.now(dt.timezone.utc)  # before the reads: what they show is at least this new
    found: list[CoderWorkspace] = []
    for status in OCCUPYING:
        found.extend(services.coder.search_workspaces(f"status:{status}"))
    return from_workspaces(found, read_at)


def read_owner(services: Services, owner: str) -> Occupancy:
    """One person's share of the host: ONE call for their workspaces (`owner:`), whatever
    the host holds. Enough where only the per-person limit applies. Raises ServiceError."""
    read_at = dt.datetime.now(dt.timezone.utc)
    return from_workspaces(services.coder.list_workspaces(owner), read_at)
