"""Batched observation (portal/workspaces/observe.py): one Coder call per page of 100
workspaces in flight, whatever their number; the log tail only for watched rows."""
from __future__ import annotations

import pytest

from portal.extensions import db
from portal.models import WorkspaceState, utcnow
from portal.services import current_services
from portal.workspaces import observe
from tests.provisioning_helpers import seed_in_flight


def list_calls(coder_sim) -> list:
    return [x for x in coder_sim.recorder.exchanges
            if x.method == "GET" and x.path.endswith("/api/v2/workspaces")]


@pytest.mark.parametrize("count,pages", [(1, 1), (100, 1), (130, 2)])
def test_one_call_per_page_of_workspaces_in_flight(stack, count, pages):
    with stack.app.app_context():
        seed_rows = seed_in_flight(count)
        before, logs = len(list_calls(stack.coder)), stack.coder.sim.count("/logs")
        seen = observe.observe(current_services(), observe.in_flight())
        calls = list_calls(stack.coder)[before:]
        assert seen.calls == pages == len(calls) and seen.error is None
        assert all(x.query.startswith("q=id%3A") or x.query.startswith("q=id:") for x in calls)
        ids = {r.id for r in seed_rows}
        rows = [r for r in db.session.scalars(db.select(WorkspaceState)) if r.id in ids]
        assert len(rows) == count and all(r.status_message for r in rows)  # every row written
        assert stack.coder.sim.count("/logs") == logs  # nobody watches: no build-log reads


def test_the_log_tail_is_read_only_for_a_watched_row(stack):
    def slow():  # still building when observed
        stack.coder.sim.build_seconds = 30

    with stack.app.app_context():
        rows = seed_in_flight(3, before_create=slow)
        rows[1].watched_at = utcnow()
        db.session.commit()
        logs = stack.coder.sim.count("/logs")
        seen = observe.observe(current_services(), observe.in_flight())
        assert seen.calls == 2 and stack.coder.sim.count("/logs") == logs + 1
        watched = db.session.get(WorkspaceState, rows[1].id)
        log_reads = [x.path for x in stack.coder.recorder.exchanges if x.path.endswith("/logs")]
        assert watched.build_id and log_reads[-1].endswith(f"/workspacebuilds/{watched.build_id}/logs")


def test_coder_down_is_seen_and_changes_nothing(stack):
    with stack.app.app_context():
        rows = seed_in_flight(2)
        stack.coder.sim.set_faults(status_override={"status": 503})
        seen = observe.observe(current_services(), observe.in_flight())
        assert seen.error and seen.needs_pass == []  # seen, and nothing acted on
        assert {db.session.get(WorkspaceState, r.id).stage for r in rows} == {"building"}
