"""The outside systems as the app's settings describe them: one client per system.

Built once per app (clients hold their HTTP session and immutable look-ups)
and handed to code below the view layer, which never sees a request.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from portal.clients.coder import CoderClient
from portal.clients.gitea import GiteaClient
from portal.clients.litellm import LiteLLMClient
from portal.config import Settings
from portal.crypto import SecretBox


@dataclass(frozen=True)
class Services:
    settings: Settings
    coder: CoderClient
    gitea: GiteaClient
    box: SecretBox
    litellm: LiteLLMClient | None = None  # the AI gateway, when LITELLM_URL is set


def build(settings: Settings) -> Services:
    timeouts = {"connect_timeout": settings.http_connect_timeout,
                "read_timeout": settings.http_read_timeout}
    return Services(
        settings=settings,
        coder=CoderClient(settings.coder_url, settings.coder_admin_api_key,
                          login_type=settings.coder_login_type,
                          organization=settings.coder_organization,
                          wildcard_host=settings.coder_wildcard_host, **timeouts),
        gitea=GiteaClient(settings.gitea_url, settings.gitea_admin_token,
                          auth_source_id=settings.gitea_auth_source_id, **timeouts),
        box=SecretBox(settings.encryption_key),
        litellm=(LiteLLMClient(settings.litellm_url, settings.litellm_master_key, **timeouts)
                 if settings.litellm_url and settings.litellm_master_key else None),
    )


def init_app(app: Flask) -> None:
    app.extensions["portal.services"] = build(app.config["SETTINGS"])


def current_services() -> Services:
    """The Services of the app in the current application context."""
    return current_app.extensions["portal.services"]
