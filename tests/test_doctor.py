"""`flask portal doctor` against the simulated Coder and Gitea (and the fake OIDC issuer)."""
from __future__ import annotations

from flask import render_template

from portal.ops.doctor import Check, format_table, run_checks
from tests.fixtures.app import TEST_SECRETS
from tests.fixtures.devstack import stack_env

ALL_ROWS = ["settings", "database", "database migrations", "worker", "coder health", "coder version",
            "coder admin token", "coder token expiry", "coder template", "gitea health", "gitea version",
            "gitea admin token", "gitea token scopes", "oidc discovery"]


def doctor(app, *secrets: str):
    """Run the command; check no secret of the app (or given) is in its output."""
    result = app.test_cli_runner().invoke(args=["portal", "doctor"])
    settings = app.config["SETTINGS"]
    for secret in (*TEST_SECRETS.values(), settings.coder_admin_api_key,
                   settings.gitea_admin_token, settings.secret_key, settings.encryption_key,
                   settings.oidc_client_secret, *secrets):
        if secret:
            assert secret not in result.output
    return result


def rows(output: str) -> dict[str, tuple[str, str]]:
    """The printed table as {check: (ok|warn|fail, hint or detail)}."""
    lines = output.strip().splitlines()
    assert lines[0].split()[:2] == ["CHECK", "RESULT"]
    width = lines[0].index("RESULT")
    out = {}
    for line in lines[1:]:
        name, rest = line[:width].strip(), line[width:].split(None, 1)
        out[name] = (rest[0], rest[1] if len(rest) > 1 else "")
    return out


def test_dev_stack_passes_every_check(stack, worker):
    _wait_for_heartbeat(stack.app)
    result = doctor(stack.app, stack.coder.admin_token, stack.gitea.admin_token)
    assert result.exit_code == 0, result.output
    table = rows(result.output)
    assert list(table) == ALL_ROWS
    assert all(status == "ok" for status, _ in table.values()), result.output
    assert "v2.99.0-devstack" in table["coder version"][1]
    assert "is an owner" in table["coder admin token"][1]
    assert "git_repo" in table["coder template"][1]
    assert stack.coder.url in table["settings"][1] and stack.gitea.url in table["settings"][1]


def _wait_for_heartbeat(app, timeout: float = 10.0) -> None:
    import time

    from portal.workspaces.beats import seconds_since
    deadline = time.monotonic() + timeout
    with app.app_context():
        while seconds_since("tick") is None and time.monotonic() < deadline:
            time.sleep(0.05)


def test_no_worker_is_reported_with_the_fix(stack):
    table = rows(doctor(stack.app).output)
    status, hint = table["worker"]
    assert status == "fail" and "no worker has run yet" in hint and "portal worker" in hint
    body = stack.app.test_client().get("/readyz").get_json()
    assert body["checks"]["worker"]["ok"] is False
    assert "portal worker" in body["checks"]["worker"]["error"]


def test_coder_down_fails_with_a_coder_hint(stack):
    stack.coder.stop()
    result = doctor(stack.app)
    assert result.exit_code == 1
    table = rows(result.output)
    status, hint = table["coder health"]
    assert status == "fail"
    assert f"Coder is not reachable at {stack.coder.url}" in hint and "CODER_URL" in hint
    assert table["coder template"][0] == "fail" and "skipped" in table["coder template"][1]
    assert table["gitea admin token"][0] == "ok"  # the rest still runs


def test_wrong_gitea_token_fails_with_the_token_hint(make_stack_app):
    app = make_stack_app(GITEA_ADMIN_TOKEN="wrong-token-value")
    result = doctor(app, "wrong-token-value")
    assert result.exit_code == 1
    table = rows(result.output)
    status, hint = table["gitea admin token"]
    assert status == "fail"
    assert "Gitea refused GITEA_ADMIN_TOKEN (401)" in hint
    assert "write:admin,write:organization,write:repository,write:user" in hint
    assert table["gitea health"][0] == "ok" and table["coder admin token"][0] == "ok"


def test_wrong_coder_token_fails_with_the_token_hint(make_stack_app):
    result = doctor(make_stack_app(CODER_ADMIN_API_KEY="not-a-coder-token-at-all"),
                    "not-a-coder-token-at-all")
    assert result.exit_code == 1
    status, hint = rows(result.output)["coder admin token"]
    assert status == "fail" and "Coder refused CODER_ADMIN_API_KEY (401)" in hint


def test_coder_token_of_a_non_owner_fails(make_stack_app, coder_sim):
    store = coder_sim.sim.store
    member = store.create_user({"email": "m@example.com", "username": "member",
                                "login_type": "none", "organization_ids": [store.org["id"]]})
    key = store.mint_key(store.admin, member, {"lifetime": 0}).token
    result = doctor(make_stack_app(CODER_ADMIN_API_KEY=key), key)
    assert result.exit_code == 1
    status, hint = rows(result.output)["coder admin token"]
    assert status == "fail" and "'member' is not an owner" in hint


def test_template_without_git_repo_fails(stack):
    template = stack.coder.sim.store.template
    template.parameters = [p for p in template.parameters if p["name"] != "git_repo"]
    result = doctor(stack.app)
    assert result.exit_code == 1
    status, hint = rows(result.output)["coder template"]
    assert status == "fail" and "git_repo" in hint


def test_missing_template_fails(make_stack_app):
    result = doctor(make_stack_app(CODER_TEMPLATE="no-such-template"))
    assert result.exit_code == 1
    status, hint = rows(result.output)["coder template"]
    assert status == "fail" and "no template 'no-such-template'" in hint
    assert "CODER_TEMPLATE" in hint


def test_gitea_token_of_a_non_admin_fails(make_stack_app, gitea_sim):
    state = gitea_sim.sim.state
    state.create_user({"username": "bob", "email": "bob@example.com",
                       "password": "a-long-password-1", "must_change_password": False})
    secret = state.add_token("bob", "portal", scopes=("all",)).sha1
    result = doctor(make_stack_app(GITEA_ADMIN_TOKEN=secret), secret)
    assert result.exit_code == 1
    table = rows(result.output)
    assert table["gitea admin token"][0] == "fail"
    assert "'bob' is not a site admin" in table["gitea admin token"][1]
    assert table["gitea token scopes"][0] == "fail"


def test_gitea_token_missing_scopes_fails(make_stack_app, gitea_sim):
    state = gitea_sim.sim.state
    secret = state.add_token("gitea-admin", "narrow", scopes=("write:admin", "read:user")).sha1
    result = doctor(make_stack_app(GITEA_ADMIN_TOKEN=secret), secret)
    assert result.exit_code == 1
    table = rows(result.output)
    assert table["gitea admin token"][0] == "ok"
    status, hint = table["gitea token scopes"]
    assert status == "fail"
    assert "lacks write:organization, write:repository, write:user" in hint


def test_pending_migrations_fail_the_database_row(make_app, coder_sim, gitea_sim):
    app = make_app(upgrade=False, **stack_env(coder_sim, gitea_sim))
    result = doctor(app)
    assert result.exit_code == 1
    table = rows(result.output)
    assert table["database"][0] == "ok"
    status, hint = table["database migrations"]
    assert status == "fail" and "flask db upgrade" in hint
    assert all(s == "ok" for name, (s, _) in table.items()
               if name not in ("database migrations", "worker"))


def _a_worker_ran(app) -> None:
    from portal.workspaces import beats
    with app.app_context():
        beats.beat("tick")


def test_oidc_discovery_passes(make_stack_app, fake_idp):
    app = make_stack_app(OIDC_ISSUER=fake_idp.issuer, OIDC_CLIENT_ID=fake_idp.client_id,
                         OIDC_CLIENT_SECRET=fake_idp.client_secret)
    _a_worker_ran(app)
    result = doctor(app, fake_idp.client_secret)
    assert result.exit_code == 0, result.output
    status, detail = rows(result.output)["oidc discovery"]
    assert status == "ok" and "PKCE S256" in detail and fake_idp.issuer in detail


def test_oidc_wrong_issuer_fails(make_stack_app, fake_idp):
    app = make_stack_app(OIDC_ISSUER=fake_idp.issuer, OIDC_CLIENT_ID=fake_idp.client_id,
                         OIDC_CLIENT_SECRET=fake_idp.client_secret)
    fake_idp.issuer = "https://auth.example.com/application/o/portal/"  # what the document says
    result = doctor(app, fake_idp.client_secret)
    assert result.exit_code == 1
    status, hint = rows(result.output)["oidc discovery"]
    assert status == "fail"
    assert "'https://auth.example.com/application/o/portal/'" in hint
    assert "set OIDC_ISSUER to exactly" in hint


def test_oidc_issuer_without_discovery_fails(make_stack_app, fake_idp):
    app = make_stack_app(OIDC_ISSUER=fake_idp.issuer + "/application/o/nope/",
                         OIDC_CLIENT_ID=fake_idp.client_id,
                         OIDC_CLIENT_SECRET=fake_idp.client_secret)
    result = doctor(app, fake_idp.client_secret)
    assert result.exit_code == 1
    status, hint = rows(result.output)["oidc discovery"]
    assert status == "fail" and "404" in hint and "OIDC_ISSUER" in hint


def test_run_checks_and_partial_for_the_system_page(stack):
    stack.gitea.sim.set_faults(health_fail=True)
    _a_worker_ran(stack.app)
    checks = run_checks(stack.app)
    assert all(isinstance(c, Check) for c in checks)
    assert [c.name for c in checks] == ALL_ROWS
    failed = [c for c in checks if not c.ok]
    assert [c.name for c in failed] == ["gitea health"] and failed[0].hint
    with stack.app.test_request_context():
        html = render_template("admin/_doctor.html", checks=checks)
    assert html.count("<tr") == len(checks) + 1
    assert 'class="badge err">fail<' in html and "reports itself unhealthy" in html
    assert stack.gitea.admin_token not in html and stack.coder.admin_token not in html
    assert format_table(checks).count("\n") == len(checks)


def test_gitea_down_and_coder_failing_are_told_apart(stack):
    stack.gitea.server.stop()
    stack.coder.sim.set_faults(status_override={"status": 503})
    result = doctor(stack.app)
    assert result.exit_code == 1
    table = rows(result.output)
    assert f"Gitea is not reachable at {stack.gitea.url}" in table["gitea health"][1]
    assert "GITEA_URL" in table["gitea health"][1]
    assert table["gitea token scopes"] == ("fail", "skipped: Gitea did not answer its health "
                                                   "check (see above)")
    status, hint = table["coder health"]
    assert status == "fail" and "answers HTTP 503" in hint and "CODER_URL" in hint


def test_doctor_checks_the_portal_url(make_app):
    from portal.ops.doctor import settings_row
    settings = make_app(PORTAL_DEV="0", OIDC_ISSUER="https://idp.example.com/", OIDC_CLIENT_ID="p",
                        OIDC_CLIENT_SECRET="s", PORTAL_URL="http://portal.example.com",
                        upgrade=False).config["SETTINGS"]
    row = settings_row(settings)
    assert not row.ok and "PORTAL_URL" in row.hint
    good = make_app(PORTAL_DEV="0", OIDC_ISSUER="https://idp.example.com/", OIDC_CLIENT_ID="p",
                    OIDC_CLIENT_SECRET="s", PORTAL_URL="https://portal.example.com",
                    upgrade=False).config["SETTINGS"]
    assert settings_row(good).ok and "portal_url=https://portal.example.com" in settings_row(good).detail
