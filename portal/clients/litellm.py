"""LiteLLMClient: the LiteLLM proxy's key-management calls the portal makes.

The portal mints one virtual key per person with the master key
(`Authorization: Bearer <master key>`), revokes it when the person leaves and
reads its spend. Behaviour follows the proxy's own source (BerriAI/litellm,
litellm/proxy/management_endpoints/key_management_endpoints.py and
litellm/proxy/_types.py; see tests/contracts/litellm-proxy.json):

* `POST /key/generate` (GenerateKeyRequest: user_id, models, max_budget,
  rpm_limit, key_alias, metadata, ...) answers the secret `key` ("sk-...") and
  `token_id`, the SHA-256 hex digest under which the proxy stores it;
* `POST /key/delete {"keys": [...]}` and `GET /key/info?key=` accept either the
  secret or that digest (`_hash_token_if_needed` hashes only "sk-" values), so
  the portal keeps the digest as the key's identifier and never sends the
  secret again;
* a deleted key: 1.77.x answers `/key/info` with 404; 1.110.x answers 200 with
  `info.status: "deleted"` (the row is archived in
  `LiteLLM_DeletedVerificationToken`, also on /key/regenerate). A key is usable
  only while its status is not deleted/revoked/expired, `expires` is not past
  and `blocked` is not true (KeyInfo.state);
* `GET /key/list?user_id=&key_alias=&return_full_object=true` (list_keys:
  exact filters, active keys only) finds the keys under a person's alias, so a
  key whose `/key/generate` reply was lost can be found and revoked;
* errors are `{"error": {"message", "type", "param", "code"}}`;
* health: `GET /health/liveliness` (not `/health`, which calls every model).

Secrets (the master key, minted keys) never reach a log line, an exception or
a repr: the ServiceClient logs method and path only.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import requests

from portal.clients.http import BadRequest, BadResponse, NotFound, ServiceClient


@dataclass(frozen=True)
class GeneratedKey:
    key: str = field(repr=False)    # the secret ("sk-...")
    token_id: str                   # SHA-256 hex of the secret: the proxy's id for it
    key_alias: str
    user_id: str

    @property
    def hint(self) -> str:
        return self.key[-4:]


@dataclass(frozen=True)
class KeyInfo:
    token_id: str
    user_id: str
    key_alias: str
    spend: float
    max_budget: float | None
    rpm_limit: int | None
    models: tuple[str, ...]
    blocked: bool = False
    status: str = ""                # 1.110: "deleted" etc.; absent (1.77) means active
    expires: datetime | None = None

    @property
    def state(self) -> str:
        """"active", "blocked" (an admin stopped it: never work around that) or "gone"."""
        if self.status.lower() in GONE_STATUSES:
            return "gone"
        if self.expires is not None and self.expires <= datetime.now(timezone.utc):
            return "gone"
        return "blocked" if self.blocked else "active"


# `info.status` values of a key the proxy keeps only for its records (1.110:
# deleted or regenerated keys; revoked/expired named by the same field).
GONE_STATUSES = frozenset({"deleted", "revoked", "expired"})


def token_id_of(key: str) -> str:
    """The proxy's identifier of a key: sha256 of the secret (hash_token in LiteLLM)."""
    return hashlib.sha256(key.encode()).hexdigest()


class LiteLLMClient:
    """One LiteLLM proxy, authenticated with the master key."""

    def __init__(self, base_url: str, master_key: str, *, connect_timeout: float = 3,
                 read_timeout: float = 10, retries: int = 2, backoff: float = 0.2,
                 session: requests.Session | None = None):
        if not master_key:
            raise ValueError("a LiteLLM master key is required")
        self.http = ServiceClient("litellm", base_url,
                                  headers={"Authorization": f"Bearer {master_key}"},
                                  connect_timeout=connect_timeout, read_timeout=read_timeout,
                                  retries=retries, backoff=backoff, session=session)

    def __repr__(self) -> str:
        return f"LiteLLMClient({self.http.base_url!r})"

    # -- health ----------------------------------------------------------------------------
    def health(self) -> bool:
        """GET /health/liveliness: True when the proxy answers 200 (raises when unreachable)."""
        self.http.request("GET", "/health/liveliness", timeout=(self.http.connect_timeout,
                                                               min(self.http.read_timeout, 3.0)))
        return True

    # -- keys ------------------------------------------------------------------------------
    def generate_key(self, user_id: str, *, key_alias: str, models: tuple[str, ...] | list[str] = (),
                     max_budget: float | None = None, rpm_limit: int | None = None,
                     metadata: dict[str, Any] | None = None) -> GeneratedKey:
        """POST /key/generate; `models` empty means every model of the gateway."""
        body: dict[str, Any] = {"user_id": user_id, "key_alias": key_alias, "models": list(models),
                                "metadata": dict(metadata or {})}
        if max_budget is not None:
            body["max_budget"] = float(max_budget)
        if rpm_limit is not None:
            body["rpm_limit"] = int(rpm_limit)
        path = "/key/generate"
        reply = self.http.json("POST", path, json=body, expect=dict)
        key = self.http.field(reply, "key", str, "POST", path)
        if not key:
            raise BadResponse("litellm", "POST", path, "reply field 'key' is empty")
        # `token_id` is the stored digest; `token` echoes the secret (GenerateKeyResponse).
        token_id = reply.get("token_id")
        if not isinstance(token_id, str) or not re.fullmatch(r"[0-9a-f]{64}", token_id):
            token_id = token_id_of(key)
        alias = reply.get("key_alias") if isinstance(reply.get("key_alias"), str) else key_alias
        return GeneratedKey(key=key, token_id=token_id, key_alias=alias, user_id=user_id)

    def delete_keys(self, token_ids: list[str]) -> bool:
        """POST /key/delete {"keys": [...]}; False when none of them exists any more.

        The proxy answers an error when a key is unknown (404 "No keys found";
        its status differs between versions), so a refusal is checked with
        /key/info before it counts as "already gone": a key /key/info does not
        know, or reports deleted/revoked/expired (1.110), is gone.
        """
        if not token_ids:
            return False
        try:
            self.http.json("POST", "/key/delete", json={"keys": list(token_ids)}, expect=dict)
        except (NotFound, BadRequest):
            for token_id in token_ids:
                found = self.key_info(token_id)
                if found is not None and found.state != "gone":
                    raise
            return False
        return True

    def keys_by_alias(self, user_id: str, key_alias: str) -> list[str]:
        """GET /key/list filtered by user and alias: the token ids of the live keys found."""
        path = "/key/list"
        reply = self.http.json("GET", path, params={"user_id": user_id, "key_alias": key_alias,
                                                    "return_full_object": "true", "size": 100},
                               expect=dict)
        found = []
        for item in self.http.field(reply, "keys", list, "GET", path):
            if not isinstance(item, dict):
                raise BadResponse("litellm", "GET", path, "a listed key is not an object")
            if item.get("key_alias") != key_alias or item.get("user_id") not in (None, user_id):
                continue  # a proxy that ignores a filter must not make us touch other keys
            token = item.get("token")
            if not isinstance(token, str) or not re.fullmatch(r"[0-9a-f]{64}", token):
                raise BadResponse("litellm", "GET", path, "a listed key has no token id")
            found.append(token)
        return found

    def key_info(self, token_id: str) -> KeyInfo | None:
        """GET /key/info?key=<token id>; None when the proxy does not know the key."""
        path = "/key/info"
        try:
            reply = self.http.json("GET", path, params={"key": token_id}, expect=dict)
        except NotFound:
            return None
        except BadRequest as exc:  # older proxies answer 400 "Key not found"
            if "not found" in exc.message.lower():
                return None
            raise
        info = self.http.field(reply, "info", dict, "GET", path)
        spend = info.get("spend")
        budget = info.get("max_budget")
        rpm = info.get("rpm_limit")
        models = info.get("models") if isinstance(info.get("models"), list) else []
        return KeyInfo(
            token_id=token_id,
            user_id=info.get("user_id") if isinstance(info.get("user_id"), str) else "",
            key_alias=info.get("key_alias") if isinstance(info.get("key_alias"), str) else "",
            spend=float(spend) if _number(spend) else 0.0,
            max_budget=float(budget) if _number(budget) else None,
            rpm_limit=int(rpm) if _number(rpm) else None,
            models=tuple(m for m in models if isinstance(m, str)),
            blocked=info.get("blocked") is True,
            status=info.get("status") if isinstance(info.get("status"), str) else "",
            expires=_timestamp(info.get("expires")))


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _timestamp(value: Any) -> datetime | None:
    """An ISO 8601 `expires` (naive means UTC, as the proxy stores it), else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
