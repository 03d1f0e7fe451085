"""The reconcile pass's question before a start or create: is there a free place?

Reads Coder's live occupancy (only when a limit is set) and asks admission for a place. The
pass calls this (portal/workspaces/provisioning.py); those left waiting are admitted later by the worker's
tick (portal/workspaces/jobs.py: admit_waiting, then their passes are enqueued). A pre-warm
pass never takes a place in line: it builds only when a place is free and nobody waits, and
otherwise tries again at the sweep's next look.
"""
from __future__ import annotations

from portal.models import Project, User, WorkspaceState
from portal.services import Services
from portal.workspaces import admission, occupancy, sizes
from portal.workspaces.admission import Decision

OVER_LIMIT = ("You already run as many workspaces as one person may. Stop one to get "
              "your place sooner.")


def size_of(services: Services, user: User, project: Project, state: WorkspaceState):
    return sizes.chosen(services.settings.workspace_sizes, user, project, state)


def ask(services: Services, user: User, project: Project, state: WorkspaceState) -> Decision:
    """May this pass start the workspace now? Raises ServiceError when Coder cannot be read."""
    settings = services.settings
    limits = admission.limits(settings)
    if limits.unlimited:
        return Decision(True)
    seen = _seen(services, limits, user)
    if state.prepared:  # a pre-warm nobody is waiting for: never ahead of a person
        free = admission.may_prewarm(settings, seen)
        return Decision(free, prewarm=not free)
    size = sizes.chosen(settings.workspace_sizes, user, project, state)
    return admission.request(settings, user, project, seen, size.name)


def _seen(services: Services, limits: admission.Limits, user: User) -> occupancy.Occupancy:
    """What the decision must see: the whole host under a host-wide limit; without one only
    this person's places count, so one small call for their workspaces, not the host's three
    searches that grow with every workspace started."""
    if limits.max_running is not None:
        return occupancy.read(services)
    return occupancy.read_owner(services, user.username)


def waiting_message(decision: Decision) -> str:
    if decision.prewarm:
        return "preparing once a place is free"
    if decision.ahead == 0:
        return "you are next"
    return f"{decision.ahead} ahead of you"
