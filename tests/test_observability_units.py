"""The recording functions, the operation labels, the scrape-time gauges, the time-to-IDE
rows and the settings of portal/observability, each on its own."""
from __future__ import annotations

import datetime as dt
import socket
import smtplib

import pytest
from prometheus_client import REGISTRY

from portal.config import ConfigError, Settings
from portal.extensions import db
from portal.models import Group, IdeWait, Project, User, WorkspaceState, utcnow
from portal.observability import gauges, ide_waits, metrics
from portal.observability.operations import operation
from portal.observability.outbound import oidc_operation
from portal.people.tokens import aware
from tests.contract import CONTRACTS_AVAILABLE, match_operation
from tests.test_config import GOOD


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize("method, path, expected", [
    ("GET", "/users/ada/workspace/proj-7", "GET /users/{}/workspace/{}"),
    ("GET", "/users/me/keys/tokens/tokenconfig", "GET /users/{}/keys/tokens/tokenconfig"),
    ("POST", "/users/ada/keys/tokens", "POST /users/{}/keys/tokens"),
    ("DELETE", "/users/ada/keys/0a1b2c", "DELETE /users/{}/keys/{}"),
    ("GET", "/workspaces?q=id:1,id:2", "GET /workspaces"),
    ("POST", "/workspaces/9f0e/builds", "POST /workspaces/{}/builds"),
    ("GET", "/api/v1/repos/vision/cats", "GET /api/v1/repos/{}/{}"),
    ("POST", "/api/v1/repos/migrate", "POST /api/v1/repos/migrate"),
    ("PUT", "/api/v1/teams/3/members/bob", "PUT /api/v1/teams/{}/members/{}"),
    ("GET", "/api/v1/admin/users/bob/orgs", "GET /api/v1/admin/users/{}/orgs"),
    ("GET", "/api/v1/users/admin/tokens", "GET /api/v1/users/{}/tokens"),  # a user named admin
    ("GET", "/api/v1/something/unknown/x", "GET /api/v1/{}/{}/{}"),
    ("GET", "", "GET /"),
])
def test_operation_labels(method, path, expected):
    assert operation(method, path) == expected


@pytest.mark.skipif(not CONTRACTS_AVAILABLE, reason="needs ../shared/contracts")
def test_operation_labels_are_the_contract_templates(stack, worker):
    """Every call of a Code tab open is labelled with its path template in the contract."""
    from tests.fixtures.app import dev_sign_in
    from tests.test_code_tab import create_project, open_code
    client = stack.app.test_client()
    dev_sign_in(client, "ada@example.com")
    _, pid = create_project(client)
    open_code(client, pid)
    seen = 0
    for spec, exchanges, base in (("coder", stack.coder.recorder.exchanges, "/api/v2"),
                                  ("gitea", stack.gitea.exchanges, "")):
        for e in exchanges:
            if e.is_control or e.path.endswith("healthz"):
                continue
            template = match_operation(spec, e.method, e.path).template
            relative = e.path[len(base):] if base else e.path
            expected_path = "/" + "/".join("{}" if seg.startswith("{") else seg
                                           for seg in template.strip("/").split("/"))
            if spec == "gitea":
                expected_path = "/api/v1" + expected_path
            assert operation(e.method, relative) == f"{e.method} {expected_path}", e.path
            seen += 1
    assert seen > 10


@pytest.mark.parametrize("status, timed_out, outcome", [
    (200, False, "ok"), (303, False, "ok"), (404, False, "client_error"),
    (429, False, "rate_limited"), (503, False, "server_error"), (None, True, "timeout"),
    (None, False, "unreachable")])
def test_outcome_of(status, timed_out, outcome):
    assert metrics.outcome_of(status, timed_out) == outcome


@pytest.mark.parametrize("raised, outcome", [
    (None, "ok"), (socket.timeout("slow"), "timeout"), (ConnectionRefusedError(), "unreachable"),
    (socket.gaierror("no such host"), "unreachable"),
    (smtplib.SMTPAuthenticationError(535, b"no"), "error")])
def test_timed_call_outcomes(raised, outcome):
    labels = {"service": "smtp", "operation": "send", "outcome": outcome}
    before = value("portal_outbound_requests_total", **labels)
    with pytest.raises(type(raised)) if raised else _nothing():
        with metrics.timed_call("smtp", "send"):
            if raised:
                raise raised
    assert value("portal_outbound_requests_total", **labels) == before + 1


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("url, name", [
    ("https://auth.example.com/application/o/portal/.well-known/openid-configuration", "discovery"),
    ("https://auth.example.com/application/o/token/", "token"),
    ("https://auth.example.com/application/o/userinfo/", "userinfo"),
    ("https://auth.example.com/application/o/portal/jwks/", "jwks"),
    ("https://auth.example.com/application/o/portal/end-session/?x=1", "other")])
def test_oidc_operations(url, name):
    assert oidc_operation(url) == name


def test_worker_recorders():
    before_jobs = value("portal_jobs_total", kind="reconcile", outcome="ok")
    before_count = value("portal_job_duration_seconds_count", kind="reconcile")
    metrics.job_finished("reconcile", "ok", 0.4)
    assert value("portal_jobs_total", kind="reconcile", outcome="ok") == before_jobs + 1
    assert value("portal_job_duration_seconds_count", kind="reconcile") == before_count + 1


def test_recording_off_records_nothing():
    before = value("portal_jobs_total", kind="off-test", outcome="ok")
    metrics.enable(False)
    try:
        metrics.job_finished("off-test", "ok", 0.1)
        metrics.time_to_ide("running", 1.0)
    finally:
        metrics.enable(True)
    assert value("portal_jobs_total", kind="off-test", outcome="ok") == before


def _rows(app):
    with app.app_context():
        user = User(sub="s1", email="ada@example.com", username="ada", last_seen_at=utcnow())
        old = User(sub="s2", email="bob@example.com", username="bob",
                   last_seen_at=utcnow() - dt.timedelta(days=2))
        group = Group(slug="g", name="G")
        project = Project(group=group, slug="p", name="P")
        db.session.add_all([user, old, group, project])
        db.session.commit()
        db.session.add(WorkspaceState(user_id=user.id, project_id=project.id, stage="building"))
        db.session.commit()
        return user.id, project.id


def test_database_gauges_and_their_cache(make_app):
    app = make_app()
    _rows(app)
    collector = gauges.PortalCollector(app, cache_seconds=3600)
    families = {f.name: f for f in collector.collect()}
    assert families["portal_people_signed_in_24h"].samples[0].value == 1
    assert families["portal_groups"].samples[0].value == 1
    assert families["portal_projects"].samples[0].value == 1
    assert [(s.labels, s.value) for s in families["portal_workspaces"].samples] == [
        ({"state": "building"}, 1)]
    with app.app_context():
        db.session.execute(db.update(WorkspaceState).values(stage="ready"))
        db.session.commit()
    cached = {f.name: f for f in collector.collect()}["portal_workspaces"].samples
    assert cached[0].labels == {"state": "building"}  # within the cache time: no new query
    collector.cache_seconds = 0
    fresh = {f.name: f for f in collector.collect()}["portal_workspaces"].samples
    assert fresh[0].labels == {"state": "ready"}


@pytest.mark.parametrize("probe, expected", [
    (lambda: {"queue_depth": 3, "heartbeat_age_seconds": 1.5, "last_sweep_timestamp": 1.7e9},
     {"portal_worker_queue_depth": 3, "portal_worker_heartbeat_age_seconds": 1.5,
      "portal_worker_last_sweep_timestamp_seconds": 1.7e9}),
    (lambda: {"queue_depth": 0, "heartbeat_age_seconds": None}, {"portal_worker_queue_depth": 0}),
    (lambda: 1 / 0, {}),  # a failing probe: the figures are absent, the scrape still works
])
def test_worker_probe(make_app, probe, expected):
    app = make_app()
    gauges.register_worker_probe(app, probe)
    families = {f.name: f.samples[0].value for f in gauges.PortalCollector(app).collect()
                if f.name.startswith("portal_worker")}
    assert families == expected


def test_ide_wait_kinds_only_get_heavier_and_are_served_once(make_app):
    app = make_app()
    user_id, project_id = _rows(app)
    with app.app_context():
        user, project = db.session.get(User, user_id), db.session.get(Project, project_id)
        before = value("portal_time_to_ide_seconds_count", kind="first_build")
        ide_waits.intent(user, project)
        ide_waits.intent(user, project)  # a second tab: the same wait
        ide_waits.saw(user, project, "first_build")
        ide_waits.saw(user, project, "start")  # never lighter
        db.session.commit()
        assert db.session.scalar(db.select(IdeWait.kind)) == "first_build"
        ide_waits.served(user, project)
        ide_waits.served(user, project)  # a second poll serving the same iframe
        assert value("portal_time_to_ide_seconds_count", kind="first_build") == before + 1
        assert db.session.scalar(db.select(db.func.count()).select_from(IdeWait)) == 0


def test_a_stale_wait_starts_again(make_app):
    app = make_app()
    user_id, project_id = _rows(app)
    with app.app_context():
        user, project = db.session.get(User, user_id), db.session.get(Project, project_id)
        long_ago = utcnow() - ide_waits.STALE_AFTER - dt.timedelta(seconds=5)
        db.session.add(IdeWait(user_id=user.id, project_id=project.id, intent_at=long_ago,
                               kind="start"))
        db.session.commit()
        ide_waits.intent(user, project)
        row = db.session.scalar(db.select(IdeWait))
        assert row.kind == "running" and aware(row.intent_at) > long_ago


@pytest.mark.parametrize("name, value_", [
    ("PORTAL_LOG_FORMAT", "xml"),
    ("PORTAL_METRICS_ALLOW", "10.0.0.0/33"),
    ("PORTAL_METRICS_ALLOW", "localhost"),
    ("PORTAL_METRICS_TOKEN", "short"),
    ("PORTAL_METRICS_TOKEN", "has a space in it 0123"),
    ("PORTAL_METRICS", "sometimes"),
    ("PORTAL_BEHIND_PROXY", "maybe"),
    ("PROMETHEUS_MULTIPROC_DIR", "/no/such/dir/for/metrics"),
])
def test_observability_settings_are_checked(name, value_):
    with pytest.raises(ConfigError) as err:
        Settings.from_env({**GOOD, name: value_})
    assert name in str(err.value) and "\n" not in str(err.value)


def test_observability_settings_defaults_and_masking():
    s = Settings.from_env({**GOOD, "PORTAL_METRICS_TOKEN": "t" * 20})
    assert s.log_format == "text" and s.metrics_enabled and not s.behind_proxy
    assert [str(n) for n in s.metrics_allow] == ["127.0.0.0/8", "::1/128"]
    assert "t" * 20 not in " ".join(s.public_view().values()) and "t" * 20 not in repr(s)


@pytest.mark.parametrize("result, outcome", [
    ({"ready": True}, "ready"), ({"failed": True}, "failed"), ({"transient": True}, "transient"),
    ({}, "progress"), (RuntimeError("a bug"), "error")])
def test_timed_pass_outcomes(result, outcome):
    from portal.workspaces.provisioning import Status

    def reconcile():
        if isinstance(result, Exception):
            raise result
        return Status("building", "…", **result)
    before = value("portal_pass_duration_seconds_count", outcome=outcome)
    if isinstance(result, Exception):
        with pytest.raises(RuntimeError):
            metrics.timed_pass(reconcile)
    else:
        assert metrics.timed_pass(reconcile).stage == "building"
    assert value("portal_pass_duration_seconds_count", outcome=outcome) == before + 1
