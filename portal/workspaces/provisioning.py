"""reconcile(user, project): move reality toward the person's intent, one idempotent pass.

The intent ("my workspace for this project, running") and what the last pass
saw live in WorkspaceState, so any worker can serve any poll and a restart
loses nothing. A short database lease lets one worker at a time act on a row;
concurrent polls read the stored state instead of acting twice. Every outside
failure maps to a Status the Code tab can show: transient trouble keeps
polling, anything else shows the reason and a Retry button.
"""
from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import replace

from sqlalchemy.exc import IntegrityError

from portal.people import ai_keys, tokens
from portal import audit
from portal.clients.coder import CoderStage, CoderWorkspace, WorkspaceStatus, readiness
from portal.clients.http import (BadResponse, RateLimited, ServiceError, ServiceUnavailable,
                           Unauthorized)
from portal.extensions import db
from portal.groups.gitea_sync import GiteaIdentityConflict, RepositoryImportFailed, ensure_repository
from portal.groups.membership import heal_team_membership
from portal.models import Membership, Project, Role, User, WorkspaceState, utcnow
from portal.stages import DesiredState, Stage, stage_of
from portal.observability import ide_waits, metrics
from portal.services import Services
from portal.workspaces.workspace_spec import TemplateMissing, create_workspace, import_token, workspace_parameters
from portal.workspaces import admission, gate, lease
from portal.workspaces.status import STAGES, Status, stored_status

__all__ = ["STAGES", "Status", "stored_status", "reconcile", "want_running", "workspace_state",
           "ProvisioningFailed"]

log = logging.getLogger(__name__)

class ProvisioningFailed(Exception):
    """A failure that needs the person (or an admin) to act; message is for people."""


# -- state rows and leases ----------------------------------------------------------------
def workspace_state(user: User, project: Project) -> WorkspaceState:
    """The row for (user, project), created once even under concurrent first polls."""
    query = db.select(WorkspaceState).where(WorkspaceState.user_id == user.id,
                                            WorkspaceState.project_id == project.id)
    state = db.session.scalar(query)
    if state is None:
        db.session.add(WorkspaceState(user_id=user.id, project_id=project.id,
                                      stage=Stage.repository, desired_state=DesiredState.running,
                                      stage_started_at=utcnow(),
                                      coder_workspace_name=project.workspace_name))
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
        state = db.session.scalar(query)
    return state


def _remember(state: WorkspaceState, status: Status) -> None:
    """Keep what this pass saw: the Code tab's polls read it (portal/workspaces/status.py)."""
    state.last_error = None
    if status.transient or status.failed:
        return
    state.status_message = status.message
    state.log_tail = list(status.log_tail) or None
    state.status_warnings = list(status.warnings) or None


# -- intent -------------------------------------------------------------------------------
def want_running(user: User, project: Project, *, retry: bool = False) -> WorkspaceState:
    """Record "I want my workspace for this project running" (opening the Code tab, Retry)."""
    ide_waits.intent(user, project)
    state = workspace_state(user, project)
    state.desired_state = DesiredState.running
    if retry and state.stage == Stage.failed:
        state.set_stage(Stage.retry)
    db.session.commit()
    return state


# -- the pass -----------------------------------------------------------------------------
def settled(state: WorkspaceState) -> Status | None:
    """The stored status when no pass is due (a failure waits for Retry). None: a pass is due."""
    if state.stage == Stage.failed:
        return stored_status(state)
    return None


def reconcile(services: Services, user: User, project: Project, role: Role) -> Status:
    state = workspace_state(user, project)
    settled_status = settled(state)
    if settled_status is not None:
        return settled_status
    if state.repo_ready_at is not None:  # lazy self-heal of the Gitea team (no call when fresh)
        heal_team_membership(services, user, project, state)
    if state.leased_elsewhere():
        return stored_status(state)  # a pass is under way in another worker: show what it saw
    owner = uuid.uuid4().hex
    if not lease.acquire(state, owner, dt.timedelta(seconds=services.settings.reconcile_lease_seconds)):
        return stored_status(state)
    released = False
    try:
        status = with_ai_notice(services, user, state, _pass(services, user, project, role, state))
        _remember(state, status)
        lease.clear(state, owner)  # with the pass's own changes: one commit, no second round trip
        db.session.commit()
        released = True
        return status
    except ProvisioningFailed as exc:
        metrics.stage_failed(state.stage, metrics.reason_class(exc))
        db.session.rollback()
        state.set_stage(Stage.failed, str(exc))
        audit.record(user, "workspace.failed", f"{project.group.slug}/{project.slug}",
                     reason=str(exc)[:300])
        db.session.commit()
        return Status(Stage.failed, str(exc), failed=True)
    except (ServiceUnavailable, RateLimited) as exc:
        metrics.stage_failed(state.stage, metrics.reason_class(exc))
        db.session.rollback()
        return _transient_or_timeout(services, state, exc.user_message + " Retrying automatically.")
    except (Unauthorized, BadResponse) as exc:
        # The portal's own token refused, or a garbled reply (a proxy, an upgrade): fixed
        # outside the person's reach, so keep polling (until PORTAL_BUILD_TIMEOUT) and go on
        # by itself once an administrator or the service has fixed it.
        metrics.stage_failed(state.stage, metrics.reason_class(exc))
        db.session.rollback()
        return _transient_or_timeout(services, state, _explain(exc) + " Retrying automatically.")
    except ServiceError as exc:
        metrics.stage_failed(state.stage, metrics.reason_class(exc))
        db.session.rollback()
        state.set_stage(Stage.failed, _explain(exc))
        db.session.commit()
        return Status(Stage.failed, _explain(exc), failed=True)
    finally:
        if not released:
            lease.release(state, owner)


def _explain(exc: ServiceError) -> str:
    service = exc.service.capitalize()
    if isinstance(exc, Unauthorized):
        return (f"{service} refused the portal's credentials. An administrator must check "
                f"the portal's {service} token.")
    if isinstance(exc, BadResponse):
        return f"{service} sent a reply the portal could not understand ({exc.message})."
    return f"{service} refused the request: {exc.message}"


def _timed_out(services: Services, state: WorkspaceState) -> bool:
    return state.stage_older_than(services.settings.build_timeout)


def _transient_or_timeout(services: Services, state: WorkspaceState, message: str) -> Status:
    if _timed_out(services, state):
        state.set_stage(Stage.failed,
                        f"Gave up after {services.settings.build_timeout} s: {message}")
        db.session.commit()
        return Status(Stage.failed, state.last_error or message, failed=True)
    stage = state.stage if state.stage in STAGES else Stage.workspace
    state.last_error = message  # shown by the polls that do not wait for the next pass
    state.status_message = None
    db.session.commit()
    return Status(stage, message, transient=True)


def _pass(services: Services, user: User, project: Project, role: Role,
          state: WorkspaceState) -> Status:
    retrying = state.stage == Stage.retry
    # 1. Gitea: account, organization, teams, team of the role, repository (once).
    if state.repo_ready_at is None or not project.clone_url:
        state.set_stage(Stage.repository)
        db.session.commit()
        try:
            login, clone_url = ensure_repository(services.gitea, user, project, role,
                                                 source_token=import_token(services, project),
                                                 member_synced=_member_synced(user, project))
        except (GiteaIdentityConflict, RepositoryImportFailed) as exc:
            raise ProvisioningFailed(str(exc)) from None
        project.clone_url = clone_url
        state.repo_ready_at = utcnow()
        state.set_stage(Stage.account)
        db.session.commit()
        # One stage a pass, so that the Code tab shows each as it happens.
        return Status(Stage.account, "The repository is ready. Preparing your account…")

    # 2. Coder: the person's account and token.
    token = tokens.coder_token(services, user)

    # 3. The workspace: find or create, start when stopped, watch the build. The person's
    # token refused anywhere in it (revoked or expired early, or Coder lost it): forget it and
    # mint anew on the next pass (a refused admin token then fails the mint, said as such).
    try:
        return _workspace(services, token, user, project, state, retrying)
    except Unauthorized:
        db.session.rollback()
        tokens.forget(user, tokens.CODER_TOKEN)
        return Status(state.stage, "Renewing your workspace credentials…", transient=True)


def _workspace(services: Services, token: str, user: User, project: Project,
               state: WorkspaceState, retrying: bool) -> Status:
    """Find or create the workspace with the person's token, then act on what it shows."""
    as_user = services.coder.as_user(token)
    workspace = _find_workspace(as_user, state, project)
    if state.recreate_requested_at is not None:
        replacing = _replace(as_user, user, project, state, workspace, retrying)
        if replacing is not None:
            return replacing
    if workspace is None:
        if not state.wants_running:
            state.set_stage(Stage.stopped)
            return Status(Stage.stopped, "Your workspace is not created.", stopped=True)
        waiting = _wait_for_place(services, user, project, state)
        if waiting is not None:
            return waiting
        state.set_stage(Stage.workspace)
        try:
            workspace = create_workspace(services, as_user, user, project)
        except TemplateMissing as exc:
            raise ProvisioningFailed(str(exc)) from None
        state.coder_workspace_id = workspace.id
        ide_waits.saw(user, project, "first_build")
        state.disk_size = gate.size_of(services, user, project, state).disk_size
        admission.started(user, project, workspace.id)
        audit.record(user, "workspace.create", project.workspace_name, project_id=project.id)
        db.session.commit()

    status = readiness(workspace)
    state.build_id = status.build_id
    state.observed_at = utcnow()
    return _act_on(services, as_user, token, user, project, state, workspace, status, retrying)


def _replace(as_user, user: User, project: Project, state: WorkspaceState,
             workspace: CoderWorkspace | None, retrying: bool) -> Status | None:
    """A confirmed size with another disk (disk_size is immutable in the template): delete the
    workspace, then, once Coder no longer has it, go on to create it anew (None). A failed
    delete fails the pass; Retry sends the delete again."""
    if workspace is None:
        state.recreate_requested_at = None
        state.coder_workspace_id = state.disk_size = None
        return None
    build = workspace.latest_build
    deleting = build.transition == "delete"
    failed = deleting and build.job_status in ("failed", "canceled")
    if failed and not retrying:
        raise ProvisioningFailed("Deleting the old workspace for the new disk size failed: "
                                 f"{build.job_error or 'see the build log'}")
    if not deleting or failed:
        as_user.delete_workspace(workspace.id)
        audit.record(user, "workspace.recreate", project.workspace_name, size=state.size_name)
    state.set_stage(Stage.workspace)
    return Status(Stage.workspace, "Replacing your workspace with one of the new disk size…")


def _member_synced(user: User, project: Project) -> bool:
    m = db.session.scalar(db.select(Membership).where(Membership.user_id == user.id,
                                                      Membership.group_id == project.group_id))
    return m is not None and not m.sync_pending and m.synced_at is not None


def _find_workspace(as_user, state: WorkspaceState, project: Project) -> CoderWorkspace | None:
    if not state.coder_workspace_id and state.observed_at is None:
        return None  # never created by us; a create that crashed half-way answers 409: adopted
    if state.coder_workspace_id:
        workspace = as_user.get_workspace_by_id(state.coder_workspace_id)
        if workspace is not None:
            return workspace
        state.coder_workspace_id = None
    workspace = as_user.get_workspace("me", project.workspace_name)
    if workspace is not None:
        state.coder_workspace_id = workspace.id
    return workspace


def with_ai_notice(services: Services, user: User, state: WorkspaceState,
                    status: Status) -> Status:
    """Say on the Code tab when the workspace was built without an AI key."""
    if (status.failed or not state.coder_workspace_id or not ai_keys.enabled(services)
            or ai_keys.has_key(user) or ai_keys.UNAVAILABLE in status.warnings):
        return status
    return replace(status, warnings=(*status.warnings, ai_keys.UNAVAILABLE))


def _act_on(services: Services, as_user, token: str, user: User, project: Project,
            state: WorkspaceState, workspace: CoderWorkspace, status: WorkspaceStatus,
            retrying: bool) -> Status:
    ws_id = workspace.id
    if not state.wants_running:
        admission.leave(user, project)
        state.set_stage(Stage.stopped)
        if status.stage not in (CoderStage.stopped, CoderStage.failed, CoderStage.stopping,
                                CoderStage.deleting, CoderStage.deleted):
            as_user.stop_workspace(ws_id)
            audit.record(user, "workspace.stop", project.workspace_name)
        word = "stopped" if status.stage in (CoderStage.stopped, CoderStage.failed) else "stopping"
        return Status(Stage.stopped, f"Your workspace is {word}.", stopped=True)
    if state.prepared and status.stage in (CoderStage.stopped, CoderStage.stopping):
        state.set_stage(Stage.stopped)  # pre-warmed and stopped: it waits for its person
        return Status(Stage.stopped, "Your workspace is prepared.", stopped=True)
    if status.stage == CoderStage.stopping:  # reopened right after a stop: start once stopped
        state.set_stage(Stage.building)
        return Status(Stage.building, "Starting your workspace… (the last stop is finishing)",
                      transient=True)
    if status.failed:
        if retrying:
            waiting = _wait_for_place(services, user, project, state)
            if waiting is not None:
                return waiting
            admission.started(user, project, ws_id)
            as_user.start_workspace(ws_id, rich_parameter_values=workspace_parameters(
                services, user, project))
            audit.record(user, "workspace.start", project.workspace_name, retry=True)
            ide_waits.saw(user, project, "start")
            state.set_stage(Stage.building)
            return Status(Stage.building, "Starting a new build…")
        tail = _log_tail(as_user, status.build_id)
        reason = status.job_error or "The workspace build failed."
        raise ProvisioningFailed(reason + (f" — {tail.errors[-1]}" if tail and tail.errors else ""))
    if status.stage == CoderStage.stopped:
        waiting = _wait_for_place(services, user, project, state)
        if waiting is not None:
            return waiting
        admission.started(user, project, ws_id)
        # Current values: a GitHub token or AI key changed since the last build applies now.
        as_user.start_workspace(ws_id, rich_parameter_values=workspace_parameters(
            services, user, project))
        audit.record(user, "workspace.start", project.workspace_name)
        ide_waits.saw(user, project, "start")
        state.set_stage(Stage.building)
        return Status(Stage.building, "Starting your workspace…")
    if status.stage == CoderStage.deleted:
        state.coder_workspace_id = None
        return Status(Stage.workspace, "The workspace was deleted; creating it again…",
                      transient=True)
    stage = stage_of(status.stage)
    if stage == Stage.ready:
        if state.prepared:  # pre-warmed: built, now stopped until its person opens it
            as_user.stop_workspace(ws_id)
            state.set_stage(Stage.stopped)
            return Status(Stage.stopped, "Your workspace is prepared.", stopped=True)
        state.set_stage(Stage.ready)
        # The plain URL (no key): the web tier asks Coder for the hand-off when it shows the IDE.
        state.app_url = app_url_of(services, workspace, user.username, project.workspace_name)
        return Status(Stage.ready, "Ready.", ready=True, app_url=state.app_url,
                      warnings=status.warnings)
    state.set_stage(stage)
    if _timed_out(services, state):
        raise ProvisioningFailed(f"The workspace did not become ready within "
                                 f"{services.settings.build_timeout} s ({status.message})")
    tail = _log_tail(as_user, status.build_id) if stage == Stage.building else None
    return Status(stage, status.message, log_tail=tail.lines[-6:] if tail else (),
                  warnings=status.warnings)


def app_url_of(services: Services, workspace: CoderWorkspace, username: str,
               workspace_name: str) -> str:
    """The code-server app's plain URL (no key in it) for a workspace."""
    owner = workspace.owner_name or username
    return services.coder.app_url(owner, workspace_name, folder=services.settings.project_folder)


def _wait_for_place(services: Services, user: User, project: Project,
                    state: WorkspaceState) -> Status | None:
    """Admission control before a start or create (portal/workspaces/admission.py): None
    when the pass may go on, else the Code tab's "Waiting for a free place" status."""
    decision = gate.ask(services, user, project, state)
    if decision.admitted:
        return None
    state.set_stage(Stage.waiting)
    return Status(Stage.waiting, gate.waiting_message(decision),
                  warnings=(gate.OVER_LIMIT,) if decision.over_personal else ())


def _log_tail(as_user, build_id: str | None):
    if not build_id:
        return None
    try:
        return as_user.build_logs(build_id, tail=20)
    except ServiceError:
        return None  # the log is a nicety; never fail a pass for it
