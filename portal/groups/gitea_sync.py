"""The Gitea side of a group: organization, teams, the person's team, the repository."""
from __future__ import annotations

from portal.groups import starters
from portal.clients.gitea import GiteaClient
from portal.clients.gitea_migrate import is_github
from portal.clients.http import BadRequest
from portal.models import Group, Project, Role, User

CONTRIBUTORS, READERS = "Contributors", "Readers"


class GiteaIdentityConflict(Exception):
    """A Gitea account of this name belongs to someone else."""


class RepositoryImportFailed(Exception):
    """Gitea could not import the project's source repository (message is for people)."""


def team_for(role: Role) -> tuple[str, str]:
    """(the team of this role, the other portal team)."""
    return (CONTRIBUTORS, READERS) if role.can_write else (READERS, CONTRIBUTORS)


def ensure_user(gitea: GiteaClient, user: User) -> str:
    """The person's Gitea login, created (linked to the OIDC sub) if missing."""
    account = gitea.create_user(user.username, user.email, login_name=user.sub, full_name=user.name)
    if account.email.lower() != user.email.lower() and account.login_name != user.sub:
        raise GiteaIdentityConflict(
            f"The Git account name '{user.username}' is already used by someone else; "
            "an administrator must resolve it.")
    return account.login


def ensure_group(gitea: GiteaClient, group: Group) -> dict:
    gitea.create_org(group.slug, full_name=group.name)
    return gitea.ensure_teams(group.slug)


def apply_role(gitea: GiteaClient, teams: dict, login: str, role: Role | None) -> None:
    """Put `login` in the team of `role` and out of the other (role None: out of both)."""
    if role is None:
        for name in (CONTRIBUTORS, READERS):
            gitea.remove_team_member(teams[name].id, login)
        return
    mine, other = team_for(role)
    gitea.add_team_member(teams[mine].id, login)
    gitea.remove_team_member(teams[other].id, login)


def ensure_repository(gitea: GiteaClient, user: User, project: Project, role: Role, *,
                      source_token: str | None = None,
                      member_synced: bool = False) -> tuple[str, str]:
    """Everything Gitea needs for `user` to work on `project`; returns (login, clone URL).

    `member_synced`: the membership sync already made the account, organization, teams
    and team membership in Gitea (portal/groups/membership.py), so only the repository is left.
    A project with a `source_url` is imported with Gitea's migrate API
    (`source_token`: the creator's GitHub token, used for github.com sources); one
    with a `starter` is generated from that template (portal/groups/starters.py); either
    way a repository already there is adopted, never made twice.
    """
    if member_synced:
        login = user.username
    else:
        login = ensure_user(gitea, user)
        teams = ensure_group(gitea, project.group)
        apply_role(gitea, teams, login, role)
    if project.source_url:
        repo = _import(gitea, project, source_token)
    elif project.starter:
        try:
            repo = starters.generate(gitea, project)
        except starters.StarterUnavailable as exc:
            raise RepositoryImportFailed(str(exc)) from None
    else:
        repo = gitea.create_repo(project.group.slug, project.slug, description=project.description)
    starters.remember_files(gitea, project)  # for the Overview, read once here in the worker
    return login, repo.clone_url


def _import(gitea: GiteaClient, project: Project, token: str | None):
    try:
        return gitea.migrate_repo(project.group.slug, project.slug, project.source_url,
                                  description=project.description, auth_token=token)
    except BadRequest as exc:  # 422: Gitea could not read the source, or refused the address
        hint = ("" if token or not is_github(project.source_url) else
                " If the repository is private, add your GitHub token in Settings, then retry.")
        raise RepositoryImportFailed(
            f"Gitea could not import {project.source_url}: {exc.message}.{hint}") from None
