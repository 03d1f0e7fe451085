"""The admin Overview's inline SVG charts: geometry, data from the audit trail and the
workspace rows, live states from Coder, AI spend per person; no script, nothing fetched."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from portal.web import admin_overview
from portal.web.charts import columns, rows
from portal.extensions import db
from portal.models import AuditEvent, WorkspaceState, utcnow
from tests.collab_helpers import person
from tests.fixtures.app import dev_sign_in
from tests.test_code_tab import create_project, open_code


@pytest.mark.parametrize("values, tallest", [([0, 5, 10], 2), ([3, None, 1], 0), ([7], 0)])
def test_columns_scale_to_the_largest_value(values, tallest):
    chart = columns("t", [(str(i), v) for i, v in enumerate(values)], width=300, height=100)
    heights = [b.height for b in chart.bars]
    assert heights.index(max(heights)) == tallest and max(heights) == pytest.approx(98)
    assert all(b.y + b.height == pytest.approx(100) for b in chart.bars)
    assert all(b.x + b.width <= 300 for b in chart.bars)
    assert [b.text for b in chart.bars] == ["—" if v is None else str(v) for v in values]


def test_rows_and_an_empty_chart():
    chart = rows("States", [("running", 4), ("stopped", 2)], width=500, label_width=100)
    assert chart.horizontal and chart.height == 44
    assert chart.bars[1].width == pytest.approx(chart.bars[0].width / 2)
    assert chart.bars[0].x == 100 and chart.bars[0].x + chart.bars[0].width <= 500
    assert rows("none", []).empty and columns("zeros", [("a", 0), ("b", None)]).empty


def test_overview_counts_opens_and_time_to_ide_from_audit_and_rows(stack, worker):
    client = stack.app.test_client()
    dev_sign_in(client, "ada@example.com", "Ada Lovelace")
    _, pid = create_project(client)
    body, stages = open_code(client, pid)
    assert stages[-1] == "ready"
    with stack.app.app_context():
        opened = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "code.open")).all()
        assert [e.target for e in opened] == [f"proj-{pid}"]
        state = db.session.scalar(db.select(WorkspaceState).where(WorkspaceState.project_id == pid))
        # pin the times so the median is known: opened 40 s before it became ready, 3 days ago
        ready_at = utcnow().replace(microsecond=0) - dt.timedelta(days=3)
        opened[0].created_at = ready_at - dt.timedelta(seconds=40)
        state.stage_started_at = ready_at
        db.session.commit()
        opens = admin_overview.opens_per_day()
        ttide = admin_overview.time_to_ide_per_day()
    day = ready_at.date().isoformat()
    assert len(opens.bars) == 30 and {b.label: b.value for b in opens.bars}[day] == 1
    assert {b.label: b.value for b in ttide.bars}[day] == 40.0
    assert sum(1 for b in ttide.bars if b.value is not None) == 1

    admin = person(stack.app, "root@example.com", admin=True)
    page = admin.get("/admin/").get_data(as_text=True)
    charts = ("chart-states", "chart-opens", "chart-time-to-ide")
    assert [testid for testid in charts if f'data-testid="{testid}"' not in page] == []
    states = page.split('data-testid="chart-states"')[1].split("</figure>")[0]
    assert "<svg" in states and re.search(r"running: 1</title>", states)
    assert f"<td>{day}</td><td>40 s</td>" in page
    assert 'data-testid="chart-spend"' not in page  # LiteLLM is not configured here
    assert "<script" not in page.split("<body")[1].split("</body>")[0]


def test_spend_per_person_when_litellm_is_configured(ai_stack, start_worker):
    start_worker(ai_stack.app)  # the reconciler tier does the Code tab's work
    client = ai_stack.app.test_client()
    dev_sign_in(client, "ada@example.com", "Ada Lovelace")
    _, pid = create_project(client)
    assert open_code(client, pid)[1][-1] == "ready"
    with ai_stack.app.app_context():
        username = db.session.scalar(db.text("select username from users where email='ada@example.com'"))
    ai_stack.litellm.sim.add_spend(username, 3.5)
    admin = person(ai_stack.app, "root@example.com", admin=True)
    page = admin.get("/admin/").get_data(as_text=True)
    spend = page.split('data-testid="chart-spend"')[1].split("</figure>")[0]
    assert "Ada Lovelace: 3.50</title>" in spend

    ai_stack.litellm.sim.set_faults(down=True)
    page = admin.get("/admin/").get_data(as_text=True)
    assert 'data-testid="spend-problem"' in page  # the fault was seen and said, not a 500
