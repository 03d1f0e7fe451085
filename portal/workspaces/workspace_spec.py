"""What a person's workspace is made from: the template and the rich parameters.

Creating a workspace, and starting one, sends the parameters the template declares
(portal/workspaces/workspace_params.py); the template's id is cached per process for a few
minutes and looked up again when Coder says it was replaced.
"""
from __future__ import annotations

import threading
import time

from portal.people import ai_keys, github_tokens, tokens
from portal.clients.http import ServiceError
from portal.extensions import db
from portal.models import Project, User, WorkspaceState
from portal.groups.permissions import acting_role
from portal.services import Services
from portal.workspaces.workspace_params import PARAMETERS
from portal.workspaces import sizes

WORKSPACE_TTL_MS = 60 * 60 * 1000  # auto-stop one hour after the last activity
TEMPLATE_IDS: dict[tuple[str, str], tuple[float, str]] = {}
_TEMPLATE_TTL = 300.0
_template_lock = threading.Lock()


class TemplateMissing(Exception):
    """The configured template does not exist in Coder (message is for people)."""


def _template_id(services: Services) -> str:
    key = (services.settings.coder_url, services.settings.coder_template)
    with _template_lock:
        cached = TEMPLATE_IDS.get(key)
    if cached and time.monotonic() - cached[0] < _TEMPLATE_TTL:
        return cached[1]
    template = services.coder.template_by_name(None, services.settings.coder_template)
    with _template_lock:
        TEMPLATE_IDS[key] = (time.monotonic(), template.id)
    return template.id


def workspace_parameters(services: Services, user: User, project: Project, *,
                         create: bool = False) -> dict[str, str]:
    """The rich parameters of the person's workspace (names declared in workspace_params):
    the size's CPU and memory at every start, its disk only at create (immutable)."""
    gitea_login = user.username
    values = {
        "git_repo": project.clone_url or "",
        # a reader's workspace can clone but holds no token that could push (least privilege)
        "gitea_token": tokens.gitea_token(services, user, gitea_login,
                                          write=_can_write(user, project)),
        # Always sent, "" included, so that a deleted token is gone at the next start.
        "github_token": github_tokens.value(services, user) or "",
        "ai_gateway_key": ai_keys.key_for_workspace(services, user)[0],
    }
    state = db.session.scalar(db.select(WorkspaceState).where(
        WorkspaceState.user_id == user.id, WorkspaceState.project_id == project.id))
    size = sizes.chosen(services.settings.workspace_sizes, user, project, state)
    values.update(sizes.parameters(size, create=create))
    model = ai_keys.default_model(services)
    if model:  # else the template's default (an option list refuses "")
        values["ai_model"] = model
    unknown = set(values) - set(PARAMETERS)
    assert not unknown, f"parameters not declared in workspace_params: {unknown}"
    return values


def _can_write(user: User, project: Project) -> bool:
    role = acting_role(user, project)
    return role is not None and role.can_write


def import_token(services: Services, project: Project) -> str | None:
    """The project creator's GitHub token, for importing a github.com source repository."""
    if not project.source_url or project.created_by_id is None:
        return None
    return github_tokens.value(services, db.session.get(User, project.created_by_id))


def create_workspace(services: Services, as_user, user: User, project: Project) -> dict:
    params = workspace_parameters(services, user, project, create=True)
    for attempt in (1, 2):
        try:
            template_id = _template_id(services)
        except ServiceError as exc:
            if exc.status == 404:
                raise TemplateMissing(
                    f"The workspace template '{services.settings.coder_template}' does not exist "
                    "in Coder. An administrator must push it.") from None
            raise
        try:
            return as_user.create_workspace("me", project.workspace_name, template_id, params,
                                            ttl_ms=WORKSPACE_TTL_MS)
        except ServiceError as exc:
            if exc.status == 409:  # created by a pass that lost its lease: adopt it
                existing = as_user.get_workspace("me", project.workspace_name)
                if existing is not None:
                    return existing
            if attempt == 1 and exc.status in (400, 404) and template_id in exc.message:
                _forget_template(services)  # the template was replaced since we cached its id
                continue
            raise
    raise AssertionError("unreachable")


def _forget_template(services: Services) -> None:
    with _template_lock:
        TEMPLATE_IDS.pop((services.settings.coder_url, services.settings.coder_template), None)
