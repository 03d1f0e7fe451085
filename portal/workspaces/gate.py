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
    if state.prepared:  # a pre-warm nobody is waiting for: never ahead of a person
        if limits.max_running is None:  # only per-person limits: a pre-warm takes no place
            return Decision(True)
        free = admission.may_prewarm(settings, occupancy.read(services))
        return Decision(free, prewarm=not free)
    size = sizes.chosen(settings.workspace_sizes, user, project, state)
    # Without a host-wide limit only this person's places count: one small call for their
    # workspaces, not the whole host's (three searches growing with every workspace started).
    seen = (occupancy.read(services) if limits.max_running is not None
            else occupancy.read_owner(services, user.username))
    return admission.request(settings, user, project, seen, size.name)


def waiting_message(decision: Decision) -> str:
    if decision.prewarm:
        return "preparing once a place is free"
    if decision.ahead == 0:
        return "you are next"
    return f"{decision.ahead} ahead of you"
