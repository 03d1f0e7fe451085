"""The Code tab and project pages through HTTP (test client), against the simulators."""
import re
import time

import pytest

from portal.extensions import db
from portal.models import Project, WorkspaceState
from tests.fixtures.app import CSRF_RE, dev_sign_in

STAGE_RE = re.compile(r'data-stage="([a-z_]+)"')


def csrf(client, path="/"):
    return CSRF_RE.search(client.get(path).get_data(as_text=True)).group(1)


def create_project(client, group="Vision Team", project="Cat Detector"):
    token = csrf(client, "/groups/new")
    resp = client.post("/groups/new", data={"csrf_token": token, "name": group})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:300]
    slug = resp.location.rsplit("/", 1)[-1]
    resp = client.post(f"/groups/{slug}/projects/new", data={"csrf_token": token, "name": project})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:300]
    return slug, int(resp.location.rsplit("/", 1)[-1])


def open_code(client, project_id, timeout=20.0):
    """Drive the Code tab as htmx would: POST open, then poll status until done."""
    headers = {"HX-Request": "true", "X-CSRFToken": csrf(client, f"/projects/{project_id}/code")}
    body = client.post(f"/projects/{project_id}/code/open", headers=headers).get_data(as_text=True)
    stages = [STAGE_RE.search(body).group(1)]
    deadline = time.monotonic() + timeout
    while "hx-trigger=\"load delay" in body and time.monotonic() < deadline:
        time.sleep(0.05)
        resp = client.get(f"/projects/{project_id}/code/status", headers=headers)
        assert resp.status_code == 200
        body = resp.get_data(as_text=True)
        stage = STAGE_RE.search(body).group(1)
        if stage != stages[-1]:
            stages.append(stage)
    return body, stages


def stop_and_wait(client, coder, project_id: int, timeout: float = 10.0) -> None:
    """Stop from the Overview (an intent), then wait until the worker has sent the stop build."""
    builds = coder.sim.count("/builds", "POST")
    resp = client.post(f"/projects/{project_id}/workspace/stop",
                       data={"csrf_token": csrf(client, f"/projects/{project_id}")})
    assert resp.status_code == 303
    deadline = time.monotonic() + timeout
    while coder.sim.count("/builds", "POST") <= builds and time.monotonic() < deadline:
        time.sleep(0.05)
    assert coder.sim.count("/builds", "POST") > builds, "the worker sent no stop build"


@pytest.fixture
def signed_in(stack, worker):
    client = stack.app.test_client()
    dev_sign_in(client, "ada@example.com", "Ada Lovelace")
    return client


def test_code_tab_provisions_and_embeds_the_ide(stack, signed_in):
    _, pid = create_project(signed_in)
    page = signed_in.get(f"/projects/{pid}/code").get_data(as_text=True)
    assert f'hx-post="/projects/{pid}/code/open"' in page and 'hx-trigger="load"' in page
    body, stages = open_code(signed_in, pid)
    # The open answers with the row as recorded (the worker has not run yet); then the stages
    # the worker writes, in order.
    assert stages[0] == "repository" and stages[-1] == "ready" and "building" in stages
    src = re.search(r'<iframe src="([^"]+)"', body).group(1)
    assert "code-server--main--proj-" in src and "coder_application_connect_api_key" in src
    assert "every 300s" in body  # keep-alive while the IDE is shown
    overview = signed_in.get(f"/projects/{pid}").get_data(as_text=True)
    assert "/vision-team/cat-detector.git" in overview and "running" in overview
    dash = signed_in.get("/").get_data(as_text=True)
    assert 'data-testid="ws-state">running' in dash


def test_open_needs_csrf_and_a_poll_is_a_read(stack, signed_in, worker):
    _, pid = create_project(signed_in)
    assert signed_in.post(f"/projects/{pid}/code/open").status_code == 400
    assert signed_in.post(f"/projects/{pid}/code/status").status_code == 400  # POST: CSRF kept
    worker.stop()  # the worker's own calls (the group's Gitea sync, passes) are not the poll's
    calls = len(stack.coder.recorder.exchanges) + len(stack.gitea.recorder.exchanges)
    poll = signed_in.get(f"/projects/{pid}/code/status")
    assert poll.status_code == 200 and "Preparing" in poll.get_data(as_text=True)
    assert len(stack.coder.recorder.exchanges) + len(stack.gitea.recorder.exchanges) == calls


def test_non_member_gets_404(stack, signed_in):
    _, pid = create_project(signed_in)
    other = stack.app.test_client()
    dev_sign_in(other, "eve@example.com")
    page = other.get(f"/projects/{pid}")
    assert page.status_code == 404 and "Cat Detector" not in page.get_data(as_text=True)
    assert other.get(f"/projects/{pid}/code").status_code == 404
    headers = {"X-CSRFToken": csrf(other)}
    assert other.post(f"/projects/{pid}/code/open", headers=headers).status_code == 404
    with stack.app.app_context():  # the refused open recorded no intent to run a workspace
        assert db.session.scalars(db.select(WorkspaceState)).all() == []


def test_failure_shows_reason_and_retry_recovers(stack, signed_in):
    stack.coder.sim.fail_builds = 1
    stack.coder.sim.fail_message = "out of disk space on the Docker host"
    _, pid = create_project(signed_in)
    body, stages = open_code(signed_in, pid)
    assert stages[-1] == "failed" and "out of disk space" in body and 'data-testid="retry"' in body
    headers = {"HX-Request": "true", "X-CSRFToken": csrf(signed_in)}
    body = signed_in.post(f"/projects/{pid}/code/retry", headers=headers).get_data(as_text=True)
    assert 'data-stage="failed"' not in body
    body, stages = open_code(signed_in, pid)
    assert stages[-1] == "ready"


def test_stop_from_overview_then_open_starts_again(stack, signed_in):
    _, pid = create_project(signed_in)
    open_code(signed_in, pid)
    token = csrf(signed_in, f"/projects/{pid}")
    resp = signed_in.post(f"/projects/{pid}/workspace/stop", data={"csrf_token": token})
    assert resp.status_code == 303
    with stack.app.app_context():
        assert db.session.scalar(db.select(WorkspaceState.stage)) == "stopped"
    deadline = time.monotonic() + 10  # the worker stops it (a build with transition stop)
    while stack.coder.sim.count("/builds", "POST") < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    starts_before = stack.coder.sim.count("/builds", "POST")
    assert starts_before == 1
    body, stages = open_code(signed_in, pid)
    assert stages[-1] == "ready" and "building" in stages
    assert stack.coder.sim.count("/builds", "POST") > starts_before


def test_coder_down_dashboard_degrades_and_code_tab_keeps_polling(stack, signed_in):
    _, pid = create_project(signed_in)
    open_code(signed_in, pid)
    stack.coder.sim.set_faults(status_override={"status": 503})
    dash = signed_in.get("/")  # the rows the worker wrote: no call to Coder in the request
    assert dash.status_code == 200 and 'data-testid="ws-state">running' in dash.get_data(as_text=True)
    headers = {"HX-Request": "true", "X-CSRFToken": csrf(signed_in)}
    resp = signed_in.post(f"/projects/{pid}/code/open", headers=headers)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "not reachable" in body and "load delay" in body
    stack.coder.sim.reset_faults()
    body, stages = open_code(signed_in, pid)
    assert stages[-1] == "ready"


def test_keepalive_extends_the_deadline(stack, signed_in):
    _, pid = create_project(signed_in)
    open_code(signed_in, pid)
    headers = {"HX-Request": "true", "X-CSRFToken": csrf(signed_in)}
    assert signed_in.post(f"/projects/{pid}/code/keepalive", headers=headers).status_code == 204
    assert stack.coder.sim.count("/extend", "PUT") == 0  # recorded only: the worker extends
    with stack.app.app_context():
        from portal.services import current_services
        from portal.workspaces import housekeeping
        assert housekeeping.keep_alive(current_services()) == 1
    assert stack.coder.sim.count("/extend", "PUT") == 1


def test_reader_cannot_create_projects(stack, signed_in):
    from portal.models import Group, Membership, Role, User
    slug, pid = create_project(signed_in)
    reader = stack.app.test_client()
    dev_sign_in(reader, "rita@example.com")
    with stack.app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == "rita@example.com"))
        group = db.session.scalar(db.select(Group))
        db.session.add(Membership(user=user, group=group, role=Role.reader))
        db.session.commit()
    assert reader.get(f"/groups/{slug}/projects/new").status_code == 403
    assert "read-only" in reader.get(f"/projects/{pid}").get_data(as_text=True)
    body, stages = open_code(reader, pid)
    assert stages[-1] == "ready"


@pytest.mark.parametrize("name,slug,reason", [
    ("", "", "Give the group a name"),
    ("x" * 101, "", "At most 100 characters"),
    ("Admin", "admin", "reserved"),
    ("Nice", "bad--slug", ""),
    ("Émilie's ☃ team", "", None),
])
def test_group_form_validation(stack, signed_in, name, slug, reason):
    token = csrf(signed_in, "/groups/new")
    resp = signed_in.post("/groups/new", data={"csrf_token": token, "name": name, "slug": slug})
    if reason is None:
        assert resp.status_code == 303
    else:
        assert resp.status_code == 400
        assert reason in resp.get_data(as_text=True)


def test_inline_slug_check_says_why(stack, signed_in):
    create_project(signed_in)
    body = signed_in.get("/groups/check", query_string={"name": "Vision Team"}).get_data(as_text=True)
    assert "taken" in body
    body = signed_in.get("/groups/check", query_string={"name": "New Team"}).get_data(as_text=True)
    assert "new-team" in body and "available" in body


def test_provision_command_prints_ide_url_last(stack):
    runner = stack.app.test_cli_runner()
    result = runner.invoke(args=["portal", "provision", "--email", "Workshop@Example.com",
                                 "--group", "workshop-1", "--project", "intro", "--timeout", "30"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("account:")
    assert lines[-1].startswith("http://code-server--main--proj-") and "key" not in lines[-1]
    with stack.app.app_context():
        assert db.session.scalar(db.select(Project.slug)) == "intro"
    again = runner.invoke(args=["portal", "provision", "--email", "workshop@example.com",
                                "--group", "workshop-1", "--project", "intro"])
    clash = runner.invoke(args=["portal", "provision", "--email", "workshop@example.com",
                                "--group", "workshop", "--project", "intro"])
    assert clash.exit_code != 0 and "username" in clash.output
    assert again.exit_code == 0 and stack.coder.sim.count("/workspaces", "POST") == 1


def test_provision_command_fails_cleanly(stack):
    stack.coder.sim.fail_builds = 5
    runner = stack.app.test_cli_runner()
    result = runner.invoke(args=["portal", "provision", "--email", "x@example.com", "--group", "g1",
                                 "--project", "p1", "--timeout", "30"])
    assert result.exit_code == 1 and "failed" in result.output
    bad = runner.invoke(args=["portal", "provision", "--email", "not-an-email", "--group", "g1",
                              "--project", "p1"])
    assert bad.exit_code != 0 and "not a valid email" in bad.output
