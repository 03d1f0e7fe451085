"""The Code tab in chromium: real OIDC sign-in, simulated Coder and Gitea, the production iframe path."""
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_signin import ACCOUNTS, provider_login
from tests.fixtures.devstack import stack_env


@pytest.fixture
def portal(oidc_portal, coder_sim, gitea_sim):
    coder_sim.sim.build_seconds = 2.5
    coder_sim.sim.agent_seconds = 1.0
    # portal.localhost: the portal and Coder's app hosts (*.portal.localhost) are one site
    live, _ = oidc_portal(ACCOUNTS, host="portal.localhost", **stack_env(coder_sim, gitea_sim))
    live.coder = coder_sim
    return live


def sign_in_and_create_project(page: Page, portal, group: str, project: str) -> None:
    page.goto(portal.url + "/")
    provider_login(page, "ada")
    expect(page.get_by_test_id("who")).to_have_text("Ada Lovelace")
    page.click("text=New group")
    page.fill("input[name=name]", group)
    page.click("button:has-text('Create group')")
    page.click("text=New project")
    page.fill("input[name=name]", project)
    page.click("button:has-text('Create project')")
    expect(page.locator("h1")).to_contain_text(project)


def watch_stages(page: Page, timeout: float = 30.0) -> list[str]:
    """The distinct stages the status partial shows, in order, until the IDE appears."""
    stages: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stage = page.locator("#code-status").get_attribute("data-stage", timeout=5000)
        if stage and (not stages or stages[-1] != stage):
            stages.append(stage)
        if stage in ("ready", "failed"):
            break
        page.wait_for_timeout(100)
    return stages


def ide_frame(page: Page):
    page.wait_for_selector("iframe[data-testid=ide-frame]", timeout=30000)
    frame = page.frame_locator("iframe[data-testid=ide-frame]")
    expect(frame.locator("h1")).to_contain_text("code-server", timeout=15000)
    return next(f for f in page.frames if "code-server--" in f.url)


def test_code_tab_stages_iframe_and_reload(page: Page, portal):
    sign_in_and_create_project(page, portal, "Vision Team", "Cat Detector")
    page.click("nav.tabs >> text=Code")
    stages = watch_stages(page)
    assert stages[-1] == "ready", stages
    shown = [s for s in stages if s != "ready"]
    # The worker does the portal's own steps in one go, so a poll may see only some of them.
    assert len(shown) >= 2 and "building" in shown, stages
    order = ["repository", "account", "workspace", "building", "starting"]
    assert [order.index(s) for s in shown] == sorted(order.index(s) for s in shown), stages

    frame = ide_frame(page)
    url = urlsplit(frame.url)
    assert url.hostname.startswith("code-server--main--proj-")
    assert not any(k.startswith("coder_application_connect_api_key") for k in parse_qs(url.query))
    assert parse_qs(url.query)["folder"] == ["/home/coder/project"]
    cookies = page.context.cookies(f"http://{url.hostname}:{url.port}/")
    assert any(c["name"].startswith("coder_subdomain_app_session_token") and c["httpOnly"]
               for c in cookies)

    builds = portal.coder.sim.count("/builds", "POST") + portal.coder.sim.count("/workspaces", "POST")
    page.reload()
    ide_frame(page)
    after = portal.coder.sim.count("/builds", "POST") + portal.coder.sim.count("/workspaces", "POST")
    assert after == builds, "a reload must not start a new build"


def test_failure_retry_and_stopped_start(page: Page, portal):
    portal.coder.sim.fail_builds = 1
    portal.coder.sim.fail_message = "provisioner: image pull failed"
    sign_in_and_create_project(page, portal, "Robots", "Arm Control")
    page.click("nav.tabs >> text=Code")
    stages = watch_stages(page)
    assert stages[-1] == "failed"
    expect(page.get_by_test_id("failure-reason")).to_contain_text("image pull failed")
    page.get_by_test_id("retry").click()
    ide_frame(page)

    page.click("nav.tabs >> text=Overview")
    page.get_by_test_id("ws-stop").click()
    expect(page.get_by_test_id("overview-state")).to_have_text("stopped")
    starts = portal.coder.sim.count("/builds", "POST")
    page.click("nav.tabs >> text=Code")
    ide_frame(page)
    assert portal.coder.sim.count("/builds", "POST") > starts
