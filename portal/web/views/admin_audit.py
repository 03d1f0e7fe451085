"""Admin: the audit log, filtered by actor, action, target and time range; CSV export.

`actor` and `target` match anywhere (escaped LIKE, any case); `action` is exact, or a
prefix when it ends with `.` or `*` (`offboard.` = every offboarding step); `from` and
`to` take YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC), `to` inclusive. The CSV carries
exactly the filtered view (every page), streamed in batches, newest first.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Iterator

from flask import Response, render_template, request, stream_with_context, url_for

from portal.web.admin_query import BadParam, contains, listing, paginate, parse_time, text
from portal.web.auth import admin_required
from portal.extensions import db
from portal.web.htmx import is_partial
from portal.models import AuditEvent
from portal.web.views.admin import bp

SORTS = {"time": AuditEvent.created_at, "actor": AuditEvent.actor_label,
         "action": AuditEvent.action, "target": AuditEvent.target}
CSV_BATCH = 500


def _filters() -> tuple[list, dict[str, str]]:
    args = request.args
    values = {name: text(args, name) for name in ("actor", "action", "target", "from", "to")}
    start = parse_time(args, "from")
    end = parse_time(args, "to", end=True)
    if start and end and start >= end:
        raise BadParam("“from” must be before “to”.")
    where = []
    if values["actor"]:
        where.append(contains(AuditEvent.actor_label, values["actor"]))
    action = values["action"]
    if action:
        if action.endswith(("*", ".")):
            prefix = action.rstrip("*")
            escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append(AuditEvent.action.like(escaped + "%", escape="\\"))
        else:
            where.append(AuditEvent.action == action)
    if values["target"]:
        where.append(contains(AuditEvent.target, values["target"]))
    if start:
        where.append(AuditEvent.created_at >= start)
    if end:
        where.append(AuditEvent.created_at < end)
    return where, values


@bp.get("/audit")
@admin_required
def audit():
    where, values = _filters()
    lst = listing(request.args, tuple(SORTS), "time", default_desc=True, **values)
    query = db.select(AuditEvent).where(*where).order_by(*lst.order_by(SORTS),
                                                          AuditEvent.id.desc())
    page = paginate(query, db.select(db.func.count(AuditEvent.id)).where(*where), lst)
    actions = db.session.scalars(db.select(AuditEvent.action).distinct().order_by(
        AuditEvent.action)).all()
    csv_url = url_for("admin.audit_csv", **{k: v for k, v in values.items() if v})
    context = dict(page=page, lst=lst, events=page.items, values=values, actions=actions,
                   csv_url=csv_url, base=url_for("admin.audit"), section="audit")
    if is_partial():
        return render_template("admin/_audit_table.html", **context)
    return render_template("admin/audit.html", **context)


def _rows(where: list) -> Iterator[str]:
    buffer = io.StringIO()
    # Every field quoted (a `;` or tab inside a value never starts a cell in a spreadsheet
    # that splits on it) and every cell guarded (OWASP "CSV Injection").
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")

    def flush() -> str:
        out = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return out

    writer.writerow(["time_utc", "actor", "action", "target", "details"])
    yield flush()
    last: tuple | None = None
    while True:  # keyset pages: a long export never holds every row, nor a cursor
        query = db.select(AuditEvent).where(*where)
        if last is not None:
            query = query.where(db.or_(AuditEvent.created_at < last[0],
                                       db.and_(AuditEvent.created_at == last[0],
                                               AuditEvent.id < last[1])))
        batch = db.session.scalars(query.order_by(AuditEvent.created_at.desc(),
                                                  AuditEvent.id.desc()).limit(CSV_BATCH)).all()
        if not batch:
            return
        for e in batch:
            writer.writerow([_safe(v) for v in (
                e.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"), e.actor_label, e.action, e.target,
                json.dumps(e.details or {}, sort_keys=True, default=str))])
        last = (batch[-1].created_at, batch[-1].id)
        yield flush()


FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")
SEPARATORS = (",", ";", "\t", "|")


def _safe(value: str) -> str:
    """Defuse spreadsheet formulas: a cell starting with = + - @ (or tab/CR) runs in
    Excel/LibreOffice. The value is also guarded when any part after a separator would
    start such a cell, for a reader that splits on `;` or tabs and ignores the quotes."""
    parts = [value] + [value[i + 1:] for i, c in enumerate(value) if c in SEPARATORS]
    if any(p.lstrip(" ")[:1] in FORMULA_START and p.lstrip(" ") for p in parts):
        escaped = value
        for sep in SEPARATORS:
            escaped = escaped.replace(sep + "=", sep + "'=").replace(sep + "+", sep + "'+") \
                .replace(sep + "-", sep + "'-").replace(sep + "@", sep + "'@")
        return "'" + escaped
    return value


@bp.get("/audit.csv")
@admin_required
def audit_csv():
    where, _ = _filters()
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Response(stream_with_context(_rows(where)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"',
                             "Cache-Control": "no-store"})
