"""Sessions end on the server: sign-out, "sign out everywhere", offboarding, absolute lifetime,
idle timeout, the CSRF token rotated at sign-in, and admin rights re-checked at the provider."""
from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import pytest

from portal.people import offboarding
from portal.extensions import db
from portal.models import Group, User, UserSecret
from tests.fixtures.app import CSRF_RE, csrf_from, dev_sign_in


RECHECK = 300  # portal/web/sessions.py: admin rights are re-checked at most this often


def cookie_of(client) -> str:
    return client.get_cookie("portal_session").value


def with_cookie(app, value: str):
    other = app.test_client()
    other.set_cookie("portal_session", value)
    return other


def signed_in(app, email="ada@example.com", admin=False):
    client = app.test_client()
    dev_sign_in(client, email, "Ada", admin=admin)
    token = CSRF_RE.search(client.get("/settings").get_data(as_text=True)).group(1)
    return client, token


def test_an_old_cookie_is_refused_after_sign_out(app):
    client, token = signed_in(app)
    stolen = cookie_of(client)
    assert client.post("/auth/logout", headers={"X-CSRFToken": token}).status_code in (200, 204, 302, 303)
    thief = with_cookie(app, stolen)
    resp = thief.get("/settings")
    assert resp.status_code == 302 and "/auth/login" in resp.location
    thief = with_cookie(app, stolen)
    resp = thief.post("/groups/new", data={"csrf_token": token, "name": "Stolen"})
    assert resp.status_code in (302, 400)
    with app.app_context():
        assert db.session.scalar(db.select(Group).where(Group.name == "Stolen")) is None


def test_sign_out_everywhere_ends_other_sessions(app):
    laptop, token = signed_in(app)
    phone, _ = signed_in(app)
    assert phone.get("/settings").status_code == 200
    resp = laptop.post("/settings/sign-out-everywhere", data={"csrf_token": token})
    assert resp.status_code == 303 and "/auth/login" in resp.location
    for client in (laptop, phone):
        resp = client.get("/settings")
        assert resp.status_code == 302 and "/auth/login" in resp.location
    again, _ = signed_in(app)  # a new sign-in works as before
    assert again.get("/settings").status_code == 200


def test_offboarding_ends_the_persons_sessions(app):
    person, _ = signed_in(app, "bob@example.com")
    signed_in(app, "root@example.com", admin=True)
    with app.app_context():
        bob = db.session.scalar(db.select(User).where(User.email == "bob@example.com"))
        root = db.session.scalar(db.select(User).where(User.email == "root@example.com"))
        bob.active = True
        run = offboarding.start(root, bob, "stop")
        step = offboarding.run_next(app.extensions["portal.services"], run)
        assert step.name == "deactivate" and step.status == "ok"
        bob = db.session.get(User, bob.id)
        bob.active = True  # even if the account were reactivated, the old session stays ended
        db.session.commit()
    resp = person.get("/settings")
    assert resp.status_code == 302 and "/auth/login" in resp.location


def test_csrf_token_is_rotated_at_sign_in(app):
    client = app.test_client()
    before = csrf_from(client)
    dev_sign_in(client, "ada@example.com")
    after = CSRF_RE.search(client.get("/settings").get_data(as_text=True)).group(1)
    assert after != before
    resp = client.post("/groups/new", data={"csrf_token": before, "name": "With old token"})
    assert resp.status_code == 400 and "CSRF" in resp.get_data(as_text=True)
    resp = client.post("/groups/new", data={"csrf_token": after, "name": "With new token"})
    assert resp.status_code == 303


def expiry(resp):
    header = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith("portal_session="))
    return parsedate_to_datetime(header.split("Expires=")[1].split(";")[0])


def test_a_flash_does_not_extend_the_absolute_lifetime(app):
    client = app.test_client()
    signed = dev_sign_in(client, "ada@example.com")
    token = CSRF_RE.search(client.get("/settings").get_data(as_text=True)).group(1)
    time.sleep(1.1)  # the cookie's Expires has a resolution of one second
    resp = client.post("/settings/github-token/delete", data={"csrf_token": token})  # flashes
    assert resp.status_code == 303
    assert expiry(resp) == expiry(signed)


@pytest.fixture
def clock(monkeypatch):
    """The sessions' clock, moved forward by hand."""
    from portal.web import sessions
    offset = {"s": 0.0}
    monkeypatch.setattr(sessions, "now", lambda: time.time() + offset["s"])
    return offset


def test_absolute_lifetime_ends_an_active_session(app, clock):
    client, _ = signed_in(app)
    for hours in (4, 8, 11.9):  # busy all day
        clock["s"] = hours * 3600
        assert client.get("/settings").status_code == 200
    clock["s"] = 12.1 * 3600
    resp = client.get("/settings")
    assert resp.status_code == 302 and "/auth/login" in resp.location
    assert "expired" in client.get(resp.location).get_data(as_text=True)


def test_idle_timeout(make_app, clock):
    app = make_app(PORTAL_SESSION_IDLE_MINUTES="10")
    client, _ = signed_in(app)
    for minutes in (9, 18, 27):  # a request every 9 minutes keeps it alive
        clock["s"] = minutes * 60
        assert client.get("/settings").status_code == 200
    clock["s"] = 38 * 60
    resp = client.get("/settings")
    assert resp.status_code == 302 and "/auth/login" in resp.location
    assert "inactivity" in client.get(resp.location).get_data(as_text=True)


def test_idle_timeout_defaults_to_eight_hours(app):
    assert app.config["SETTINGS"].session_idle_minutes == 8 * 60


@pytest.fixture
def oidc_app(make_app, fake_idp):
    return make_app(PORTAL_DEV="0", OIDC_ISSUER=fake_idp.issuer, OIDC_CLIENT_ID=fake_idp.client_id,
                    OIDC_CLIENT_SECRET=fake_idp.client_secret,
                    flask={"SESSION_COOKIE_SECURE": False, "WTF_CSRF_SSL_STRICT": False})


def test_admin_rights_follow_the_provider_within_the_recheck_bound(oidc_app, fake_idp, clock):
    from tests.faults import oidc_sign_in
    client = oidc_app.test_client()
    assert oidc_sign_in(client, fake_idp, "root@example.com", admin=True).status_code == 302
    assert client.get("/admin/").status_code == 200
    fake_idp.userinfo = {"sub": "sub-root@example.com", "email": "root@example.com",
                         "groups": []}  # removed from the admin group at the provider
    clock["s"] = RECHECK - 30
    assert client.get("/admin/").status_code == 200  # not yet asked again
    clock["s"] = RECHECK + 1
    assert client.get("/admin/").status_code == 403
    with oidc_app.app_context():
        root = db.session.scalar(db.select(User).where(User.email == "root@example.com"))
        assert root.is_admin is False


def test_admin_session_ends_when_the_provider_cannot_confirm(oidc_app, fake_idp, clock):
    from tests.faults import oidc_sign_in
    client = oidc_app.test_client()
    assert oidc_sign_in(client, fake_idp, "root@example.com", admin=True).status_code == 302
    with oidc_app.app_context():  # the access token is gone (or expired): nothing to ask with
        db.session.execute(db.delete(UserSecret))
        db.session.commit()
    clock["s"] = RECHECK + 1
    resp = client.get("/admin/")
    assert resp.status_code == 302 and "/auth/login" in resp.location


def test_recheck_bound_is_the_documented_one():
    from portal.web import sessions
    assert sessions.RECHECK == RECHECK
