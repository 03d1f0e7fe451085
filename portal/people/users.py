"""People: created and updated from OIDC claims at each sign-in."""
from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import User
from portal.groups.names import unique_name, username_from
from portal.groups.slugs import name_taken
from portal.web.text_input import clean_display

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")


class SignInRefused(Exception):
    """The identity provider's answer cannot make a portal account (message is for the person)."""


def groups_of(claims: dict) -> list[str]:
    groups = claims.get("groups") or []
    if isinstance(groups, str):
        groups = [groups]
    return [g for g in groups if isinstance(g, str)]


def upsert_from_claims(claims: dict, admin_group: str) -> tuple[User, bool]:
    """Create or update the User for these claims; admin follows the group claim each time."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 255:
        raise SignInRefused("The sign-in service did not say who you are (no subject claim).")
    email = claims.get("email")
    if not isinstance(email, str) or not EMAIL_RE.match(email.strip()):
        raise SignInRefused("Your account has no email address, which the portal needs. "
                            "Ask an administrator to add one to your account, then sign in again.")
    email = email.strip().lower()
    name = claims.get("name") if isinstance(claims.get("name"), str) else ""
    name = clean_display(name or "").strip()[:200]  # no bidi override or zero-width tricks
    is_admin = admin_group in groups_of(claims)

    user = db.session.scalar(db.select(User).where(User.sub == sub))
    created = user is None
    if user is None:
        preferred = claims.get("preferred_username") if isinstance(claims.get("preferred_username"), str) else None
        base = username_from(preferred, email, sub)
        username = unique_name(base, name_taken, identity=sub)
        user = User(sub=sub, email=email, name=name, username=username, is_admin=is_admin)
        db.session.add(user)
        try:
            db.session.flush()
        except IntegrityError:  # a concurrent first sign-in of the same person won the race
            db.session.rollback()
            user = db.session.scalar(db.select(User).where(User.sub == sub))
            if user is None:
                raise
            created = False
    if not user.active:
        raise SignInRefused("Your portal account has been deactivated. "
                            "Contact an administrator if you think this is a mistake.")
    user.email, user.is_admin = email, is_admin
    if name:
        user.name = name
    return user, created
