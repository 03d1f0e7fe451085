"""An admin deletes a project: optionally its Gitea repository and its members' workspaces.

The outside deletions come first; the portal's rows go only when every requested
outside deletion succeeded (or found nothing), so that a retry after a service was
down still knows the repository and the workspace ids. Workspaces that are not
deleted are stopped: once the project row is gone the portal no longer manages them.
No Flask request objects here.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from portal import audit
from portal.clients.http import ServiceError
from portal.extensions import db
from portal.models import Project, User, WorkspaceState
from portal.services import Services
from portal.steps import FAILED, OK, SKIPPED, WARNING, StepResult
from portal.workspaces.bulk import stop_or_delete_all


@dataclass
class Deletion:
    deleted: bool = False
    # (what, its result); only a FAILED step keeps the project
    steps: list[tuple[str, StepResult]] = field(default_factory=list)

    def add(self, what: str, result: StepResult) -> None:
        self.steps.append((what, result))

    @property
    def failed(self) -> bool:
        return any(result.failed for _, result in self.steps)


def delete_project(services: Services, actor: User, project: Project, *, delete_repo: bool,
                   delete_workspaces: bool) -> Deletion:
    out = Deletion()
    target = f"{project.group.slug}/{project.slug}"
    states = db.session.scalars(db.select(WorkspaceState).where(
        WorkspaceState.project_id == project.id)).all()
    workspaces = stop_or_delete_all(services, actor, states, delete=delete_workspaces,
                                    reason="project deleted")
    if workspaces.failed and not delete_workspaces:  # a running workspace does not keep the project
        workspaces = replace(workspaces, status=WARNING)
    out.add("Workspaces", workspaces)
    out.add("Gitea repository", _repository(services, actor, project, delete_repo))
    if out.failed:
        audit.record(actor, "project.delete_failed", target,
                     failed=[what for what, result in out.steps if result.failed])
        db.session.commit()
        return out
    audit.record(actor, "project.delete", target, project_id=project.id, repo_deleted=delete_repo,
                 workspaces="deleted" if delete_workspaces else "stopped")
    db.session.delete(project)
    db.session.commit()
    out.deleted = True
    out.add("Portal project", StepResult(OK, f"{target} removed from the portal."))
    return out


def _repository(services: Services, actor: User, project: Project, delete: bool) -> StepResult:
    if not delete:
        return StepResult(SKIPPED, "Kept (not asked to delete it).")
    target = f"{project.group.slug}/{project.slug}"
    try:
        gone = services.gitea.delete_repo(project.group.slug, project.slug)
    except ServiceError as exc:
        return StepResult(FAILED, exc.user_message)
    if not gone:
        return StepResult(SKIPPED, "It did not exist.")
    audit.record(actor, "repo.delete", target)
    return StepResult(OK, f"{target} deleted.")
