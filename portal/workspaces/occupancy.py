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

from ..services import Services
from ..tokens import aware

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


def _time(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value or value.startswith("0001-"):
        return None
    try:
        return aware(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def from_workspaces(workspaces: list[dict], read_at: dt.datetime | None = None) -> Occupancy:
    """Pure: the occupants among Coder workspace JSONs (a start build not yet stopped)."""
    out: dict[str, Occupant] = {}
    for ws in workspaces:
        build = ws.get("latest_build") if isinstance(ws.get("latest_build"), dict) else {}
        status = build.get("status")
        if build.get("transition") != "start" or status not in OCCUPYING:
            continue
        if isinstance(ws.get("id"), str):
            out[ws["id"]] = Occupant(ws["id"], str(ws.get("owner_name") or ""),
                                     str(ws.get("name") or ""), status,
                                     _time(ws.get("last_used_at")))
    if read_at is None:
        return Occupancy(tuple(out.values()))
    return Occupancy(tuple(out.values()), read_at)


def read(services: Services) -> Occupancy:
    """The host now: one search per occupying status. Raises ServiceError."""
    read_at = dt.datetime.now(dt.timezone.utc)  # before the reads: what they show is at least this new
    found: list[dict] = []
    for status in OCCUPYING:
        found.extend(services.coder.search_workspaces(f"status:{status}"))
    return from_workspaces(found, read_at)
