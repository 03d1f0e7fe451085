"""A person's optional GitHub personal access token.

Checked for shape (never sent to GitHub: the portal runs on an offline LAN),
stored encrypted as UserSecret kind "github_token" (PORTAL_ENCRYPTION_KEY),
shown afterwards only as "set on <date>, ends in …abcd", replaceable and
deletable. It reaches the person's workspaces as the `github_token` rich
parameter at the next workspace start (the template turns it into a git
credential for github.com only), and imports a private GitHub repository when
a project is created from one.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.extensions import db
from portal.models import User, UserSecret, utcnow
from portal.services import Services
from portal.people.tokens import aware

KIND = "github_token"
# GitHub's documented token formats (github.blog 2021-04-05 "Behind GitHub's new
# authentication token formats"; fine-grained PATs since 2022): a prefix, then
# base62 characters; fine-grained tokens are github_pat_ + 22 + "_" + 59 characters.
_SHAPES = (
    re.compile(r"ghp_[A-Za-z0-9]{36}"),          # classic personal access token
    re.compile(r"gh[ous]_[A-Za-z0-9]{36}"),       # OAuth, user-to-server, server-to-server
    re.compile(r"github_pat_[A-Za-z0-9_]{82}"),   # fine-grained personal access token
)
MAX_LENGTH = 255


@dataclass(frozen=True)
class TokenInfo:
    """What a page may show about a stored token: never the token."""

    set_at: dt.datetime
    hint: str        # the last four characters

    @property
    def summary(self) -> str:
        return f"set on {self.set_at:%Y-%m-%d}, ends in …{self.hint}"


class InvalidToken(ValueError):
    """The pasted value is not a GitHub token; the message never repeats it."""


def check_shape(value: str | None) -> str:
    """The token, stripped, when it has one of GitHub's shapes; else InvalidToken."""
    token = (value or "").strip()
    if not token:
        raise InvalidToken("Paste a GitHub token.")
    if len(token) > MAX_LENGTH or not any(shape.fullmatch(token) for shape in _SHAPES):
        raise InvalidToken("This does not look like a GitHub token. Expected a classic token "
                           "(ghp_ and 36 letters or digits) or a fine-grained token "
                           "(github_pat_ and 82 characters).")
    return token


def _row(user: User) -> UserSecret | None:
    return db.session.scalar(db.select(UserSecret).where(UserSecret.user_id == user.id,
                                                         UserSecret.kind == KIND))


def info(user: User) -> TokenInfo | None:
    row = _row(user)
    if row is None:
        return None
    return TokenInfo(set_at=aware(row.created_at) or utcnow(), hint=row.hint)


def value(services: Services, user: User | None) -> str | None:
    """The plaintext for the workspace or a repository import, or None."""
    if user is None:
        return None
    row = _row(user)
    return services.box.open(row.value) if row is not None else None


def store(services: Services, user: User, raw: str) -> TokenInfo:
    """Check, encrypt and store (replacing any previous token); raises InvalidToken."""
    token = check_shape(raw)
    sealed, hint, now = services.box.seal(token), token[-4:], utcnow()
    row = _row(user)
    replaced = row is not None
    if row is None:
        db.session.add(UserSecret(user_id=user.id, kind=KIND, value=sealed, hint=hint,
                                  created_at=now))
    else:
        row.value, row.hint, row.created_at = sealed, hint, now
    audit.record(user, "github_token.replace" if replaced else "github_token.set",
                 f"user:{user.username}")
    try:
        db.session.commit()
    except IntegrityError:  # stored concurrently (two tabs): the latest write wins
        db.session.rollback()
        row = _row(user)
        assert row is not None
        row.value, row.hint, row.created_at = sealed, hint, now
        db.session.commit()
    return TokenInfo(set_at=now, hint=hint)


def delete(user: User) -> bool:
    """Forget the person's token; False when none was stored."""
    result = db.session.execute(db.delete(UserSecret).where(UserSecret.user_id == user.id,
                                                            UserSecret.kind == KIND))
    if result.rowcount:
        audit.record(user, "github_token.delete", f"user:{user.username}")
    db.session.commit()
    return bool(result.rowcount)
