"""Sessions that end: sign-in starts one, the server can end every one of a person's.

The session is Flask's signed cookie, so on its own it cannot be revoked. Three stamps
make it revocable and bounded:

* `gen`: the person's `User.session_generation` at sign-in. Sign-out, "sign out
  everywhere" (Settings) and offboarding bump the column, so every older cookie of that
  person is refused at its next request.
* `t0`: the sign-in time. The absolute lifetime (PERMANENT_SESSION_LIFETIME, 12 h) counts
  from it; the cookie's own expiry is t0 + lifetime too, however often it is re-signed
  (a flash message re-signs it; `PortalSessionInterface` keeps the expiry fixed).
* `seen`: the last request, written at most once a minute; more than
  PORTAL_SESSION_IDLE_MINUTES (default 480 = 8 h) without a request ends the session.

Administrator rights come from the identity provider's group claim. For a session
signed in through OIDC the portal asks the provider's userinfo endpoint again, with the
access token of that sign-in (kept encrypted), at most every RECHECK (5 minutes), and
follows the answer (`is_admin`). When the provider refuses the token or cannot be
reached, an administrator's session is ended (fail closed: they sign in again); other
people keep theirs (their `active` flag is read from the database on every request).
"""
from __future__ import annotations

import datetime as dt
import logging
import time

from flask import Flask, current_app, flash, g, session
from flask.sessions import SecureCookieSessionInterface

from portal.extensions import db
from portal.models import User, UserSecret, utcnow

log = logging.getLogger(__name__)

GEN, T0, SEEN, CHECKED, VIA = "gen", "t0", "seen", "checked", "via"
SEEN_EVERY = 60                      # seconds: how often `seen` is re-written
RECHECK = 300                        # seconds: the bound on an admin's rights after the IdP changes them
OIDC_ACCESS = "oidc_access"          # UserSecret kind: the access token of the latest OIDC sign-in


def now() -> float:
    """The clock of every session stamp (seconds since the epoch)."""
    return time.time()


class PortalSessionInterface(SecureCookieSessionInterface):
    """The cookie expires at sign-in + lifetime, never later, however often it is re-signed."""

    def get_expiration_time(self, app, session_):
        t0 = session_.get(T0)
        if session_.permanent and isinstance(t0, (int, float)):
            return dt.datetime.fromtimestamp(t0, dt.timezone.utc) + app.permanent_session_lifetime
        return super().get_expiration_time(app, session_)


def init_app(app: Flask) -> None:
    app.session_interface = PortalSessionInterface()


def begin(user: User, via: str) -> None:
    """A fresh session for `user`: nothing of the anonymous one survives, the CSRF token
    included (flask-wtf keeps it in the session, so it is rotated here)."""
    session.clear()
    g.pop("csrf_token", None)
    stamp = now()
    session.permanent = True
    session.update({GEN: user.session_generation or 0, T0: stamp, SEEN: stamp, CHECKED: stamp,
                    VIA: via})


def end_everywhere(user: User) -> None:
    """Every session of this person ends at its next request (the caller commits)."""
    user.session_generation = (user.session_generation or 0) + 1


def problem(user: User) -> str | None:
    """Why this request's session of `user` is over, or None (and `seen` kept fresh)."""
    clock = now()
    settings = current_app.config["SETTINGS"]
    t0, seen = session.get(T0), session.get(SEEN)
    if session.get(GEN) != (user.session_generation or 0) or not isinstance(t0, (int, float)):
        return "Your session was ended. Please sign in again."
    if clock - t0 > current_app.permanent_session_lifetime.total_seconds():
        return "Your session has expired. Please sign in again."
    if not isinstance(seen, (int, float)) or clock - seen > settings.session_idle_minutes * 60:
        return "You were signed out after a period of inactivity. Please sign in again."
    if clock - seen > SEEN_EVERY:
        session[SEEN] = clock
    return None


def keep_access_token(services, user: User, token: dict) -> None:
    """Keep the OIDC access token of this sign-in (encrypted) for the admin re-check."""
    access = token.get("access_token")
    db.session.execute(db.delete(UserSecret).where(UserSecret.user_id == user.id,
                                                   UserSecret.kind == OIDC_ACCESS))
    if isinstance(access, str) and access:
        expires_in = token.get("expires_in")
        seconds = expires_in if isinstance(expires_in, int) and expires_in > 0 else RECHECK
        db.session.add(UserSecret(user_id=user.id, kind=OIDC_ACCESS, value=services.box.seal(access),
                                  hint="", expires_at=utcnow() + dt.timedelta(seconds=seconds)))


def recheck_due() -> bool:
    checked = session.get(CHECKED)
    return session.get(VIA) == "oidc" and (
        not isinstance(checked, (int, float)) or now() - checked > RECHECK)


def recheck(services, client, user: User, admin_group: str) -> str | None:
    """Ask the provider again who `user` is; None, or why an admin's session must end."""
    from portal.people.tokens import stored
    from portal.people.users import groups_of
    session[CHECKED] = now()
    access = stored(services, user, OIDC_ACCESS)
    claims = None
    if access:
        try:
            claims = dict(client.userinfo(token={"access_token": access, "token_type": "Bearer"}))
        except Exception as exc:  # noqa: BLE001 - refused, unreachable or not JSON: not confirmed
            log.info("userinfo re-check of %s failed: %s", user.username, type(exc).__name__)
    if claims is not None and claims.get("sub") not in (None, user.sub):
        claims = None
    if claims is None:
        if user.is_admin:
            return ("Please sign in again: the sign-in service could not confirm your "
                    "administrator rights.")
        return None
    is_admin = admin_group in groups_of(claims)
    if is_admin != user.is_admin:
        from portal import audit
        user.is_admin = is_admin
        audit.record(None, "user.admin_granted" if is_admin else "user.admin_revoked",
                     f"user:{user.username}", via="userinfo")
        db.session.commit()
    return None


def refuse(message: str) -> None:
    """End this request's session (the person is anonymous from here on)."""
    session.clear()
    flash(message, "info")
