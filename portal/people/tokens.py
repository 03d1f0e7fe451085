"""Per-person credentials the portal holds: Coder API tokens and Gitea tokens.

Minted with the admin credentials, stored encrypted (UserSecret), reused until
near expiry, rotated with optimistic concurrency so that two workers never keep
two live tokens for one person, and revoked when a person leaves.
"""
from __future__ import annotations

import datetime as dt
import logging
import secrets
import time

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.clients.http import ServiceError
from portal.extensions import db
from portal.models import User, UserSecret, aware, utcnow  # noqa: F401 - aware re-exported
from portal.services import Services

log = logging.getLogger(__name__)

CODER_TOKEN = "coder_token"
GITEA_TOKEN = "gitea_token"
GITEA_READ_TOKEN = "gitea_read_token"
# Least privilege for git in a workspace: a reader's workspace gets a token that can only
# read. Gitea checks both the token's scope and the person's repository permission on every
# git request (go-gitea/gitea routers/web/repo/githttp.go, httpBase: CheckRepoScopedToken with
# the level of the access mode, then GetUserRepoPermission + CanAccess), so a clone needs
# read:repository and only a push needs write:repository.
GITEA_SCOPES = {GITEA_TOKEN: ("write:repository",), GITEA_READ_TOKEN: ("read:repository",)}
CODER_TOKEN_LIFETIME = dt.timedelta(hours=12)
ROTATE_BEFORE = dt.timedelta(hours=2)


def _secret(user: User, kind: str) -> UserSecret | None:
    return db.session.scalar(db.select(UserSecret).where(UserSecret.user_id == user.id,
                                                         UserSecret.kind == kind))


def stored(services: Services, user: User, kind: str) -> str | None:
    """The plaintext of a stored, unexpired credential, or None."""
    row = _secret(user, kind)
    if row is None:
        return None
    expires = aware(row.expires_at)
    if expires is not None and expires <= utcnow():
        return None
    return services.box.open(row.value)


def forget(user: User, kind: str) -> None:
    """Drop a stored credential the service refused (it will be minted again)."""
    db.session.execute(db.delete(UserSecret).where(UserSecret.user_id == user.id,
                                                   UserSecret.kind == kind))
    db.session.commit()


def coder_token(services: Services, user: User) -> str:
    """The person's Coder token, minting or rotating it when needed."""
    row = _secret(user, CODER_TOKEN)
    now = utcnow()
    if row is not None and (aware(row.expires_at) or now) - now > ROTATE_BEFORE:
        value = services.box.open(row.value)
        if value:
            return value
    coder = services.coder
    coder_user = coder.ensure_user(user.email, user.username, user.name)
    username = coder_user.username
    lifetime = CODER_TOKEN_LIFETIME.total_seconds()
    minted = coder.mint_token(username, f"portal-{int(time.time())}-{secrets.token_hex(3)}", lifetime)
    values = {"value": services.box.seal(minted.secret_key), "key_id": f"{username}/{minted.key_id}",
              "hint": minted.secret_key[-4:], "expires_at": now + CODER_TOKEN_LIFETIME}
    if row is None:
        db.session.add(UserSecret(user_id=user.id, kind=CODER_TOKEN, **values))
        try:
            db.session.commit()
        except IntegrityError:  # another worker stored one first: keep theirs
            db.session.rollback()
            _revoke_quietly(services, f"{username}/{minted.key_id}")
            return coder_token(services, user)
    else:
        old_key = row.key_id
        result = db.session.execute(update(UserSecret).where(UserSecret.id == row.id,
                                                             UserSecret.key_id == old_key)
                                    .values(**values).execution_options(synchronize_session=False))
        db.session.commit()
        if result.rowcount != 1:  # rotated concurrently by another worker
            _revoke_quietly(services, f"{username}/{minted.key_id}")
            db.session.expire_all()
            return coder_token(services, user)
        if old_key:
            _revoke_quietly(services, old_key)
    audit.record(user, "token.mint", f"coder:{username}", lifetime_hours=lifetime / 3600)
    db.session.commit()
    return minted.secret_key


def _revoke_quietly(services: Services, key_ref: str) -> None:
    username, _, key_id = key_ref.partition("/")
    try:
        services.coder.delete_token(username, key_id)
    except ServiceError as exc:
        log.warning("could not delete Coder token %s of %s: %s", key_id, username, exc.message)


def revoke_coder_token(services: Services, user: User) -> bool:
    """Delete the person's Coder token in Coder and here. Raises ServiceError when Coder fails."""
    return _revoke(user, CODER_TOKEN, "coder", services.coder.delete_token)


def revoke_gitea_token(services: Services, user: User) -> bool:
    """Delete the person's Gitea tokens (write and read) in Gitea and here. Raises ServiceError
    when Gitea fails."""
    revoked = [_revoke(user, kind, "gitea", services.gitea.delete_user_token) for kind in GITEA_SCOPES]
    return any(revoked)


def _revoke(user: User, kind: str, service: str, delete) -> bool:
    """Delete a stored credential at its service (`delete(username, id)`), then here; audited."""
    row = _secret(user, kind)
    if row is None:
        return False
    if row.key_id:
        username, _, key_id = row.key_id.partition("/")
        delete(username, key_id)
    db.session.delete(row)
    audit.record(user, "token.revoke", f"{service}:{user.username}")
    db.session.commit()
    return True


def gitea_token(services: Services, user: User, gitea_username: str, *, write: bool = True) -> str:
    """The person's Gitea token for git in their workspaces: write:repository where they may
    push, read:repository in a workspace where they are a reader (GITEA_SCOPES)."""
    kind = GITEA_TOKEN if write else GITEA_READ_TOKEN
    value = stored(services, user, kind)
    if value:
        return value
    token = services.gitea.create_user_token(gitea_username, scopes=GITEA_SCOPES[kind])
    db.session.add(UserSecret(user_id=user.id, kind=kind, value=services.box.seal(token.secret),
                              key_id=f"{gitea_username}/{token.id}", hint=token.secret[-4:]))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        try:
            services.gitea.delete_user_token(gitea_username, token.id)
        except ServiceError:
            pass
        return stored(services, user, kind) or ""
    audit.record(user, "token.mint", f"gitea:{gitea_username}", scope=",".join(GITEA_SCOPES[kind]))
    db.session.commit()
    return token.secret
