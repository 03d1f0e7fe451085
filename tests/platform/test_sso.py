"""Single sign-on agrees everywhere: the Authentik blueprint, Coder's and
Gitea's settings, and the portal's environment (.env.example) name the same
client ids, redirect URIs and issuers."""
from __future__ import annotations

import re

import pytest

from .conftest_helpers import BOOTSTRAP, blueprint_entries, env_example, service_env

PORTAL_CALLBACK = "/auth/callback"
PORTAL_SIGNED_OUT = "/auth/signed-out"
CODER_CALLBACK = "/api/v2/users/oidc/callback"


@pytest.fixture(scope="module")
def worker_env():
    return service_env("authentik-worker")


@pytest.fixture(scope="module")
def entries(worker_env):
    return blueprint_entries(worker_env)


def _provider(entries, name):
    return next(e for e in entries if e["model"] == "authentik_providers_oauth2.oauth2provider"
                and e["identifiers"]["name"] == name)


def _application_slug(entries, provider_id):
    apps = [e for e in entries if e["model"] == "authentik_core.application"
            and e["attrs"]["provider"].value == provider_id]
    assert len(apps) == 1, f"one application for {provider_id}"
    return apps[0]["identifiers"]["slug"]


def _issuer(slug):
    return f"https://{env_example()['AUTH_HOST']}/application/o/{slug}/"


def _redirects(provider, kind=None):
    return [r["url"] for r in provider["attrs"]["redirect_uris"]
            if kind is None or r.get("redirect_uri_type", "authorization") == kind]


def test_blueprint_declares_group_and_three_clients(entries):
    groups = [e for e in entries if e["model"] == "authentik_core.group"]
    assert [g["identifiers"]["name"] for g in groups] == [env_example()["OIDC_ADMIN_GROUP"]]
    names = {e["identifiers"]["name"] for e in entries if e["model"] == "authentik_providers_oauth2.oauth2provider"}
    assert names == {"portal", "coder", "gitea"}
    for entry in entries:
        if entry["model"] == "authentik_providers_oauth2.oauth2provider":
            for redirect in entry["attrs"]["redirect_uris"]:
                assert redirect["matching_mode"] == "strict"
                assert redirect["url"].startswith("https://")


def test_portal(entries):
    env, values = service_env("portal"), env_example()
    provider = _provider(entries, "portal")
    slug = _application_slug(entries, "provider-portal")
    portal_url = f"https://{values['PORTAL_HOST']}"
    assert env["OIDC_ISSUER"] == _issuer(slug)
    assert env["OIDC_CLIENT_ID"] == provider["attrs"]["client_id"] == values["PORTAL_OIDC_CLIENT_ID"]
    assert env["OIDC_CLIENT_SECRET"] == provider["attrs"]["client_secret"]
    assert env["OIDC_ADMIN_GROUP"] == values["OIDC_ADMIN_GROUP"]
    assert _redirects(provider, "authorization") == [portal_url + PORTAL_CALLBACK]
    assert _redirects(provider, "logout") == [portal_url + PORTAL_SIGNED_OUT]


def test_coder(entries):
    env, values = service_env("coder"), env_example()
    provider = _provider(entries, "coder")
    slug = _application_slug(entries, "provider-coder")
    assert env["CODER_OIDC_ISSUER_URL"] == _issuer(slug)
    assert env["CODER_OIDC_CLIENT_ID"] == provider["attrs"]["client_id"] == values["CODER_OIDC_CLIENT_ID"]
    assert env["CODER_OIDC_CLIENT_SECRET"] == provider["attrs"]["client_secret"]
    assert env["CODER_OIDC_IGNORE_EMAIL_VERIFIED"] == "true"
    assert _redirects(provider) == [env["CODER_ACCESS_URL"] + CODER_CALLBACK]


def test_gitea(entries):
    gitea, values = service_env("gitea"), env_example()
    provider = _provider(entries, "gitea")
    slug = _application_slug(entries, "provider-gitea")
    source = values["GITEA_OAUTH_SOURCE_NAME"]
    root = gitea["GITEA__server__ROOT_URL"].rstrip("/")
    assert _redirects(provider) == [f"{root}/user/oauth2/{source}/callback"]
    assert provider["attrs"]["client_id"] == values["GITEA_OIDC_CLIENT_ID"]
    # The source bootstrap.sh adds: same name, client id, secret and issuer.
    script = BOOTSTRAP.read_text()
    assert 'gitea admin auth add-oauth "${args[@]}"' in script
    assert '--name "$GITEA_OAUTH_SOURCE_NAME" --provider openidConnect' in script
    assert '--key "${GITEA_OIDC_CLIENT_ID:-gitea}" --secret "$GITEA_OIDC_CLIENT_SECRET"' in script
    discovery = re.search(r'discovery="(https://\$\{AUTH_HOST\}/application/o/([\w-]+)/)\.well-known', script)
    assert discovery and discovery.group(2) == slug


def test_secrets_shared_by_one_variable(worker_env):
    """The worker and the clients read each client secret from the same .env variable."""
    assert worker_env["PORTAL_OIDC_CLIENT_SECRET"] == service_env("portal")["OIDC_CLIENT_SECRET"]
    assert worker_env["CODER_OIDC_CLIENT_SECRET"] == service_env("coder")["CODER_OIDC_CLIENT_SECRET"]
    assert worker_env["AUTHENTIK_BOOTSTRAP_TOKEN"]


def test_bootstrap_mints_the_gitea_token_with_the_documented_scopes():
    script = BOOTSTRAP.read_text()
    assert '--scopes "write:admin,write:organization,write:repository,write:user"' in script
    for key in ("CODER_ADMIN_API_KEY", "GITEA_ADMIN_TOKEN", "GITEA_AUTH_SOURCE_ID", "CODER_ORGANIZATION"):
        assert f"generated_set {key}" in script
    assert "coder_cli templates push" in script
    assert "--default-ttl 1h --activity-bump 1h" in script
