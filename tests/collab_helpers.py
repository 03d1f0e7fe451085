"""Helpers for the collaboration tests: people signed in through the dev sign-in, CSRF'd posts."""
from __future__ import annotations

from portal.extensions import db
from portal.models import Group, Membership, User
from tests.fixtures.app import csrf_from, dev_sign_in


def person(app, email: str, admin: bool = False):
    """A test client signed in as `email` (dev sign-in)."""
    client = app.test_client()
    dev_sign_in(client, email, email.split("@")[0].title(), admin)
    return client


def post(client, url: str, htmx: bool = False, **data):
    token = csrf_from(client, "/")
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(url, data={"csrf_token": token, **data}, headers=headers)


def make_group(client, name: str = "ML Team", slug: str = "ml-team") -> str:
    resp = post(client, "/groups/new", name=name, slug=slug, description="")
    assert resp.status_code == 303, resp.get_data(as_text=True)[:800]
    return slug


def user_id(app, email: str) -> int:
    with app.app_context():
        return db.session.scalar(db.select(User.id).where(User.email == email))


def membership_of(app, email: str, slug: str) -> dict | None:
    with app.app_context():
        m = db.session.scalar(db.select(Membership).join(User, Membership.user_id == User.id)
                              .join(Group, Membership.group_id == Group.id).where(
            User.email == email, Group.slug == slug))
        if m is None:
            return None
        return {"role": m.role.value, "sync_pending": m.sync_pending, "sync_error": m.sync_error}
