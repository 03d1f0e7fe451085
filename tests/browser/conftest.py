"""Browser tests: Playwright for Python driving Debian's chromium (no downloaded browser)."""
from __future__ import annotations

import os
import re
import shutil
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

# Playwright's `expect` waits 5 s by default; on a loaded 2-core CI machine a page that does
# a Gitea call (adding a member) can take longer. The same bound as the pages' own timeout.
expect.set_options(timeout=15_000)

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


# -- what a person sees: screenshots of failures, axe-core, the dev-sign-in portal -------------
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "browser" / "artifacts"   # git-ignored
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test leaves a full-page screenshot of every open page in ARTIFACTS."""
    outcome = yield
    report = outcome.get_result()
    page = getattr(item, "funcargs", {}).get("page")
    if report.when != "call" or not report.failed or page is None:
        return
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.name)
    for i, open_page in enumerate(page.context.pages):
        try:
            open_page.screenshot(path=str(ARTIFACTS / f"{name}-{i}.png"), full_page=True)
        except Exception as exc:  # noqa: BLE001 - a screenshot must never hide the failure
            print(f"screenshot of {name} not taken: {exc}")


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """axe-core (from node_modules, evaluated in the page: no CDN, the CSP untouched) on the
    page as it is; the violations of the given impacts, each with its first nodes."""
    if not AXE.exists():
        pytest.fail("axe-core is not installed: run `make install-test assets` (npm install)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {iframes: false,
                                           runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    return [v for v in result if v["impact"] in impacts]
