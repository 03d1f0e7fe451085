"""Browser tests: Playwright for Python driving Debian's chromium (no downloaded browser)."""
from __future__ import annotations

import os
import re
import shutil
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("PORTAL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
LOCAL = re.compile(r"^(127\.\d+\.\d+\.\d+|localhost|.*\.localhost|\[::1\])$")


def pytest_collection_modifyitems(items):
    for item in items:
        if "/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed: run `make test` (it installs it)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"],
    }


@pytest.fixture
def context(context):
    """Every page: requests leaving this machine are aborted (the LAN is offline)."""
    def guard(route):
        host = urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:", "about:")) or LOCAL.match(host):
            route.continue_()
        else:
            route.abort()
    context.route("**/*", guard)
    context.set_default_timeout(15000)
    yield context


@pytest.fixture
def oidc_portal(live_portal_factory, oidc_provider_factory):
    """oidc_portal(accounts, host=..., **env) -> (portal, provider): a live portal signing in
    through a real `oidc-provider` whose client knows the portal's callback and sign-out URLs."""
    from tests.fixtures.oidc import free_port

    def start(accounts: dict, host: str = "127.0.0.1", **env):
        port = free_port()
        base = f"http://{host}:{port}"
        provider = oidc_provider_factory(redirect_uris=[f"{base}/auth/callback"],
                                         post_logout_redirect_uris=[f"{base}/auth/signed-out"],
                                         accounts=accounts)
        portal = live_portal_factory(
            port=port, host=host, PORTAL_DEV="0", OIDC_ISSUER=provider.issuer,
            OIDC_CLIENT_ID=provider.client_id, OIDC_CLIENT_SECRET=provider.client_secret,
            flask={"SESSION_COOKIE_SECURE": False, "WTF_CSRF_SSL_STRICT": False}, **env)
        return portal, provider
    return start
