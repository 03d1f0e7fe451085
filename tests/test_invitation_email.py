"""A real invitation email through a local SMTP server (aiosmtpd); the link works after OIDC sign-in."""
import email
import re
from email import policy
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller

from portal import mail
from tests.collab_helpers import membership_of
from tests.fixtures.app import csrf_from
from tests.fixtures.oidc import free_port


class Inbox:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.url = f"smtp://127.0.0.1:{controller.port}?from=portal@example.com"
    yield inbox
    controller.stop()


def oidc_sign_in(client, idp, sub, email_address, name, next_path=None, verified=True):
    resp = client.get(next_path or "/")
    assert resp.status_code == 302
    resp = client.get(resp.location)  # /auth/login?next=...
    assert resp.status_code == 302 and resp.location.endswith("/auth/oidc")
    resp = client.get("/auth/oidc")
    query = {k: v[0] for k, v in parse_qs(urlsplit(resp.location).query).items()}
    idp.claims = {"sub": sub, "email": email_address, "email_verified": verified, "name": name,
                  "preferred_username": email_address.split("@")[0], "nonce": query["nonce"]}
    resp = client.get("/auth/callback", query_string={"code": "c", "state": query["state"]})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    return resp


@pytest.fixture
def oidc_stack_app(make_stack_app, fake_idp, smtp_server):
    return make_stack_app(PORTAL_DEV="0", OIDC_ISSUER=fake_idp.issuer,
                          OIDC_CLIENT_ID=fake_idp.client_id, OIDC_CLIENT_SECRET=fake_idp.client_secret,
                          SMTP_URL=smtp_server.url,
                          flask={"SESSION_COOKIE_SECURE": False, "WTF_CSRF_SSL_STRICT": False})


def test_invitation_email_link_shows_group_after_first_sign_in(oidc_stack_app, fake_idp, smtp_server,
                                                              gitea_sim):
    app = oidc_stack_app
    lead = app.test_client()
    oidc_sign_in(lead, fake_idp, "sub-lead", "lead@example.com", "Lea Lead")
    token = csrf_from(lead, "/")
    resp = lead.post("/groups/new", data={"csrf_token": token, "name": "Vision Lab", "slug": "vision-lab"})
    assert resp.status_code == 303
    resp = lead.post("/groups/vision-lab/members", headers={"HX-Request": "true"},
                     data={"csrf_token": token, "who": "Carol@Example.com", "role": "reader"})
    assert resp.status_code == 200
    assert "An email with a link to the group was sent to carol@example.com" in resp.get_data(as_text=True)

    assert len(smtp_server.messages) == 1
    msg = smtp_server.messages[0]
    assert smtp_server.envelopes[0].rcpt_tos == ["carol@example.com"]
    # A fixed subject: nothing a person typed goes into a header; the group is named in the body.
    assert msg["Subject"] == "You were invited to a group on the developer portal"
    assert msg["From"] == "portal@example.com"
    body = msg.get_content()
    assert "Lea Lead" in body and "reader" in body and "Vision Lab" in body
    link = re.search(r"https?://\S+", body).group(0)
    assert link == "https://portal.test/groups/vision-lab"  # PORTAL_URL, not the Host header

    carol = app.test_client()
    assert carol.get(urlsplit(link).path).status_code == 302  # not signed in: to the sign-in
    oidc_sign_in(carol, fake_idp, "sub-carol", "carol@example.com", "Carol Reader",
                 next_path=urlsplit(link).path)
    page = carol.get(urlsplit(link).path)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Vision Lab" in text and "reader" in text
    assert membership_of(app, "carol@example.com", "vision-lab")["role"] == "reader"
    assert gitea_sim.sim.team_members("vision-lab", "Readers") == {"carol"}


def test_unverified_email_claim_does_not_take_the_invitation(oidc_stack_app, fake_idp):
    app = oidc_stack_app
    lead = app.test_client()
    oidc_sign_in(lead, fake_idp, "sub-lead", "lead@example.com", "Lea Lead")
    token = csrf_from(lead, "/")
    lead.post("/groups/new", data={"csrf_token": token, "name": "Vision Lab", "slug": "vision-lab"})
    lead.post("/groups/vision-lab/members", data={"csrf_token": token, "who": "mal@example.com",
                                                  "role": "lead"})
    mal = app.test_client()
    oidc_sign_in(mal, fake_idp, "sub-mal", "mal@example.com", "Mal", verified=False)
    assert mal.get("/groups/vision-lab").status_code == 404
    assert membership_of(app, "mal@example.com", "vision-lab") is None


def test_smtp_failure_is_shown_not_a_500(make_app):
    app = make_app(SMTP_URL=f"smtp://127.0.0.1:{free_port()}")
    from tests.collab_helpers import make_group, person, post
    lead = person(app, "lead@example.com")
    make_group(lead)
    resp = post(lead, "/groups/ml-team/members", htmx=True, who="zed@example.com", role="reader")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "could not be sent" in page and "invitation itself is saved" in page
    assert 'data-testid="invitation-zed@example.com"' in page


def test_smtp_url_forms():
    t = mail.parse_smtp_url("smtp+starttls://u%40x:p%3Ass@mail.example.com?from=me@example.com")
    assert (t.scheme, t.host, t.port, t.username, t.password, t.sender) == \
        ("smtp+starttls", "mail.example.com", 587, "u@x", "p:ss", "me@example.com")
    assert mail.parse_smtp_url("smtps://mail.example.com").port == 465
    assert mail.parse_smtp_url("smtp://mailpit:1025").sender == "portal@mailpit"
    unsent = mail.send(None, "a@example.com", "s", "b")  # for a lead: no setting names
    assert "No email was sent" in unsent and "SMTP" not in unsent


@pytest.fixture
def mail_app(make_app, smtp_server):
    return make_app(SMTP_URL=smtp_server.url)


def test_link_comes_from_the_portal_url_never_the_host_header(make_app, smtp_server):
    from tests.collab_helpers import make_group, person
    app = make_app(SMTP_URL=smtp_server.url, PORTAL_URL="https://portal.example.com")
    lead = person(app, "lead@example.com")
    make_group(lead)
    token = csrf_from(lead, "/")
    lead.set_cookie("portal_session", lead.get_cookie("portal_session").value, domain="evil.example")
    resp = lead.post("/groups/ml-team/members", data={"csrf_token": token, "who": "zed@example.com",
                                                      "role": "reader"},
                     base_url="http://evil.example")
    assert resp.status_code in (200, 303), resp.get_data(as_text=True)
    body = smtp_server.messages[-1].get_content()
    assert "evil.example" not in body
    assert "Open the group: https://portal.example.com/groups/ml-team" in body


def test_invitations_are_limited_per_person_and_per_group(mail_app, smtp_server):
    from portal.groups.invitations import PER_HOUR
    from tests.collab_helpers import make_group, person, post
    lead = person(mail_app, "lead@example.com")
    make_group(lead)
    codes = [post(lead, "/groups/ml-team/members", htmx=True, who=f"p{i}@example.com",
                  role="reader").status_code for i in range(PER_HOUR + 1)]
    assert codes[:PER_HOUR] == [200] * PER_HOUR and codes[-1] == 429
    assert len(smtp_server.messages) == PER_HOUR
    refused = post(lead, "/groups/ml-team/members", htmx=True, who="late@example.com", role="reader")
    assert refused.status_code == 429 and "in the last hour" in refused.get_data(as_text=True)
    # another lead of the same group is refused too (per group), in another group they may invite
    second = person(mail_app, "second@example.com")
    make_group(second, "Other", "other")
    with mail_app.app_context():
        from portal.extensions import db
        from portal.models import Group, Membership, Role, User
        db.session.add(Membership(user=db.session.scalar(db.select(User).where(
            User.email == "second@example.com")), group=db.session.scalar(db.select(Group).where(
                Group.slug == "ml-team")), role=Role.lead))
        db.session.commit()
    assert post(second, "/groups/ml-team/members", htmx=True, who="x@example.com",
                role="reader").status_code == 429
    assert post(second, "/groups/other/members", htmx=True, who="x@example.com",
                role="reader").status_code == 200
    assert len(smtp_server.messages) == PER_HOUR + 1


def test_group_creation_is_limited(app):
    from portal.web.views.groups import GROUPS_PER_HOUR
    from tests.collab_helpers import person, post
    client = person(app, "busy@example.com")
    codes = [post(client, "/groups/new", name=f"G{i}", slug=f"g{i}").status_code
             for i in range(GROUPS_PER_HOUR + 1)]
    assert codes[:GROUPS_PER_HOUR] == [303] * GROUPS_PER_HOUR and codes[-1] == 429
    assert "in the last hour" in post(client, "/groups/new", name="Late").get_data(as_text=True)


@pytest.mark.parametrize("name", ["Evil\r\nBcc: victim@example.com", "Tab\tname", "NUL\x00",
                                  "Bidi \u202egnp.exe", "Zero\u200bwidth"])
def test_control_characters_in_a_group_name_are_refused(mail_app, smtp_server, name):
    from tests.collab_helpers import person, post
    client = person(mail_app, "lead@example.com")
    resp = post(client, "/groups/new", name=name, slug="evil")
    assert resp.status_code == 400 and "characters" in resp.get_data(as_text=True)
    with mail_app.app_context():
        from portal.extensions import db
        from portal.models import Group
        assert db.session.scalar(db.select(db.func.count(Group.id))) == 0


def test_a_description_may_hold_line_breaks(app):
    from tests.collab_helpers import person, post
    client = person(app, "lead@example.com")
    assert post(client, "/groups/new", name="Lines", slug="lines",
                description="first\r\nsecond\n\tindented").status_code == 303
    with app.app_context():
        from portal.extensions import db
        from portal.models import Group
        stored = db.session.scalar(db.select(Group.description).where(Group.slug == "lines"))
    assert stored.splitlines() == ["first", "second", "\tindented"]
