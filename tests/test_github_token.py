"""The personal GitHub token: shape checks and the Settings page (store, show, replace, delete)."""
import re

import pytest

from portal.people import github_tokens
from portal.extensions import db
from portal.models import AuditEvent, User, UserSecret
from tests.fixtures.app import CSRF_RE

CLASSIC = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"          # 36 after the prefix
FINE = "github_pat_" + "11ABCDEFG0" * 2 + "ab_" + "Z9y8X7w6V5" * 5 + "u4t3s2r1q"  # 82 after
OTHER = "ghp_" + "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo8"


def csrf(client, path="/settings"):
    return CSRF_RE.search(client.get(path).get_data(as_text=True)).group(1)


@pytest.mark.parametrize("token", [
    CLASSIC, FINE, "gho_" + "a" * 36, "ghu_" + "B" * 36, "ghs_" + "0" * 36,
    f"  {CLASSIC}\n",  # pasted with whitespace around it
])
def test_accepted_shapes(token):
    assert github_tokens.check_shape(token) == token.strip()


@pytest.mark.parametrize("token", [
    "", "   ", "ghp_short", "ghp_" + "a" * 35, "ghp_" + "a" * 37, "ghp_" + "a" * 35 + "-",
    "ghr_" + "a" * 36, "github_pat_" + "a" * 81, "github_pat_" + "a" * 83,
    "glpat-" + "a" * 20, "sk-" + "a" * 40, "ghp " + "a" * 36, CLASSIC + "x",
    "https://ghp_" + "a" * 36 + "@github.com",
])
def test_refused_shapes_never_echo_the_value(token):
    with pytest.raises(github_tokens.InvalidToken) as caught:
        github_tokens.check_shape(token)
    if token.strip():
        assert token.strip() not in str(caught.value)


def test_fine_grained_example_is_82_characters():
    assert len(FINE) - len("github_pat_") == 82


def test_settings_page_flow_store_show_replace_delete(app, client, sign_in):
    sign_in("ada@example.com", "Ada")
    page = client.get("/settings").get_data(as_text=True)
    assert "No token set." in page and 'data-testid="settings-link"' in page
    assert "next time your" in page  # the change applies at the next workspace start

    resp = client.post("/settings/github-token", data={"csrf_token": csrf(client), "token": CLASSIC})
    assert resp.status_code == 303
    page = client.get("/settings").get_data(as_text=True)
    assert CLASSIC not in page
    assert re.search(r"set on \d{4}-\d{2}-\d{2}, ends in …" + CLASSIC[-4:], page)
    assert "Replace token" in page and "Delete token" in page

    resp = client.post("/settings/github-token", data={"csrf_token": csrf(client), "token": FINE})
    assert resp.status_code == 303
    page = client.get("/settings").get_data(as_text=True)
    assert "ends in …" + FINE[-4:] in page and FINE not in page
    with app.app_context():
        rows = db.session.scalars(db.select(UserSecret).where(UserSecret.kind == "github_token")).all()
        assert len(rows) == 1 and rows[0].hint == FINE[-4:] and FINE not in rows[0].value
        actions = list(db.session.scalars(db.select(AuditEvent.action)))
        assert "github_token.set" in actions and "github_token.replace" in actions

    resp = client.post("/settings/github-token/delete", data={"csrf_token": csrf(client)})
    assert resp.status_code == 303
    page = client.get("/settings").get_data(as_text=True)
    assert "No token set." in page and "deleted" in page
    with app.app_context():
        assert db.session.scalar(db.select(UserSecret).where(UserSecret.kind == "github_token")) is None


def test_malformed_token_is_refused_without_echo(app, client, sign_in):
    sign_in()
    bad = "ghp_" + "x" * 20 + "-secret-ish-value"
    resp = client.post("/settings/github-token", data={"csrf_token": csrf(client), "token": bad})
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert "does not look like a GitHub token" in body and bad not in body
    with app.app_context():
        assert db.session.scalar(db.select(UserSecret)) is None


def test_changes_need_csrf_and_sign_in(app, client, sign_in):
    resp = client.post("/settings/github-token", data={"token": CLASSIC})
    assert resp.status_code in (302, 400, 401)
    sign_in()
    resp = client.post("/settings/github-token", data={"token": CLASSIC})
    assert resp.status_code == 400
    resp = client.post("/settings/github-token/delete", data={})
    assert resp.status_code == 400
    with app.app_context():
        assert db.session.scalar(db.select(UserSecret)) is None


def test_each_person_sees_only_their_own(app, client, sign_in):
    sign_in("ada@example.com")
    client.post("/settings/github-token", data={"csrf_token": csrf(client), "token": CLASSIC})
    other = app.test_client()
    from tests.fixtures.app import dev_sign_in
    dev_sign_in(other, "bob@example.com", "Bob")
    page = other.get("/settings").get_data(as_text=True)
    assert "No token set." in page and CLASSIC[-4:] not in page
    with app.app_context():
        ada = db.session.scalar(db.select(User).where(User.email == "ada@example.com"))
        from portal.services import current_services
        assert github_tokens.value(current_services(), ada) == CLASSIC
