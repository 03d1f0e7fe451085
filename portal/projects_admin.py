"""An admin deletes a project: optionally its Gitea repository and its members' workspaces.

The outside deletions come first; the portal's rows go only when every requested
outside deletion succeeded (or found nothing), so that a retry after a service was
down still knows the repository and the workspace ids. Workspaces that are not
deleted are stopped: once the project row is gone the portal no longer manages them.
No Flask request objects here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import audit
from .clients.http import ServiceError
from .membership import stop_or_delete
from .extensions import db
from .models import Project, User, WorkspaceState
from .services import Services


@dataclass
class Deletion:
    deleted: bool = False
    # (what, ok|skipped|warning|failed, detail); only "failed" keeps the project
    steps: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, what: str, status: str, detail: str = "") -> None:
        self.steps.append((what, status, detail))

    @property
    def failed(self) -> bool:
        return any(status == "failed" for _, status, _ in self.steps)


def delete_project(services: Services, actor: User, project: Project, *, delete_repo: bool,
                   delete_workspaces: bool) -> Deletion:
    out = Deletion()
    target = f"{project.group.slug}/{project.slug}"
    states = db.session.scalars(db.select(WorkspaceState).where(
        WorkspaceState.project_id == project.id)).all()
    _workspaces(services, actor, states, delete_workspaces, out)
    if delete_repo:
        try:
            gone = services.gitea.delete_repo(project.group.slug, project.slug)
        except ServiceError as exc:
            out.add("Gitea repository", "failed", exc.user_message)
        else:
            out.add("Gitea repository", "ok" if gone else "skipped",
                    f"{target} deleted." if gone else "It did not exist.")
            if gone:
                audit.record(actor, "repo.delete", target)
    else:
        out.add("Gitea repository", "skipped", "Kept (not asked to delete it).")
    if out.failed:
        audit.record(actor, "project.delete_failed", target,
                     failed=[what for what, status, _ in out.steps if status == "failed"])
        db.session.commit()
        return out
    audit.record(actor, "project.delete", target, project_id=project.id, repo_deleted=delete_repo,
                 workspaces="deleted" if delete_workspaces else "stopped")
    db.session.delete(project)
    db.session.commit()
    out.deleted = True
    out.add("Portal project", "ok", f"{target} removed from the portal.")
    return out


def _workspaces(services: Services, actor: User, states: list[WorkspaceState], delete: bool,
                out: Deletion) -> None:
    with_ids = [s for s in states if s.coder_workspace_id]
    if not with_ids:
        out.add("Workspaces", "skipped", "No workspace had been created.")
        return
    done, problems = 0, []
    for state in with_ids:
        name = state.coder_workspace_name or state.project.workspace_name
        try:
            stop_or_delete(services, state, delete)
        except ServiceError as exc:
            problems.append(f"{name} of {state.user.username}: {exc.user_message}")
            continue
        done += 1
        audit.record(actor, "workspace.delete" if delete else "workspace.stop", name,
                     owner=state.user.username, reason="project deleted")
        if delete:
            state.coder_workspace_id = None  # a retry does not delete it twice
    db.session.commit()
    verb = "deleted" if delete else "stopped"
    if problems:  # a workspace that could not be stopped does not block the deletion
        out.add("Workspaces", "failed" if delete else "warning",
                f"{done} {verb}; not {verb}: " + "; ".join(problems))
    else:
        out.add("Workspaces", "ok", f"{done} {verb}.")
