"""Admin audit log: filters (actor, action, target, time range), pages, CSV of the filtered view."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from portal.extensions import db
from portal.models import AuditEvent
from tests.collab_helpers import person

DAY = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def admin(app):
    client = person(app, "root@example.com", admin=True)
    with app.app_context():
        db.session.execute(db.delete(AuditEvent))
        events = [AuditEvent(actor_label="ann@example.com", action="member.add", target="ml/ann",
                             details={"role": "reader"}, created_at=DAY),
                  AuditEvent(actor_label="bob@example.com", action="offboard.deactivate",
                             target="user:carl", details={"result": "ok"},
                             created_at=DAY + dt.timedelta(days=1)),
                  AuditEvent(actor_label="bob@example.com", action="offboard.workspaces",
                             target='user:carl, "the, tricky" one\nline',
                             details={"result": "failed", "detail": "a, b"},
                             created_at=DAY + dt.timedelta(days=2)),
                  AuditEvent(actor_label="=HYPERLINK(1)", action="user.sign_in", target="@x",
                             details={}, created_at=DAY + dt.timedelta(days=3))]
        events += [AuditEvent(actor_label="bulk@example.com", action="token.mint", target=f"coder:u{i}",
                              details={}, created_at=DAY - dt.timedelta(minutes=i)) for i in range(60)]
        db.session.add_all(events)
        db.session.commit()
    return client


def _rows(client, query: str) -> list[list[str]]:
    resp = client.get("/admin/audit.csv?" + query)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert 'attachment; filename="audit-' in resp.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(resp.get_data(as_text=True), newline="")))


def test_filters_and_pages(admin):
    page = admin.get("/admin/audit?per=25").get_data(as_text=True)
    assert "1–25 of 64" in page and 'rel="next"' in page
    assert "1–2 of 2" in admin.get("/admin/audit?actor=BOB").get_data(as_text=True)
    assert "1–1 of 1" in admin.get("/admin/audit?action=member.add").get_data(as_text=True)
    assert "0–0 of 0" in admin.get("/admin/audit?action=offboard").get_data(as_text=True)  # exact
    assert "1–2 of 2" in admin.get("/admin/audit?action=offboard.").get_data(as_text=True)  # prefix
    assert "1–2 of 2" in admin.get("/admin/audit?target=user:carl").get_data(as_text=True)
    ranged = admin.get("/admin/audit?from=2026-03-11&to=2026-03-12").get_data(as_text=True)
    assert "1–2 of 2" in ranged and 'data-action="offboard.deactivate"' in ranged
    assert 'data-action="member.add"' not in ranged
    assert "1–1 of 1" in admin.get("/admin/audit?from=2026-03-11T12:00&to=2026-03-11T12:00").get_data(as_text=True)
    frag = admin.get("/admin/audit?actor=ann", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in frag and "member.add" in frag and "audit.csv?actor=ann" in frag


@pytest.mark.parametrize("query, text, csv_too", [
    ("from=yesterday", "is not a date", True), ("to=2026-13-01", "is not a date", True),
    ("from=2026-03-12&to=2026-03-11", "must be before", True),
    ("actor=" + "a" * 300, "too long", True),
    ("per=1000", "between 1 and 100", False), ("sort=details", "must be one of", False),
])
def test_bad_parameters_are_400(admin, query, text, csv_too):
    urls = ("/admin/audit?", "/admin/audit.csv?") if csv_too else ("/admin/audit?",)
    answers = {url: admin.get(url + query) for url in urls}
    assert {url: (r.status_code, text in r.get_data(as_text=True)) for url, r in answers.items()} \
        == dict.fromkeys(urls, (400, True))


def test_csv_is_the_filtered_view_correctly_quoted(admin, monkeypatch):
    from portal.web.views import admin_audit
    monkeypatch.setattr(admin_audit, "CSV_BATCH", 7)  # several keyset batches
    rows = _rows(admin, "target=carl")
    assert rows[0] == ["time_utc", "actor", "action", "target", "details"]
    assert [r[2] for r in rows[1:]] == ["offboard.workspaces", "offboard.deactivate"]  # newest first
    assert rows[1][3] == 'user:carl, "the, tricky" one\nline'
    assert rows[1][4] == '{"detail": "a, b", "result": "failed"}'
    assert rows[1][0] == "2026-03-12T12:00:00Z"
    everything = _rows(admin, "")
    assert len(everything) == 1 + 64
    assert len({tuple(r) for r in everything}) == 65  # no row twice across batches
    formula = [r for r in everything if r[2] == "user.sign_in" and "HYPERLINK" in r[1]][0]
    assert formula[1] == "'=HYPERLINK(1)" and formula[3] == "'@x"   # never a live formula
    assert len(_rows(admin, "action=token.mint")) == 61
