"""The GitHub token and the LiteLLM key: never in a page, a log line or a plain database column.

The whole path runs over HTTP against the simulators: sign in, save the token
in Settings, create a project, open the Code tab until the IDE is shown, then
visit every page. Every response body, every log record (DEBUG and up, all
loggers) and every column of every table in the raw SQLite file are searched
for the two secrets, which the simulated Coder must nevertheless have received.
"""
import logging
import sqlite3

from portal.people import ai_keys
from portal.extensions import db
from portal.models import User
from portal.services import current_services
from tests.fixtures.app import dev_sign_in
from tests.test_ai_keys import sent_parameters
from tests.test_code_tab import create_project, csrf, open_code
from tests.test_github_token import CLASSIC


def test_token_and_key_reach_the_workspace_and_nothing_else(ai_stack, tmp_path, caplog,
                                                          start_worker):
    caplog.set_level(logging.DEBUG)
    app = ai_stack.app
    start_worker(app)  # the reconciler tier: its log lines are searched too
    bodies: list[bytes] = []

    @app.after_request
    def _capture(response):  # every page, partial and redirect the portal serves
        if not response.is_streamed:
            bodies.append(response.get_data())
            bodies.append(str(response.headers).encode())
        return response

    client = app.test_client()
    dev_sign_in(client, "ada@example.com", "Ada", admin=True)
    resp = client.post("/settings/github-token", data={"csrf_token": csrf(client, "/settings"),
                                                       "token": CLASSIC})
    assert resp.status_code == 303
    _, pid = create_project(client)
    body, stages = open_code(client, pid)
    assert stages[-1] == "ready", body[:300]

    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == "ada@example.com"))
        key = ai_keys.ensure_ai_key(current_services(), user)
        assert ai_keys.key_spend(current_services(), user) is not None
    assert key and key.startswith("sk-")

    # the workspace received both
    (params,) = sent_parameters(ai_stack.coder)
    assert params["github_token"] == CLASSIC and params["ai_gateway_key"] == key

    for path in ["/", "/settings", f"/projects/{pid}", f"/projects/{pid}/code", "/admin/",
                 "/admin", "/admin/users", "/admin/system", "/healthz"]:
        client.get(path)
    # a refused token and a deleted one also leave no trace of the stored value
    client.post("/settings/github-token", data={"csrf_token": csrf(client, "/settings"),
                                                "token": "ghp_tooshort"})
    client.get("/settings")

    assert any(b"ends in \xe2\x80\xa6" + CLASSIC[-4:].encode() in b for b in bodies)  # captured
    secrets = {"github token": CLASSIC, "litellm key": key}
    for name, secret in secrets.items():
        leaks = [b[:200] for b in bodies if secret.encode() in b]
        assert not leaks, f"{name} in a response: {leaks[0]!r}"
        assert secret not in caplog.text, f"{name} in a log line"
        assert secret[4:] not in caplog.text

    # the raw database: every column of every table, and the file's bytes
    db_file = tmp_path / "portal.sqlite"
    con = sqlite3.connect(db_file)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert "user_secrets" in tables
        kinds = {r[0] for r in con.execute("SELECT kind FROM user_secrets")}
        assert {"github_token", "litellm_key"} <= kinds
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    text = value.decode(errors="ignore") if isinstance(value, bytes) else str(value)
                    for name, secret in secrets.items():
                        assert secret not in text, f"{name} in plain text in table {table}"
    finally:
        con.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("portal.sqlite*"))
    for name, secret in secrets.items():
        assert secret.encode() not in raw, f"{name} in the database file"
