"""Admin capacity: the line on the Workspaces page, idle-first running workspaces with Stop,
limits and sizes changed on the Capacity page; every change audited, bad input a 400."""
from __future__ import annotations

import time

import pytest

from portal.extensions import db
from portal.models import AdmissionEntry, AuditEvent
from portal.services import current_services
from portal.workspaces import admission
from tests.collab_helpers import person, post
from tests.provisioning_helpers import run_until_done, seed


def _audited(app, action: str) -> list[dict]:
    with app.app_context():
        return [e.details for e in db.session.scalars(
            db.select(AuditEvent).where(AuditEvent.action == action))]


def test_line_is_shown_first_first_with_size(app):
    admin = person(app, "root@example.com", admin=True)
    with app.app_context():
        for i, name in enumerate(("ada", "bob", "cyd")):
            user, project = seed(email=f"{name}@example.com", project=f"p{i}")
            db.session.add(AdmissionEntry(user_id=user.id, project_id=project.id,
                                          size_name="large" if name == "bob" else None))
        db.session.commit()
    page = admin.get("/admin/workspaces").get_data(as_text=True)
    assert "Waiting for a free place (3)" in page
    rows = page.split('data-testid="line-row"')[1:]
    assert ["Ada" in rows[0], "Bob" in rows[1] and "large" in rows[1], "Cyd" in rows[2]] == [True] * 3


@pytest.mark.parametrize("running, per_person, status, saved", [
    ("12", "3", 303, (12, 3)), ("", "", 303, (None, None)),
    ("0", "2", 400, None), ("ten", "2", 400, None), ("99999999", "2", 400, None)])
def test_limits_change_audited_bad_values_refused(app, running, per_person, status, saved):
    admin = person(app, "root@example.com", admin=True)
    resp = post(admin, "/admin/capacity/limits", max_running=running, max_per_person=per_person)
    assert resp.status_code == status
    with app.app_context():
        got = admission.limits(current_services().settings)
    if saved is None:
        assert "whole number" in resp.get_data(as_text=True)
        assert got == admission.Limits(None, 2) and not _audited(app, "capacity.limits")
    else:
        assert got == admission.Limits(*saved)
        assert _audited(app, "capacity.limits") == [{"max_running": saved[0],
                                                     "max_per_person": saved[1]}]


def test_idle_longest_first_and_stop_is_audited(stack, start_worker):
    with stack.app.app_context():
        for name in ("ada", "bob"):
            user, project = seed(email=f"{name}@example.com", project=name)
            assert run_until_done(user, project)[0].ready
    store = stack.coder.sim.store
    with store.lock:
        by_owner = {store.users[w.owner_id].username: w for w in store.workspaces.values()}
        by_owner["ada"].last_used_at -= 3600  # ada's is idle an hour longer
        ada_id = by_owner["ada"].id
    admin = person(stack.app, "root@example.com", admin=True)
    page = admin.get("/admin/capacity").get_data(as_text=True)
    rows = page.split('data-testid="idle-row"')[1:]
    assert len(rows) == 2 and "<td>ada</td>" in rows[0] and "<td>bob</td>" in rows[1]
    before = stack.coder.sim.count("/builds", "POST")
    assert post(admin, f"/admin/capacity/stop/{ada_id}").status_code == 303
    assert stack.coder.sim.count("/builds", "POST") == before  # no call in the request
    start_worker(stack.app)  # the worker stops it
    deadline = time.monotonic() + 15
    while stack.coder.sim.count("/builds", "POST") == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stack.coder.sim.count("/builds", "POST") == before + 1
    while not _audited(stack.app, "workspace.stop") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _audited(stack.app, "workspace.stop")[-1]["via"] == "admin_capacity"
    assert post(admin, "/admin/capacity/stop/not a uuid!").status_code in (400, 404)


@pytest.mark.parametrize("form, status, message", [
    ({"name": "big", "cpu_cores": "8", "memory_gb": "16", "disk_size": "50", "groups": "gpu"},
     303, None),
    ({"name": "odd", "cpu_cores": "3", "memory_gb": "4", "disk_size": "10"}, 400,
     "cpu_cores must be one of 2, 4, 8"),
    ({"name": "Bad Name!", "cpu_cores": "2", "memory_gb": "4", "disk_size": "10"}, 400,
     "A size name is"),
    ({"name": "x", "cpu_cores": "", "memory_gb": "4", "disk_size": "10"}, 400, "whole number"),
])
def test_sizes_saved_within_the_template_options(app, form, status, message):
    admin = person(app, "root@example.com", admin=True)
    resp = post(admin, "/admin/capacity/sizes", **form)
    assert resp.status_code == status
    if message:
        assert message in resp.get_data(as_text=True) and not _audited(app, "size.save")
    else:
        assert _audited(app, "size.save")[0]["groups"] == ["gpu"]
        assert "big" in admin.get("/admin/capacity").get_data(as_text=True)


def test_default_size_cannot_be_deleted_another_can(app):
    admin = person(app, "root@example.com", admin=True)
    resp = post(admin, "/admin/capacity/sizes/small/delete")
    assert resp.status_code == 400 and "default size cannot be deleted" in resp.get_data(as_text=True)
    assert post(admin, "/admin/capacity/sizes/large/delete").status_code == 303
    assert _audited(app, "size.delete") == [{}]
