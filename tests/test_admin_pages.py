"""Admin pages: search, sort, pagination, bad parameters, HTMX fragments, groups and projects
(deletion with its options), workspaces (one batched Coder read, stuck, actions), System."""
from __future__ import annotations

import pytest

from portal.workspaces import provisioning
from portal.clients import http
from portal.extensions import db
from portal.models import AuditEvent, Project, Role, User, WorkspaceState
from portal.services import current_services
from tests.collab_helpers import make_group, person, post
from tests.fixtures.app import TEST_SECRETS
from tests.provisioning_helpers import run_until_done, seed
from tests.test_authz_matrix import EXPECT, LOGIN


def _people(app, n: int) -> None:
    with app.app_context():
        db.session.add_all([User(sub=f"sub-{i}", email=f"user{i:04d}@example.com",
                                 name=f"Person {i:04d}", username=f"user{i:04d}") for i in range(n)])
        db.session.add(User(sub="sub-odd", email="odd@example.com", name="Percent 100% sure",
                            username="odd_one"))
        db.session.commit()


def test_every_admin_route_is_admin_only_in_the_matrix(app):
    rules = [(r.endpoint, m) for r in app.url_map.iter_rules() if r.rule.startswith("/admin")
             for m in r.methods - {"HEAD", "OPTIONS"}]
    assert len(rules) >= 17
    for key in rules:
        expect = EXPECT[key]
        assert expect["anonymous"] == LOGIN, key
        assert all(expect[p] == 403 for p in ("outsider", "reader", "contributor", "lead")), key


def test_users_search_sort_and_pages(app):
    admin = person(app, "root@example.com", admin=True)
    _people(app, 60)
    page = admin.get("/admin/users?per=25").get_data(as_text=True)
    assert "1–25 of 62" in page and "page 1 of 3" in page and 'rel="next"' in page
    last = admin.get("/admin/users?per=25&page=3").get_data(as_text=True)
    assert "51–62 of 62" in last and 'rel="next"' not in last
    found = admin.get("/admin/users?q=USER0042").get_data(as_text=True)
    assert "user0042@example.com" in found and "user0041@" not in found and "1–1 of 1" in found
    # LIKE wildcards typed by the admin match themselves
    assert "1–1 of 1" in admin.get("/admin/users?q=100%25").get_data(as_text=True)
    assert "1–1 of 1" in admin.get("/admin/users?q=d_o").get_data(as_text=True)
    desc = admin.get("/admin/users?sort=email&order=desc&per=1").get_data(as_text=True)
    assert "user0059@example.com" in desc
    # HTMX: only the table (and the pager), which keeps the filters in its links
    frag = admin.get("/admin/users?q=user00&per=5", headers={"HX-Request": "true"})
    body = frag.get_data(as_text=True)
    assert frag.status_code == 200 and "<html" not in body and 'data-testid="users-table"' in body
    assert "q=user00" in body and "per=5" in body and "HX-Request" in frag.headers.get("Vary", "")
    status = admin.get("/admin/users?status=deactivated").get_data(as_text=True)
    assert "0–0 of 0" in status


@pytest.mark.parametrize("query, text", [
    ("per=101", "between 1 and 100"), ("per=0", "between 1 and 100"), ("page=-1", "whole number"),
    ("page=abc", "whole number"), ("sort=password", "must be one of"), ("order=up", "must be one of"),
    ("status=gone", "must be one of"), ("q=" + "x" * 201, "too long"), ("q=%00", "control"),
])
def test_bad_parameters_are_400_with_a_message(app, query, text):
    admin = person(app, "root@example.com", admin=True)
    answers = {kind: admin.get(f"/admin/users?{query}", headers=headers)
               for kind, headers in (("page", {}), ("fragment", {"HX-Request": "true"}))}
    assert {kind: (r.status_code, text in r.get_data(as_text=True))
            for kind, r in answers.items()} == {"page": (400, True), "fragment": (400, True)}


def test_every_list_refuses_bad_parameters_with_a_message(app):
    admin = person(app, "root@example.com", admin=True)
    queries = {f"{url}?{query}": text
               for url in ("/admin/groups", "/admin/projects", "/admin/workspaces", "/admin/audit")
               for query, text in (("per=500", "between 1 and 100"),
                                   ("sort=id;drop", "must be one of"))}
    queries["/admin/workspaces?state=exploded"] = "must be one of"
    answers = {url: admin.get(url) for url in queries}
    assert {url: (r.status_code, queries[url] in r.get_data(as_text=True))
            for url, r in answers.items()} == dict.fromkeys(queries, (400, True))


def test_groups_and_projects_lists_with_counts_and_admin_acts_as_lead(app):
    admin = person(app, "root@example.com", admin=True)
    lead = person(app, "lead@example.com")
    make_group(lead)
    post(lead, "/groups/ml-team/projects/new", name="Vision", slug="vision", description="")
    post(lead, "/groups/ml-team/projects/new", name="Speech", slug="speech", description="")
    page = admin.get("/admin/groups").get_data(as_text=True)
    row = page[page.index('data-testid="group-row-ml-team"'):]
    row = row[:row.index("</tr>")]
    assert "<td>1</td>" in row and ">2</a>" in row and "/groups/ml-team/members" in row
    assert "ML Team" in admin.get("/admin/groups?sort=projects&order=desc").get_data(as_text=True)
    projects = admin.get("/admin/projects?group=ml-team").get_data(as_text=True)
    assert "Vision" in projects and "Speech" in projects and "1–2 of 2" in projects
    assert "Speech" not in admin.get("/admin/projects?q=vis").get_data(as_text=True)
    members = admin.get("/groups/ml-team/members").get_data(as_text=True)
    assert "Invite" in members  # the admin manages the members as a lead would


def test_project_delete_with_repo_and_workspaces_and_retry(stack):
    admin = person(stack.app, "root@example.com", admin=True)
    with stack.app.app_context():
        user, project = seed()
        provisioning.want_running(user, project)
        status, _ = run_until_done(user, project)
        assert status.ready
        ws_id = provisioning.workspace_state(user, project).coder_workspace_id
        pid = project.id
    assert stack.gitea.sim.repo("ml-team", "vision") is not None
    confirm = admin.get(f"/admin/projects/{pid}/delete").get_data(as_text=True)
    assert "Type the project's short name" in confirm and "1 workspace" in confirm
    assert post(admin, f"/admin/projects/{pid}/delete", confirm="nope").status_code == 400
    stack.gitea.sim.set_faults(down=True)
    resp = post(admin, f"/admin/projects/{pid}/delete", confirm="vision", delete_repo="y",
                delete_workspaces="y")
    assert resp.status_code == 502 and "project was kept" in resp.get_data(as_text=True)
    with stack.app.app_context():
        assert db.session.get(Project, pid) is not None
    stack.gitea.sim.reset_faults()
    resp = post(admin, f"/admin/projects/{pid}/delete", confirm="vision", delete_repo="y",
                delete_workspaces="y")
    assert resp.status_code == 303
    assert stack.gitea.sim.repo("ml-team", "vision") is None
    with stack.app.app_context():
        assert db.session.get(Project, pid) is None
        assert db.session.scalar(db.select(WorkspaceState)) is None
        ws = current_services().coder.get_workspace_by_id(ws_id)
        assert ws is None or ws.latest_build.transition == "delete"
        actions = set(db.session.scalars(db.select(AuditEvent.action)))
    assert {"project.delete_failed", "project.delete", "repo.delete", "workspace.delete"} <= actions
    assert "deleted" in admin.get("/admin/projects").get_data(as_text=True)


class Calls:
    def __init__(self):
        self.records = []

    def __enter__(self):
        http.call_listeners.append(self)
        return self

    def __exit__(self, *exc):
        http.call_listeners.remove(self)

    def __call__(self, record):
        self.records.append(record)


def _wait_for(done, timeout: float = 15.0) -> None:
    import time
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the worker never did it"
        time.sleep(0.05)


def _wait_stopped(app, ws_id: str, timeout: float = 15.0) -> None:
    import time

    from portal.clients.coder import readiness
    deadline = time.monotonic() + timeout
    with app.app_context():
        while readiness(current_services().coder.get_workspace_by_id(ws_id)).stage != "stopped":
            assert time.monotonic() < deadline, "the stop build never finished"
            time.sleep(0.05)


def test_workspaces_page_reads_coder_once_marks_stuck_and_acts(stack, start_worker):
    admin = person(stack.app, "root@example.com", admin=True)
    with stack.app.app_context():
        ids = {}
        for name in ("ada", "ben", "cyd"):
            user, project = seed(f"{name}@example.com", role=Role.contributor if name != "ada" else Role.lead)
            if name == "cyd":
                stack.coder.sim.fail_builds = 1
            provisioning.want_running(user, project)
            run_until_done(user, project)
            ids[name] = (user.id, project.id)
    with Calls() as calls:
        page = admin.get("/admin/workspaces").get_data(as_text=True)
    coder_reads = [r for r in calls.records if r.service == "coder"]
    assert len(coder_reads) == 1 and coder_reads[0].path == "/workspaces"
    assert page.count('data-testid="ws-state"') == 3
    cyd = page[page.index(f'data-testid="ws-cyd-{ids["cyd"][1]}"'):]
    assert 'class="stuck"' in cyd[:200] or "stuck" in cyd[:cyd.index("</tr>")]
    assert "1–1 of 1" in admin.get("/admin/workspaces?state=stuck").get_data(as_text=True)
    assert "1–2 of 2" in admin.get("/admin/workspaces?state=running").get_data(as_text=True)
    assert "ada@" not in admin.get("/admin/workspaces?q=ben").get_data(as_text=True)

    uid, pid = ids["ben"]
    before = stack.coder.sim.count("/builds", "POST")
    assert post(admin, f"/admin/workspaces/{uid}/{pid}/stop").status_code == 303
    assert stack.coder.sim.count("/builds", "POST") == before  # no call in the request: a job
    with stack.app.app_context():
        state = db.session.scalar(db.select(WorkspaceState).where(WorkspaceState.user_id == uid))
        assert state.desired_state == "stopped"  # shown at once
    listing = admin.get("/admin/workspaces").get_data(as_text=True)

    def row(name: str, project_id: int) -> str:
        at = listing.index(f'data-testid="ws-{name}-{project_id}"')
        return listing[at:listing.index("</tr>", at)]
    ada, ben = row("ada", ids["ada"][1]), row("ben", pid)
    assert "ws-stop" in ada and "ws-start" not in ada  # running: Stop, no Start
    assert "stop requested" in ben and "ws-stop" not in ben and "ws-start" not in ben
    start_worker(stack.app)
    _wait_for(lambda: stack.coder.sim.count("/builds", "POST") == before + 1)
    with stack.app.app_context():
        ws = current_services().coder.get_workspace_by_id(state.coder_workspace_id)
        assert ws.latest_build.transition == "stop"
    confirm = admin.get(f"/admin/workspaces/{uid}/{pid}/delete")
    assert confirm.status_code == 200 and "loses the files" in confirm.get_data(as_text=True)
    assert post(admin, f"/admin/workspaces/{uid}/{pid}/delete").status_code == 400  # unconfirmed
    assert post(admin, f"/admin/workspaces/{uid}/{pid}/explode").status_code == 404
    _wait_stopped(stack.app, state.coder_workspace_id)  # a build in progress refuses another (409)
    resp = post(admin, f"/admin/workspaces/{uid}/{pid}/delete", confirm="y",
                next="/admin/workspaces?state=running")
    assert resp.status_code == 303 and resp.location.endswith("/admin/workspaces?state=running")

    def gone() -> bool:
        with stack.app.app_context():
            return db.session.scalar(db.select(WorkspaceState).where(
                WorkspaceState.user_id == uid)) is None
    _wait_for(gone)
    with stack.app.app_context():
        actions = list(db.session.scalars(db.select(AuditEvent.action)))
    assert "workspace.stop" in actions and "workspace.delete" in actions
    # Coder down: the page still answers, saying so
    stack.coder.stop()
    down = admin.get("/admin/workspaces")
    assert down.status_code == 200 and "Coder could not be read" in down.get_data(as_text=True)


def test_admin_workspace_action_failing_in_coder_is_audited_and_keeps_the_row(stack):
    from portal.workspaces import admin_actions
    admin = person(stack.app, "root@example.com", admin=True)
    with stack.app.app_context():
        user, project = seed("ada@example.com")
        provisioning.want_running(user, project)
        run_until_done(user, project)
        state_id = provisioning.workspace_state(user, project).id
        actor = db.session.scalar(db.select(User).where(User.email == "root@example.com")).id
    stack.coder.stop()
    with stack.app.app_context():
        assert admin_actions.run_workspace_action(state_id, "delete", actor) == \
            "workspace.delete_failed"
        assert db.session.get(WorkspaceState, state_id) is not None  # a retry knows the id
        event = db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.action == "workspace.delete_failed")).one()
        assert event.details["via"] == "admin" and event.details["reason"]
        assert admin_actions.run_workspace_action(state_id + 99, "stop", actor) is None
    assert admin.get("/admin/audit").status_code == 200


def test_admin_workspace_action_with_the_broker_out_of_reach_says_so(stack, monkeypatch):
    from portal.workspaces.queue import Queue
    admin = person(stack.app, "root@example.com", admin=True)
    with stack.app.app_context():
        user, project = seed("ada@example.com")
        provisioning.want_running(user, project)
        run_until_done(user, project)
        uid, pid = user.id, project.id
    monkeypatch.setattr(Queue, "enqueue", lambda self, name, *args, delay=None: False)
    resp = post(admin, f"/admin/workspaces/{uid}/{pid}/stop")
    assert resp.status_code == 303
    page = admin.get(resp.location).get_data(as_text=True)
    assert "worker is out of reach: nothing was done" in page
    with stack.app.app_context():
        state = db.session.scalar(db.select(WorkspaceState).where(WorkspaceState.user_id == uid))
        assert state.desired_state == "running"  # nothing recorded that nobody will do


def test_system_page_masks_every_secret_and_refreshes(stack):
    admin = person(stack.app, "root@example.com", admin=True)
    resp = admin.get("/admin/system")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    for secret in (*TEST_SECRETS.values(), stack.app.config["SETTINGS"].encryption_key,
                   stack.gitea.admin_token, stack.coder.admin_token):
        assert secret not in page
    assert "••••••" in page and "coder_url" in page and 'data-testid="versions"' in page
    assert "0.1.0" in page and 'id="doctor"' in page
    # the worker section: queue depth, and "never" before any worker ran
    assert 'data-testid="worker"' in page and "0 waiting" in page and "never" in page
    frag = admin.get("/admin/system", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert frag.lstrip().startswith("{#") is False and "<html" not in frag and 'id="doctor"' in frag
    index = admin.get("/admin/").get_data(as_text=True)
    assert 'data-testid="count-users"' in index and 'data-testid="admin-nav"' in index


def test_system_page_shows_the_versions_the_worker_read_with_their_age(stack):
    from portal.workspaces import platform
    admin = person(stack.app, "root@example.com", admin=True)

    def versions() -> str:
        page = admin.get("/admin/system").get_data(as_text=True)
        return page.split('data-testid="versions"', 1)[1].split("</dl>", 1)[0]

    assert versions().count("not read yet") == 2        # Coder and Gitea, before any worker
    stack.gitea.sim.set_faults(down=True)               # Gitea answers 502
    with stack.app.app_context():
        platform.read(current_services())               # the worker's housekeeping
    shown = versions()
    assert "v2.99.0-devstack (read by the worker" in shown and " s ago)" in shown
    assert "unavailable (" in shown.split("<dt>Gitea</dt>", 1)[1]  # why, instead of a version


def test_pagination_and_search_with_1000_people(app):
    from tests.bench.admin_users import seed_people
    admin = person(app, "root@example.com", admin=True)
    seed_people(app, 1000)
    first = admin.get("/admin/users?per=100").get_data(as_text=True)
    assert "1–100 of 1001" in first and "page 1 of 11" in first and first.count('data-testid="user-row-') == 100
    last = admin.get("/admin/users?per=100&page=11").get_data(as_text=True)
    assert "1001–1001 of 1001" in last and last.count('data-testid="user-row-') == 1
    beyond = admin.get("/admin/users?per=100&page=12").get_data(as_text=True)
    assert "No one matches." in beyond                     # past the end: empty, not an error
    seen = set()
    for n in range(1, 12):
        page = admin.get(f"/admin/users?per=100&page={n}&sort=username").get_data(as_text=True)
        seen |= {line.split('data-testid="user-row-')[1].split('"')[0]
                 for line in page.splitlines() if 'data-testid="user-row-' in line}
    assert len(seen) == 1001                                  # every person exactly on one page
    found = admin.get("/admin/users?q=person05", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "1–25 of 100" in found and "person0500" in found
    groups = admin.get("/admin/users?q=person0010").get_data(as_text=True)
    assert "group-1" in groups                                # the groups column
