"""The reconcile pass's question before a start or create: is there a free place?

Reads Coder's live occupancy (only when a limit is set) and asks admission for a place.
Today the pass calls this (portal/provisioning.py); in the reconciler tier the worker's tick
reads the occupancy once and calls admission.admit_waiting() to enqueue those admitted.
"""
from __future__ import annotations

from ..models import Project, User, WorkspaceState
from ..services import Services
from . import admission, occupancy, sizes
from .admission import Decision

OVER_LIMIT = ("You already run as many workspaces as one person may. Stop one to get "
              "your place sooner.")


def size_of(services: Services, user: User, project: Project, state: WorkspaceState):
    return sizes.chosen(services.settings.workspace_sizes, user, project, state)


def ask(services: Services, user: User, project: Project, state: WorkspaceState) -> Decision:
    """May this pass start the workspace now? Raises ServiceError when Coder cannot be read."""
    settings = services.settings
    if admission.limits(settings).unlimited:
        return Decision(True)
    size = sizes.chosen(settings.workspace_sizes, user, project, state)
    return admission.request(settings, user, project, occupancy.read(services), size.name)


def waiting_message(decision: Decision) -> str:
    if decision.ahead == 0:
        return "you are next"
    return f"{decision.ahead} ahead of you"
