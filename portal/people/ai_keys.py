"""A person's LiteLLM virtual key for the workspace's AI assistant.

When LITELLM_URL is set, each person gets one key (POST /key/generate with the
master key; user_id = the portal username, key_alias = "portal-<username>",
models, max_budget and rpm_limit from the settings), stored encrypted as
UserSecret kind "litellm_key" with `key_id` = the proxy's token id (the SHA-256
digest of the key, which /key/info and /key/delete accept, so the secret is
never sent again). The key is revoked when the person is offboarded; the admin
Users page reads its spend with /key/info. When LiteLLM is down, callers go on
without a key.

A stored key is used only while the gateway reports it active (KeyInfo.state):
deleted, revoked or expired keys (1.110 answers 200 with `info.status`, 1.77
answers 404) are replaced; a key an administrator blocked is not sent and not
replaced (that would undo the block). Minting is idempotent: the alias is the
person's own, and keys under it that the portal does not hold (a lost reply to
/key/generate, a crash before the commit) are revoked before a new one is
minted, and again at offboarding.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.clients.http import BadRequest, ServiceError
from portal.extensions import db
from portal.models import User, UserSecret
from portal.services import Services

log = logging.getLogger(__name__)

KIND = "litellm_key"
UNAVAILABLE = "AI assistant unavailable: LiteLLM is not reachable."
BLOCKED = "AI assistant off: your key is blocked in the AI gateway; ask an administrator."


class AIKeyBlocked(RuntimeError):
    """The person's key exists but an administrator blocked it in LiteLLM."""


@dataclass(frozen=True)
class AISpend:
    """A person's AI usage as the admin Users page shows it."""

    spend: float | None          # None when LiteLLM could not be asked
    max_budget: float | None
    error: str | None = None

    @property
    def text(self) -> str:
        if self.spend is None:
            return "unknown"
        budget = f" of {self.max_budget:.2f}" if self.max_budget is not None else ""
        return f"{self.spend:.2f}{budget}"


def enabled(services: Services) -> bool:
    return services.litellm is not None


def _row(user: User) -> UserSecret | None:
    return db.session.scalar(db.select(UserSecret).where(UserSecret.user_id == user.id,
                                                         UserSecret.kind == KIND))


def has_key(user: User) -> bool:
    return _row(user) is not None


def default_model(services: Services) -> str:
    """The assistant's default model: the first of LITELLM_MODELS, or "" (the template's)."""
    models = services.settings.litellm_models
    return models[0] if models and enabled(services) else ""


def alias_of(user: User) -> str:
    """The person's key alias in LiteLLM: one per person, so a lost mint can be found."""
    return f"portal-{user.username}"


def ensure_ai_key(services: Services, user: User) -> str | None:
    """The person's key, minted when missing; None when LiteLLM is not configured.

    A stored key is checked with /key/info (it may have been deleted, expired or
    blocked in the gateway's UI) and minted again when it is gone. Raises
    AIKeyBlocked for a blocked key, and ServiceError when LiteLLM is unreachable
    or refuses: callers decide whether to go on without a key.
    """
    client = services.litellm
    if client is None:
        return None
    row = _row(user)
    if row is not None:
        plaintext = services.box.open(row.value)
        found = client.key_info(row.key_id) if plaintext and row.key_id else None
        if found is not None and found.state == "active":
            return plaintext
        if found is not None and found.state == "blocked":
            raise AIKeyBlocked(f"the LiteLLM key of {user.username} is blocked")
        db.session.delete(row)  # gone in the gateway, or unreadable here: mint anew
        db.session.commit()
    return _mint(services, user)


def _mint(services: Services, user: User) -> str | None:
    client = services.litellm
    settings = services.settings
    alias = alias_of(user)
    _revoke_strays(services, user)
    try:
        minted = client.generate_key(
            user.username, key_alias=alias, models=settings.litellm_models,
            max_budget=settings.litellm_max_budget, rpm_limit=settings.litellm_rpm_limit,
            metadata={"created_by": "portal", "portal_user_id": user.id})
    except BadRequest:  # the alias was taken meanwhile: another pass minted and stored it
        db.session.rollback()
        row = _row(user)
        if row is None:
            raise
        return services.box.open(row.value)
    db.session.add(UserSecret(user_id=user.id, kind=KIND, value=services.box.seal(minted.key),
                              key_id=minted.token_id, hint=minted.hint))
    try:
        db.session.commit()
    except IntegrityError:  # another worker stored one first: keep theirs, drop ours
        db.session.rollback()
        _delete_quietly(services, minted.token_id)
        row = _row(user)
        return services.box.open(row.value) if row is not None else None
    audit.record(user, "ai_key.mint", f"litellm:{user.username}",
                 rpm_limit=settings.litellm_rpm_limit, models=list(settings.litellm_models))
    db.session.commit()
    return minted.key


def _revoke_strays(services: Services, user: User) -> int:
    """Delete the keys under the person's alias that the portal does not hold; how many."""
    row = _row(user)
    held = {row.key_id} if row is not None else set()
    strays = [t for t in services.litellm.keys_by_alias(user.username, alias_of(user))
              if t not in held]
    if strays and services.litellm.delete_keys(strays):
        log.warning("revoked %d LiteLLM key(s) of %s that the portal did not hold",
                    len(strays), user.username)
        audit.record(user, "ai_key.revoke_stray", f"litellm:{user.username}", count=len(strays))
        db.session.commit()
    return len(strays)


def key_for_workspace(services: Services, user: User) -> tuple[str, str | None]:
    """(the key or "", a warning for the Code tab or None); never raises for LiteLLM trouble."""
    if not enabled(services):
        return "", None
    try:
        return ensure_ai_key(services, user) or "", None
    except AIKeyBlocked:
        log.info("not sending the blocked AI key of %s", user.username)
        return "", BLOCKED
    except ServiceError as exc:
        log.warning("no AI key for %s: %s", user.username, exc.message)
        return "", UNAVAILABLE


def _delete_quietly(services: Services, token_id: str) -> None:
    try:
        if services.litellm is not None:
            services.litellm.delete_keys([token_id])
    except ServiceError as exc:
        log.warning("could not delete an unused LiteLLM key: %s", exc.message)


def revoke_ai_key(services: Services, user: User) -> bool:
    """Delete the person's key in LiteLLM and here (offboarding), and any stray key
    under their alias.

    False when there was none. A key LiteLLM already deleted counts as revoked.
    Raises ServiceError when LiteLLM fails (the row is kept so that a retry can
    revoke it), and RuntimeError when a key is stored but LITELLM_URL is no
    longer set.
    """
    row = _row(user)
    if services.litellm is None:
        if row is None:
            return False
        raise RuntimeError("a LiteLLM key is stored but LITELLM_URL is not set: cannot revoke it")
    strays = _revoke_strays(services, user)
    if row is None:
        return strays > 0
    if row.key_id:
        services.litellm.delete_keys([row.key_id])
    db.session.delete(row)
    audit.record(user, "ai_key.revoke", f"litellm:{user.username}")
    db.session.commit()
    return True


def key_spend(services: Services, user: User) -> AISpend | None:
    """The person's spend from /key/info; None when they have no key (or AI is off)."""
    row = _row(user)
    if row is None or services.litellm is None or not row.key_id:
        return None
    try:
        found = services.litellm.key_info(row.key_id)
    except ServiceError as exc:
        return AISpend(None, None, exc.user_message)
    if found is None or found.state == "gone":
        return AISpend(None, None, "The gateway no longer knows this key.")
    if found.state == "blocked":
        return AISpend(found.spend, found.max_budget, "The key is blocked in the gateway.")
    return AISpend(found.spend, found.max_budget)
