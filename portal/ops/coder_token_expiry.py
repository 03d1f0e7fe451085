"""How long the portal's Coder admin token has left, and how to rotate it (for doctor).

An owner's token lives at most CODER_MAX_ADMIN_TOKEN_LIFETIME (168h unless set;
coder/coder#18267, coderd/apikey.go in v2.27), so the portal's admin token runs out
on a schedule. Its expiry is read from Coder itself: `GET /users/me/keys/{keyid}`
(codersdk.APIKey.expires_at), the key id being the part of the token before "-".
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from portal.clients.coder import CoderClient

WARN_DAYS = 14
ROTATE = ("rotate it: on the compose platform run `./bootstrap.sh coder` (it mints a new owner "
          f"token once fewer than {WARN_DAYS} days are left and restarts the portal with it); "
          "elsewhere, as an owner, `coder tokens create --lifetime <at most "
          "CODER_MAX_ADMIN_TOKEN_LIFETIME>`, set CODER_ADMIN_API_KEY to it and restart the portal")


@dataclass(frozen=True)
class Verdict:
    """ok and not warn: fine; ok and warn: act soon; not ok: acting now."""

    ok: bool
    warn: bool
    detail: str
    hint: str = ""


def key_id_of(token: str) -> str | None:
    """The id part of a Coder session token `<id>-<secret>`, or None for any other shape."""
    key_id, sep, secret = token.partition("-")
    return key_id if sep and key_id.isalnum() and secret and "-" not in secret else None


def verdict(expires_at: datetime, now: datetime) -> Verdict:
    left = expires_at - now
    when = expires_at.strftime("%Y-%m-%d %H:%M UTC")
    if left.total_seconds() <= 0:
        return Verdict(False, False, f"expired {when}", f"CODER_ADMIN_API_KEY has expired: {ROTATE}")
    if left.days < WARN_DAYS:
        return Verdict(True, True, f"expires {when}",
                       f"CODER_ADMIN_API_KEY expires in {left.days} day(s), {when}: {ROTATE}")
    return Verdict(True, False, f"expires {when} (in {left.days} days)")


def check(coder: CoderClient, token: str, now: datetime | None = None) -> Verdict:
    """Read the token's expiry from Coder; raises ServiceError as every Coder call does."""
    key_id = key_id_of(token)
    if key_id is None:
        return Verdict(True, True, "", "CODER_ADMIN_API_KEY is not of Coder's <id>-<secret> shape: "
                                       "its expiry cannot be read")
    return verdict(coder.token_expiry(key_id), now or datetime.now(timezone.utc))
