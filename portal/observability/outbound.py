"""Outbound calls that do not go through portal/clients/http.py: the OIDC provider (authlib's
requests session) and the mail server (smtplib). Same series as the clients': service,
operation, outcome and latency."""
from __future__ import annotations

import time

import requests
from authlib.integrations.requests_client import OAuth2Session

from portal.observability import metrics


def oidc_operation(url: str) -> str:
    """discovery, jwks, token, userinfo or other: a bounded name for an OIDC endpoint."""
    path = url.split("?", 1)[0].rstrip("/")
    for suffix, name in ((".well-known/openid-configuration", "discovery"), ("/jwks", "jwks"),
                         ("/token", "token"), ("/userinfo", "userinfo")):
        if path.endswith(suffix):
            return name
    return "other"


class TimedOAuth2Session(OAuth2Session):
    """authlib's session, recording every call to the provider (set as the app's client_cls)."""

    def request(self, method, url, *args, **kwargs):
        started, outcome = time.perf_counter(), "unreachable"
        try:
            response = super().request(method, url, *args, **kwargs)
            outcome = metrics.outcome_of(response.status_code)
            return response
        except requests.Timeout:
            outcome = "timeout"
            raise
        finally:
            metrics.outbound_call("oidc", oidc_operation(url), outcome,
                                  time.perf_counter() - started)
