"""Admin pages (/admin/): 403 for anyone not in OIDC_ADMIN_GROUP, a sign-in redirect when anonymous.

One blueprint across modules: this one (overview, System), admin_users (people and
offboarding), admin_groups (groups and projects), admin_workspaces, admin_audit.
Every view carries `admin_required`; every bad query parameter is a 400 with a message.
"""
from __future__ import annotations

import importlib.metadata
from collections import Counter

from flask import Blueprint, current_app, render_template

from portal.workspaces import admin_live
from portal.web import admin_overview
from portal.web.admin_query import BadParam
from portal.web.auth import admin_required
from portal.web.errors import render_error
from portal.extensions import db
from portal.web.htmx import is_partial
from portal.models import Group, Project, User, WorkspaceState
from portal.services import current_services

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.errorhandler(BadParam)
def bad_param(exc: BadParam):
    return render_error(400, str(exc), "Bad request")


def counts() -> dict:
    """People, groups, projects, and running workspaces (live from Coder, batched)."""
    rows = db.session.scalars(db.select(WorkspaceState).where(
        WorkspaceState.coder_workspace_id.is_not(None))).all()
    live, error = admin_live.states_of(current_services(), rows)
    by_state = Counter(v.state for v in live.values())
    return {
        "by_state": {} if error else dict(by_state),
        "users": db.session.scalar(db.select(db.func.count(User.id))),
        "active_users": db.session.scalar(db.select(db.func.count(User.id)).where(User.active.is_(True))),
        "groups": db.session.scalar(db.select(db.func.count(Group.id))),
        "projects": db.session.scalar(db.select(db.func.count(Project.id))),
        "running": None if error else sum(1 for v in live.values() if v.running),
        "stuck": None if error else sum(1 for v in live.values() if v.stuck),
        "coder_error": error,
    }


@bp.get("/")
@admin_required
def index():
    """The overview: counts, and pictures where people would rather look than read."""
    numbers = counts()
    spend, spend_problem = admin_overview.ai_spend(current_services())
    charts = {"states": admin_overview.workspaces_by_state(numbers["by_state"]),
              "opens": admin_overview.opens_per_day(),
              "time_to_ide": admin_overview.time_to_ide_per_day(), "spend": spend}
    return render_template("admin/index.html", counts=numbers, charts=charts,
                           spend_problem=spend_problem, section="overview")


@bp.get("/system")
@admin_required
def system():
    from portal.ops.doctor import run_checks
    checks = run_checks(current_app._get_current_object())
    if is_partial():
        return render_template("admin/_doctor.html", checks=checks)
    svc = current_services()
    return render_template("admin/system.html", checks=checks, versions=_versions(),
                           settings=svc.settings.public_view(), unset=svc.settings.unset_meanings(),
                           counts=counts(), worker=_worker_view(), section="system")


def _versions() -> dict[str, str]:
    """The portal's own version, and Coder's and Gitea's as the worker last read them."""
    from portal.workspaces import platform
    try:
        portal_version = importlib.metadata.version("portal")
    except importlib.metadata.PackageNotFoundError:
        portal_version = "unknown"
    seen = platform.known()
    if seen.age_seconds is None:
        read = "not read yet: the worker reads them within a minute of starting"
        return {"Portal": portal_version, "Coder": read, "Gitea": read}
    age = f" (read by the worker {seen.age_seconds:.0f} s ago)"
    return {"Portal": portal_version, "Coder": f"{seen.coder_version}{age}",
            "Gitea": f"{seen.gitea_version}{age}"}


def _worker_view() -> dict[str, str]:
    """The reconciler tier at a glance: queue depth, last tick, last sweep, housekeeping."""
    from portal.workspaces import beats
    from portal.workspaces.queue import queue
    depth = queue().depth()
    view = {"Queue": (f"{depth['pending']} waiting, {depth['scheduled']} scheduled" if depth
                      else "unreachable (PORTAL_QUEUE_URL)")}
    for name, label in (("tick", "Last tick"), ("sweep", "Last sweep that enqueued work"),
                        ("housekeeping", "Last housekeeping"), ("drift", "Last drift check")):
        since, row = beats.seconds_since(name), beats.last(name)
        info = ", ".join(f"{k} {v}" for k, v in (row.info or {}).items()) if row else ""
        view[label] = "never" if since is None else f"{since:.0f} s ago" + (f" ({info})" if info else "")
    return view


# The other areas register their routes on `bp`.
from portal.web.views import admin_audit, admin_capacity, admin_groups, admin_users, admin_workspaces  # noqa: E402,F401
