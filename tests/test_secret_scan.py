"""Secret scan: no credential the portal holds appears in clear anywhere it writes.

Distinctive values are in play: the Coder and Gitea admin tokens, the OIDC client secret,
the session and encryption keys, the person's Coder and Gitea tokens (minted during the
flows) and a GitHub token. The main flows run over the test client against the simulators
and a fake OIDC provider (sign-in, dashboard, group and project, Code tab to the IDE,
invite and role change, settings, admin pages, error pages under faults, `flask portal
doctor`, a few requests through a real HTTP server for werkzeug's access log). Then every
response body and header, every log record (DEBUG, all loggers), every requested URL and
the raw SQLite database (file bytes and every column) are searched for each value; the JSON
log lines and GET /metrics are also searched for the people's email addresses.
"""
from __future__ import annotations

import io
import logging
import re
import sqlite3

import pytest
import requests

from portal.people import tokens
from portal.devstack.gitea import make_gitea_sim
from portal.devstack.server import ServerThread
from portal.extensions import db
from portal.models import User
from portal.services import current_services
from tests.faults import Faulty, RunningIdp, oidc_sign_in
from tests.fixtures.app import CSRF_RE
from tests.fixtures.devstack_coder import start_coder_sim
from tests.test_github_token import CLASSIC

CODER_ADMIN = "coderadmin-SCAN-0c7e1d2b9a4f5e6d"
GITEA_ADMIN = "giteaadmin-SCAN-5b8c2e9f1a7d3c4e"
SECRET_KEY = "session-key-SCAN-4e1f9a8b7c6d5e4f3a2b1c0d"
ENCRYPTION_KEY = "U0NBTi1lbmNyeXB0aW9uLWtleS0zMmJ5dGVzLW9rISE="  # base64 of 32 bytes


@pytest.fixture
def scanned(make_app, tmp_path):
    coder = start_coder_sim(admin_token=CODER_ADMIN)
    wsgi, gsim = make_gitea_sim(admin_token=GITEA_ADMIN)
    gitea = ServerThread(wsgi).start()
    idp = RunningIdp()
    env = {"CODER_URL": coder.url, "CODER_ADMIN_API_KEY": CODER_ADMIN,
           "CODER_WILDCARD_ACCESS_URL": coder.wildcard_host, "GITEA_URL": gitea.url,
           "GITEA_ADMIN_TOKEN": GITEA_ADMIN, "GITEA_AUTH_SOURCE_ID": "1",
           "PORTAL_SECRET_KEY": SECRET_KEY, "PORTAL_ENCRYPTION_KEY": ENCRYPTION_KEY,
           "PORTAL_HTTP_CONNECT_TIMEOUT": "0.5", "PORTAL_HTTP_READ_TIMEOUT": "0.5", **idp.env()}
    app = make_app(**env)
    yield app, coder, idp, tmp_path
    idp.stop()
    gitea.stop()
    coder.stop()


def test_no_secret_in_clear_anywhere(scanned, caplog, start_worker):
    from portal.observability import logs as portal_logs
    from tests.test_code_tab import open_code
    app, coder, idp, tmp_path = scanned
    start_worker(app)  # the reconciler tier: its log lines are scanned too
    caplog.set_level(logging.DEBUG)
    json_lines = io.StringIO()  # what PORTAL_LOG_FORMAT=json would write, for the same flows
    portal_logs.configure("json", stream=json_lines)
    seen: list[str] = []

    @app.after_request
    def _capture(response):
        from flask import request
        seen.append(request.full_path)
        if not response.is_streamed:
            seen.append(response.get_data(as_text=True))
        seen.append(str(response.headers))
        return response

    lead = app.test_client()
    assert oidc_sign_in(lead, idp.idp, "ada@example.com", admin=True).status_code == 302
    bob = app.test_client()
    assert oidc_sign_in(bob, idp.idp, "bob@example.com").status_code == 302

    def csrf(path="/"):
        return CSRF_RE.search(lead.get(path).get_data(as_text=True)).group(1)

    token = csrf("/groups/new")
    slug = lead.post("/groups/new", data={"csrf_token": token, "name": "Vision"}).location.rsplit("/", 1)[-1]
    pid = int(lead.post(f"/groups/{slug}/projects/new", data={"csrf_token": token, "name": "Cats"})
              .location.rsplit("/", 1)[-1])
    assert lead.post("/settings/github-token", data={"csrf_token": csrf("/settings"),
                                                     "token": CLASSIC}).status_code == 303
    body, stages = open_code(lead, pid)
    assert stages[-1] == "ready"
    iframe = re.search(r'<iframe src="([^"]+)"', body).group(1)
    hx = {"HX-Request": "true", "X-CSRFToken": csrf()}
    lead.post(f"/groups/{slug}/members", data={"who": "bob@example.com", "role": "reader"}, headers=hx)
    with app.app_context():
        bob_id = db.session.scalar(db.select(User.id).where(User.email == "bob@example.com"))
        ada = db.session.scalar(db.select(User).where(User.email == "ada@example.com"))
        coder_token = tokens.stored(current_services(), ada, tokens.CODER_TOKEN)
        gitea_token = tokens.stored(current_services(), ada, tokens.GITEA_TOKEN)
    assert coder_token and gitea_token
    lead.post(f"/groups/{slug}/members/{bob_id}/role", data={"role": "contributor"}, headers=hx)
    admin_pages = sorted(r.rule for r in app.url_map.iter_rules()
                         if r.rule.startswith("/admin") and "GET" in r.methods and not r.arguments)
    for path in ["/", "/settings", f"/projects/{pid}", f"/projects/{pid}/code", f"/groups/{slug}",
                 f"/groups/{slug}/members", "/readyz", "/healthz", "/no/such/page", *admin_pages]:
        lead.get(path)
    # error pages from faults: Coder refuses the portal's token; the provider is down
    Faulty("coder", coder).apply("401")
    lead.post(f"/projects/{pid}/code/status", headers=hx)
    lead.post(f"/projects/{pid}/workspace/stop", data={"csrf_token": csrf()})
    lead.get("/")
    coder.sim.reset_faults()
    Faulty("oidc", idp, idp.wsgi).apply("500")
    oidc_sign_in(app.test_client(), idp.idp, "carol@example.com")
    idp.wsgi.fault = None
    doctor = app.test_cli_runner().invoke(args=["portal", "doctor"])
    # werkzeug's access log, through a real server
    logging.getLogger("werkzeug").setLevel(logging.INFO)
    server = ServerThread(app).start()
    try:
        for path in ["/healthz", f"/auth/login?next=/projects/{pid}", "/auth/signed-out"]:
            requests.get(server.url + path, timeout=5)
    finally:
        server.stop()
    assert any(r.name == "werkzeug" and "/healthz" in r.getMessage() for r in caplog.records)
    metrics = lead.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert metrics.status_code == 200 and "portal_time_to_ide_seconds" in metrics.get_data(as_text=True)
    portal_logs.configure("text")
    assert '"request_id"' in json_lines.getvalue()

    # the iframe carries Coder's one-time key, never the person's token
    assert "coder_application_connect_api_key" in iframe and coder_token not in iframe
    secrets = {"Coder admin token": CODER_ADMIN, "Gitea admin token": GITEA_ADMIN,
               "OIDC client secret": idp.idp.client_secret, "session key": SECRET_KEY,
               "encryption key": ENCRYPTION_KEY, "person's Coder token": coder_token,
               "person's Gitea token": gitea_token, "GitHub token": CLASSIC}
    logs = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    places = {"responses": "\n".join(seen), "logs": logs, "doctor output": doctor.output,
              "JSON logs": json_lines.getvalue(), "/metrics": metrics.get_data(as_text=True)}
    for name, secret in secrets.items():
        for place, text in places.items():
            assert secret not in text, f"{name} in {place}"

    # No address of a person in /metrics or the JSON logs (people are named by id there).
    for email in ("ada@example.com", "bob@example.com", "carol@example.com"):
        for place in ("JSON logs", "/metrics"):
            assert email not in places[place], f"{email} in {place}"

    con = sqlite3.connect(tmp_path / "portal.sqlite")
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                text = " ".join(v.decode(errors="ignore") if isinstance(v, bytes) else str(v)
                                for v in row)
                for name, secret in secrets.items():
                    assert secret not in text, f"{name} in clear in table {table}"
    finally:
        con.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("portal.sqlite*"))
    for name, secret in secrets.items():
        assert secret.encode() not in raw, f"{name} in the database file"
