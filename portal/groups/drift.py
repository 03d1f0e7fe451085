"""Drift between the portal (groups, members, projects) and Gitea (orgs, teams, members, repos).

`find(services, groups)` compares and returns Drift rows, each with the repair to apply;
`flask portal reconcile --all [--apply]` prints them as a table, applies the repairs with
--apply, checks again and exits 0 only when no drift remains. Every Gitea list is read
to its last page (GiteaClient._paginate).

Kinds: `missing` (in the portal, not in Gitea), `extra` (in a portal team or org but not
in the portal), `wrong role` (in the other team). Extra repositories are reported and
never deleted: code is not thrown away by a sync; they count as remaining drift. Portal
admins who are not members are allowed in Contributors (the Code tab puts them there).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Callable

import click
from flask.cli import with_appcontext

from portal import audit
from portal.groups import starters
from portal.clients.http import ServiceError
from portal.extensions import db
from portal.groups.gitea_sync import CONTRIBUTORS, READERS, team_for
from portal.groups.membership import group_teams, mark_sync, sync
from portal.models import Group, Membership, Project, User
from portal.services import Services

TEAMS = (CONTRIBUTORS, READERS)


@dataclass
class Drift:
    group: str
    kind: str              # missing | extra | wrong role
    obj: str               # "organization", "team Readers", "member bob", "repository vision"
    detail: str
    fix: Callable[[], str] | None = field(default=None, repr=False, compare=False)


@dataclass
class Report:
    drift: list[Drift] = field(default_factory=list)
    in_sync: list[Membership] = field(default_factory=list)


def find(services: Services, groups: list[Group]) -> Report:
    report = Report()
    for group in groups:
        _group(services, group, report)
    return report


def _group(services: Services, group: Group, report: Report) -> None:
    gitea, slug = services.gitea, group.slug
    add = report.drift.append
    members = sorted(group.memberships, key=lambda m: m.user.username.lower())
    projects = sorted(group.projects, key=lambda p: p.slug.lower())
    if gitea.get_org(slug) is None:
        add(Drift(slug, "missing", "organization", "no Gitea organization",
                  lambda g=group: _create_org(services, g)))
        for m in members:
            add(Drift(slug, "missing", f"member {m.user.username}", f"not in {team_for(m.role)[0]}",
                      lambda m=m: _sync(services, m)))
        for p in projects:
            add(Drift(slug, "missing", f"repository {p.slug}", "no repository",
                      lambda p=p: _create_repo(services, p)))
        return
    teams = {t.name.lower(): t for t in gitea.list_teams(slug)}
    in_team: dict[str, set[str]] = {}
    for name in TEAMS:
        team = teams.get(name.lower())
        if team is None:
            add(Drift(slug, "missing", f"team {name}", "team does not exist",
                      lambda g=group: _ensure_teams(services, g)))
            in_team[name] = set()
        else:
            in_team[name] = {u.login.lower() for u in gitea.list_team_members(team.id)}
    expected = set()
    for m in members:
        login = m.user.username.lower()
        expected.add(login)
        want, other = team_for(m.role)
        fix = lambda m=m: _sync(services, m)  # noqa: E731
        if login not in in_team[want]:
            if login in in_team[other]:
                add(Drift(slug, "wrong role", f"member {login}",
                          f"in {other}, should be in {want} ({m.role.value})", fix))
            else:
                add(Drift(slug, "missing", f"member {login}", f"not in {want} ({m.role.value})", fix))
        elif login in in_team[other]:
            add(Drift(slug, "wrong role", f"member {login}", f"also in {other} ({m.role.value})", fix))
        else:
            report.in_sync.append(m)
    admins = {u.lower() for u in db.session.scalars(
        db.select(User.username).where(User.is_admin.is_(True)))}
    for name in TEAMS:
        for login in sorted(in_team[name] - expected):
            if name == CONTRIBUTORS and login in admins:
                continue
            add(Drift(slug, "extra", f"member {login}", f"in {name}, not a member of the group",
                      lambda t=teams[name.lower()], u=login, n=name: _remove(services, group, t, u, n)))
    repos = {r.name.lower(): r for r in gitea.list_org_repos(slug)}
    for p in projects:
        if p.slug.lower() not in repos:
            add(Drift(slug, "missing", f"repository {p.slug}", "no repository",
                      lambda p=p: _create_repo(services, p)))
    known = {p.slug.lower() for p in projects}
    for name in sorted(set(repos) - known):
        add(Drift(slug, "extra", f"repository {repos[name].name}",
                  "not a project of the portal (left alone: delete or adopt it by hand)"))


# -- repairs ------------------------------------------------------------------------------
def _create_org(services: Services, group: Group) -> str:
    services.gitea.create_org(group.slug, full_name=group.name)
    services.gitea.ensure_teams(group.slug)
    return f"created organization {group.slug} with teams {CONTRIBUTORS} and {READERS}"


def _ensure_teams(services: Services, group: Group) -> str:
    services.gitea.ensure_teams(group.slug)
    return f"created the missing team(s) of {group.slug}"


def _sync(services: Services, m: Membership) -> str:
    if not sync(services, m):
        raise RuntimeError(m.sync_error or "Gitea refused")
    return f"put {m.user.username} in {team_for(m.role)[0]} of {m.group.slug} (only)"


def _remove(services: Services, group: Group, team, login: str, name: str) -> str:
    services.gitea.remove_team_member(team.id, login)
    return f"removed {login} from {name} of {group.slug}"


def _create_repo(services: Services, project: Project) -> str:
    group_teams(services.gitea, project.group)
    if project.starter:  # generated again from its starter (StarterUnavailable: a failed repair)
        repo = starters.generate(services.gitea, project)
    else:
        repo = services.gitea.create_repo(project.group.slug, project.slug,
                                          description=project.description)
    project.clone_url = repo.clone_url
    return f"created repository {project.group.slug}/{project.slug}"


def apply(services: Services, report: Report) -> tuple[list[str], list[str]]:
    """Run every repair in order: (what changed, what failed)."""
    changed, failed = [], []
    for d in report.drift:
        if d.fix is None:
            continue
        try:
            changed.append(d.fix())
            audit.record(None, "gitea.repair", f"{d.group}: {d.obj}", kind=d.kind, detail=d.detail,
                         via="reconcile")
        except (ServiceError, RuntimeError) as exc:
            failed.append(f"{d.group} {d.obj}: {getattr(exc, 'user_message', None) or exc}")
        db.session.commit()
    return changed, failed


def table(rows: list[Drift]) -> str:
    head = ("GROUP", "DRIFT", "OBJECT", "DETAIL")
    data = [head] + [(d.group, d.kind, d.obj, d.detail) for d in rows]
    widths = [max(len(r[i]) for r in data) for i in range(3)]
    return "\n".join(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}"
                     for r in data)


@click.command("reconcile")
@click.option("--all", "all_groups", is_flag=True, help="Every group of the portal.")
@click.option("--group", "group_slugs", multiple=True, help="Only this group (repeatable).")
@click.option("--apply", "do_apply", is_flag=True, help="Repair the drift, then check again.")
@with_appcontext
def reconcile_command(all_groups: bool, group_slugs: tuple[str, ...], do_apply: bool) -> None:
    """Compare groups, members and projects with Gitea; print (and --apply repair) the drift.

    Exit code 0 when no drift remains, 1 when some does, 2 when Gitea cannot be read.
    """
    from portal.services import current_services
    if not all_groups and not group_slugs:
        raise click.UsageError("say which groups: --all, or --group SLUG")
    services = current_services()
    query = db.select(Group).order_by(Group.slug)
    if group_slugs and not all_groups:
        query = query.where(Group.slug.in_(group_slugs))
    groups = db.session.scalars(query).all()
    unknown = set(group_slugs) - {g.slug for g in groups}
    if unknown:
        raise click.UsageError(f"no such group: {', '.join(sorted(unknown))}")
    try:
        report = find(services, groups)
    except ServiceError as exc:
        click.echo(f"Gitea could not be read: {exc.user_message}", err=True)
        sys.exit(2)
    if not report.drift:
        _settle(report)
        click.echo(f"No drift: {len(groups)} group(s) match Gitea.")
        return
    click.echo(table(report.drift))
    if not do_apply:
        click.echo(f"\n{len(report.drift)} difference(s). Run with --apply to repair them.")
        sys.exit(1)
    changed, failed = apply(services, report)
    click.echo("\nChanged:" if changed else "\nNothing could be changed.")
    for line in changed:
        click.echo(f"  {line}")
    for line in failed:
        click.echo(f"  FAILED {line}", err=True)
    try:
        again = find(services, groups)
    except ServiceError as exc:
        click.echo(f"Gitea could not be read again: {exc.user_message}", err=True)
        sys.exit(2)
    _settle(again)
    if again.drift:
        click.echo("\nDrift remaining:\n" + table(again.drift))
        sys.exit(1)
    click.echo("\nNo drift remains.")


def _settle(report: Report) -> None:
    """Members verified in sync lose their "sync pending" mark."""
    for m in report.in_sync:
        if m.sync_pending or m.synced_at is None:
            mark_sync(m, None)
    db.session.commit()
