"""Hostile input answered with a 4xx and a message, never a 500, on SQLite and PostgreSQL:
control characters, huge ids, out-of-range dates, CSV formulas, internal import URLs,
plus the response headers and the dev server's refusal of an exposed host."""
from __future__ import annotations

import csv
import io

import pytest

from portal.groups import source_urls
from portal.extensions import db
from portal.models import AuditEvent, User
from tests.collab_helpers import make_group, person, post


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db_app(request, make_app):
    if request.param == "postgres":
        return make_app(DATABASE_URL=request.getfixturevalue("pg_url"))
    return make_app()


@pytest.mark.parametrize("field,value", [("name", "A\x00B"), ("description", "nul\x00"),
                                         ("name", "bell\x07"), ("name", "rtl\u202eexe"),
                                         ("name", "zero\u200bwidth"), ("slug", "a\u2066b")])
def test_control_characters_are_a_400_with_a_message(any_db_app, field, value):
    client = person(any_db_app, "ada@example.com")
    data = {"name": "Fine", "slug": "fine", "description": "", field: value}
    resp = post(client, "/groups/new", **data)
    assert resp.status_code == 400 and "characters" in resp.get_data(as_text=True)
    make_group(client)
    resp = post(client, "/groups/ml-team/projects/new", **data)
    assert resp.status_code == 400 and "characters" in resp.get_data(as_text=True)


def test_dev_sign_in_name_with_nul_is_a_400(any_db_app):
    from tests.fixtures.app import csrf_from
    client = any_db_app.test_client()
    resp = client.post("/auth/dev", data={"csrf_token": csrf_from(client), "email": "a@example.com",
                                          "name": "Ada\x00"})
    assert resp.status_code == 400 and "control characters" in resp.get_data(as_text=True)


def test_error_pages_roll_back_a_failed_statement_first(any_db_app):
    """A view whose statement fails leaves the session needing a rollback; the 500 page
    (which reads current_user) must still render in the portal's style."""
    from sqlalchemy import text

    @any_db_app.get("/__boom")
    def boom():
        db.session.execute(text("SELECT * FROM no_such_table"))

    client = person(any_db_app, "ada@example.com")
    resp = client.get("/__boom")
    assert resp.status_code == 500 and "Something went wrong on our side" in resp.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/projects/99999999999", "/projects/99999999999999999999999",
                                  "/admin/users/99999999999999999999", "/admin/users/2147483648"])
def test_huge_ids_are_404(any_db_app, path):
    client = person(any_db_app, "root@example.com", admin=True)
    resp = client.get(path)
    assert resp.status_code == 404 and "There is nothing here" in resp.get_data(as_text=True)


@pytest.mark.parametrize("query", [{"to": "9999-12-31"}, {"to": "9999-12-31T23:59"},
                                   {"from": "0000-01-01"}])
def test_out_of_range_audit_dates_are_400(app, query):
    client = person(app, "root@example.com", admin=True)
    paths = ("/admin/audit", "/admin/audit.csv")
    answers = {path: client.get(path, query_string=query) for path in paths}
    assert {path: (r.status_code, "date" in r.get_data(as_text=True))
            for path, r in answers.items()} == dict.fromkeys(paths, (400, True))


def test_audit_csv_quotes_every_field_and_guards_every_cell(app):
    client = person(app, "root@example.com", admin=True)
    with app.app_context():
        db.session.add(AuditEvent(actor_label="x;=2+5;@example.com", action="=cmd|' /C calc'!A0",
                                  target="a\t=1+1", details={"k": "-2+3"}))
        db.session.commit()
    body = client.get("/admin/audit.csv").get_data(as_text=True)
    lines = body.strip().split("\r\n")
    assert all(line.startswith('"') and line.endswith('"') for line in lines)
    for delimiter in (",", ";", "\t"):  # however a spreadsheet splits, no cell is a formula
        for row in csv.reader(io.StringIO(body), delimiter=delimiter):
            for cell in row:
                assert cell.strip(' "')[:1] not in ("=", "+", "-", "@"), (delimiter, cell)


@pytest.mark.parametrize("url", ["https://127.0.0.1/a/b", "https://127.1/a/b",
                                 "https://2130706433/a/b", "https://0x7f000001/a/b", "https://0/a/b",
                                 "https://[::1]/a/b", "https://10.0.0.5/a/b", "https://169.254.169.254/a",
                                 "https://192.168.1.1/a/b", "https://localhost/a/b",
                                 "https://[::ffff:127.0.0.1]/a/b", "https://240.0.0.1/a/b"])
def test_import_urls_to_internal_addresses_are_refused(url):
    reason = source_urls.check_source_url(url)
    assert reason and "inside the platform" in reason
    assert not (source_urls.check_source_url(url, allow_private=True) or "").startswith("This address")


def test_import_from_a_private_address_is_refused_in_the_form(make_app):
    app = make_app()
    client = person(app, "ada@example.com")
    make_group(client)
    resp = post(client, "/groups/ml-team/projects/new", name="Inside", slug="inside",
                source_url="https://2130706433/team/repo")
    assert resp.status_code == 400 and "inside the platform" in resp.get_data(as_text=True)
    allowed = make_app(PORTAL_IMPORT_ALLOW_PRIVATE="1")
    assert allowed.config["SETTINGS"].import_allow_private is True


def test_permissions_policy_and_opener_policy_headers(client):
    resp = client.get("/auth/login")
    assert "camera=()" in resp.headers["Permissions-Policy"]
    assert "geolocation=()" in resp.headers["Permissions-Policy"]
    assert resp.headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_display_names_from_the_provider_are_shown_without_invisible_characters(app):
    from portal.web.text_input import clean_display
    from portal.people.users import upsert_from_claims
    assert clean_display("Ada\u202e\u200b Love\x00lace") == "Ada Lovelace"
    with app.app_context():
        user, _ = upsert_from_claims({"sub": "s1", "email": "ada@example.com",
                                      "name": "Ada\u202eecalevol"}, "admins")
        assert "\u202e" not in user.name


@pytest.mark.parametrize("args,exposed", [(["--host", "0.0.0.0"], True), (["--host", "10.1.2.3"], True),
                                          (["--host", "0.0.0.0", "--i-know-this-is-exposed"], False)])
def test_portal_dev_refuses_an_exposed_host(app, monkeypatch, args, exposed):
    import portal.devstack.run as run
    served = []
    monkeypatch.setattr(run, "serve_embedded", lambda *a: served.append(a))
    result = app.test_cli_runner().invoke(args=["portal", "dev", *args])
    if exposed:
        assert result.exit_code != 0 and "--i-know-this-is-exposed" in result.output
        assert served == []
    else:
        assert result.exit_code == 0 and served and "WARNING" in result.output
