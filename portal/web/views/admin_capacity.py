"""Admin: capacity. The line (who waits, since when, which size), workspaces idle longest
first (Coder's last_used_at, every running one, the portal's or not), stop an idle one,
change the limits, manage the workspace sizes. Every change is audited."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal import audit
from portal.web.auth import admin_required
from portal.clients.http import ServiceError
from portal.extensions import db
from portal.services import current_services
from portal.workspaces.workspace_params import SIZE_OPTIONS
from portal.workspaces.queue import queue
from portal.workspaces import admission, occupancy, sizes
from portal.workspaces.size_spec import SizeError
from portal.web.views.admin import bp


def _page(status: int = 200, error: str | None = None):
    settings = current_services().settings
    try:
        idle, coder_error = occupancy.read(current_services()).idle_first(), None
    except ServiceError as exc:
        idle, coder_error = [], exc.user_message
    return render_template("admin/capacity.html", section="workspaces", error=error,
                           limits=admission.limits(settings), line=admission.line(),
                           idle=idle, coder_error=coder_error,
                           sizes=sizes.all_sizes(settings.workspace_sizes),
                           options=SIZE_OPTIONS), status


@bp.get("/capacity")
@admin_required
def capacity():
    return _page()


def _limit(name: str) -> int | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 6:
        raise ValueError("A limit is a whole number from 1 to 10000, or empty for none.")
    return int(raw)


@bp.post("/capacity/limits")
@admin_required
def capacity_limits():
    try:
        lim = admission.set_limits(current_services().settings, _limit("max_running"),
                                   _limit("max_per_person"))
    except ValueError as exc:
        db.session.rollback()
        return _page(400, str(exc))
    audit.record(current_user, "capacity.limits", "capacity", max_running=lim.max_running,
                 max_per_person=lim.max_per_person)
    db.session.commit()
    flash("Limits saved.", "success")
    return redirect(url_for("admin.capacity"), 303)


@bp.post("/capacity/stop/<workspace_id>")
@admin_required
def capacity_stop(workspace_id: str):
    if len(workspace_id) > 64 or not all(c.isalnum() or c == "-" for c in workspace_id):
        return _page(400, "That is not a workspace id.")
    if not queue().enqueue("stop_idle", workspace_id, current_user.id):
        return _page(503, "The provisioning worker is out of reach: nothing was stopped; try "
                          "again in a moment.")
    flash("Stop requested: the worker stops it (the audit log says when).", "success")
    return redirect(url_for("admin.capacity"), 303)


def _number(name: str) -> int:
    raw = (request.form.get(name) or "").strip()
    if not raw.isdigit() or len(raw) > 4:
        raise SizeError(f"{name} must be a whole number.")
    return int(raw)


@bp.post("/capacity/sizes")
@admin_required
def capacity_size_save():
    specs = current_services().settings.workspace_sizes
    try:
        size = sizes.save(specs, request.form.get("name", ""), _number("cpu_cores"),
                          _number("memory_gb"), _number("disk_size"),
                          request.form.get("groups", ""), request.form.get("is_default") == "y")
    except SizeError as exc:
        db.session.rollback()
        return _page(400, str(exc))
    audit.record(current_user, "size.save", size.name, cpu_cores=size.cpu_cores,
                 memory_gb=size.memory_gb, disk_size=size.disk_size, groups=size.groups,
                 is_default=size.is_default)
    db.session.commit()
    flash(f"Size {size.name} saved.", "success")
    return redirect(url_for("admin.capacity"), 303)


@bp.post("/capacity/sizes/<name>/delete")
@admin_required
def capacity_size_delete(name: str):
    try:
        size = sizes.delete(current_services().settings.workspace_sizes, name)
    except SizeError as exc:
        db.session.rollback()
        return _page(400, str(exc))
    audit.record(current_user, "size.delete", size.name)
    db.session.commit()
    flash(f"Size {size.name} deleted.", "success")
    return redirect(url_for("admin.capacity"), 303)
