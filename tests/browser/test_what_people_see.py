"""What a person sees, in chromium: the full-size IDE, forms that help, the Members page after
an error, keyboard-only use with a visible focus, and axe-core on every page (0 serious or
critical violations). Dev sign-in on portal.localhost, simulated Coder and Gitea."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import axe_violations
from tests.fixtures.devstack import stack_env

SIZES = [(1366, 768), (1920, 1080)]


@pytest.fixture
def portal(live_portal_factory, coder_sim, gitea_sim):
    coder_sim.sim.build_seconds = 1.5
    coder_sim.sim.agent_seconds = 0.5
    live = live_portal_factory(host="portal.localhost", **stack_env(coder_sim, gitea_sim))
    live.coder = coder_sim
    return live


def dev_login(page: Page, portal, email: str, name: str = "", admin: bool = False) -> None:
    page.goto(portal.url + "/auth/dev")
    page.fill("form.stack input[name=email]", email)
    page.fill("form.stack input[name=name]", name)
    if admin:
        page.check("form.stack input[name=admin]")
    page.click("form.stack button[type=submit]")
    expect(page.get_by_test_id("who")).to_be_visible()


def new_group(page: Page, portal, name: str) -> None:
    page.goto(portal.url + "/groups/new")
    page.fill("input[name=name]", name)
    page.click("button:has-text('Create group')")
    expect(page.locator("h1")).to_contain_text(name)


def new_project(page: Page, name: str) -> int:
    page.click("text=New project")
    page.fill("input[name=name]", name)
    page.click("button:has-text('Create project')")
    expect(page.locator("h1")).to_contain_text(name)
    return int(page.url.rstrip("/").rsplit("/", 1)[-1])


def no_serious_violations(page: Page, where: str) -> None:
    found = axe_violations(page)
    assert not found, f"{where}: {found}"


# -- item 1: the IDE on the whole viewport ----------------------------------------------------
@pytest.mark.parametrize("width, height", SIZES)
def test_ready_ide_fills_the_viewport_without_page_scroll(page: Page, portal, width, height):
    page.set_viewport_size({"width": width, "height": height})
    dev_login(page, portal, "ada@example.com", "Ada Lovelace")
    new_group(page, portal, "Vision Team")
    pid = new_project(page, "Cat Detector")
    expect(page.get_by_test_id("next-start-notice")).to_be_visible()  # the footnote is here now
    page.goto(f"{portal.url}/projects/{pid}/code")
    frame = page.locator("iframe[data-testid=ide-frame]")
    expect(frame).to_be_visible(timeout=30000)
    box = frame.bounding_box()
    assert box["width"] >= 0.98 * width, box
    assert box["y"] < 60, f"one slim bar above the IDE, not {box['y']} px"
    assert box["y"] + box["height"] <= height + 0.5, box
    assert box["height"] >= height - 60, box
    scroll = page.evaluate("[document.scrollingElement.scrollHeight, window.innerHeight]")
    assert scroll[0] <= scroll[1], f"the page scrolls: {scroll}"
    assert page.get_by_test_id("next-start-notice").count() == 0
    expect(page.get_by_test_id("ide-new-tab")).to_have_attribute("target", "_blank")
    page.wait_for_function("document.activeElement && document.activeElement.tagName === 'IFRAME'")
    expect(page.locator("nav.tabs a.active")).to_have_text("Code")


# -- item 3: form validation -------------------------------------------------------------------
def feedback(page: Page, field: str) -> str:
    return page.locator(f"#{field}-feedback").inner_text().strip()


def test_group_form_says_each_problem_under_its_field_after_typing(page: Page, portal):
    dev_login(page, portal, "ada@example.com", "Ada Lovelace")
    page.goto(portal.url + "/groups/new")
    page.wait_for_timeout(600)  # a live check would have answered by now
    assert page.locator(".field-error").count() == 0, "an untouched form shows no error"

    page.fill("input[name=name]", "!!!")
    expect(page.locator("#name-feedback")).to_contain_text("at least one letter or digit")
    assert feedback(page, "slug") == ""
    page.fill("input[name=slug]", "-bad-")
    expect(page.locator("#slug-feedback .field-error")).to_be_visible()
    expect(page.locator("#name-feedback")).to_have_text("")  # the typed short name is the problem now
    page.fill("input[name=slug]", "")
    expect(page.locator("#slug-feedback")).to_have_text("")
    expect(page.locator("#name-feedback")).to_contain_text("at least one letter or digit")
    expect(page.locator("input[name=name]")).to_have_attribute("aria-invalid", "true")
    page.fill("input[name=name]", "Good Team")
    expect(page.locator("#name-feedback")).to_have_text("")
    expect(page.locator("#slug-feedback")).to_contain_text("good-team")
    assert page.locator(".field-error").count() == 0
    no_serious_violations(page, "new group, checked live")
    page.fill("input[name=name]", "")
    page.click("button:has-text('Create group')")  # submitted: every field is checked
    expect(page.locator("#name-feedback")).to_contain_text("Give the group a name")


# -- items 4 and 7: the Members page after a refusal ----------------------------------------------
def members_post(page: Page, act) -> None:
    """Do `act`, wait for the Members section's answer and for htmx to finish swapping it in.

    Without the wait a second refusal looks done at once (the first one's message is already
    shown) and the next step races the swap that is still to come.
    """
    with page.expect_response(lambda r: r.request.method == "POST" and "/members" in r.url):
        act()
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, "
                           ".htmx-settling')")


def test_members_page_keeps_working_in_place_after_an_error(page: Page, portal):
    dev_login(page, portal, "bob@example.com", "Bob Builder")
    dev_login(page, portal, "ada@example.com", "Ada Lovelace")
    new_group(page, portal, "Robots")
    page.click("[data-testid=members-link]")
    ada = page.get_by_test_id("member-ada")
    expect(ada.get_by_test_id("only-lead")).to_be_visible()
    assert ada.locator("select, button").count() == 0, "the only lead: no role menu, no Remove"
    page.evaluate("window.__samePage = true")

    for _ in range(2):  # two refusals in a row: one message, in place
        page.fill("input[name=who]", "not an address")
        members_post(page, lambda: page.click("button:has-text('Invite')"))
        expect(page.get_by_test_id("members-error")).to_be_visible()
    assert page.get_by_test_id("members-error").count() == 1
    page.fill("input[name=who]", "bob")
    members_post(page, lambda: page.click("button:has-text('Invite')"))
    expect(page.get_by_test_id("member-bob")).to_be_visible()
    assert page.get_by_test_id("members-error").count() == 0
    members_post(page, lambda: page.get_by_test_id("member-bob").locator("select")
                 .select_option("reader"))
    expect(page.locator(".flash-success")).to_contain_text("reader")
    assert page.evaluate("window.__samePage === true"), "a later action became a full-page post"
    assert page.locator("h1").count() == 1
    no_serious_violations(page, "members after an error")


# -- keyboard only, visible focus ---------------------------------------------------------------
def tab_to(page: Page, selector: str, limit: int = 40) -> None:
    """Press Tab until `selector` has the focus; the focus ring must be visible there."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector):
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline not in ("none", ""), f"no visible focus on {selector}"
            return
    raise AssertionError(f"Tab never reached {selector}")


def enter(page: Page) -> None:
    with page.expect_navigation():
        page.keyboard.press("Enter")


def type_into(page: Page, fields: list[tuple[str, str]]) -> None:
    """Tab to each field, type its text, then Enter (a submit that navigates)."""
    for selector, text in fields:
        tab_to(page, selector)
        page.keyboard.type(text)
    enter(page)


def test_main_flow_by_keyboard_alone(page: Page, portal):
    page.goto(portal.url + "/")
    tab_to(page, "a[href$='/auth/dev']")
    enter(page)
    type_into(page, [("input[name=email]", "kim@example.com"), ("input[name=name]", "Kim Keys")])
    expect(page.get_by_test_id("who")).to_have_text("Kim Keys")
    for link, name in (("a.button[href$='/groups/new']", "Keyboard Club"),
                       ("a[href$='/projects/new']", "No Mouse")):
        tab_to(page, link)
        enter(page)
        type_into(page, [("input[name=name]", name)])
        expect(page.locator("h1")).to_contain_text(name)
    tab_to(page, "nav.tabs a[href$='/code']")
    enter(page)
    expect(page.locator("iframe[data-testid=ide-frame]")).to_be_visible(timeout=30000)
    page.wait_for_function("document.activeElement && document.activeElement.tagName === 'IFRAME'")


# -- axe-core on every page ------------------------------------------------------------------
def test_every_page_has_no_serious_accessibility_violation(page: Page, portal):
    seen = []

    def check(path: str | None, where: str):
        if path:
            page.goto(portal.url + path)
        no_serious_violations(page, where)
        seen.append(where)

    check("/", "signed out (sign-in page)")
    check("/auth/dev", "dev sign-in")
    check("/nowhere", "404 error page")
    dev_login(page, portal, "bob@example.com", "Bob Builder")
    check("/auth/dev", "dev sign-in with known people")
    dev_login(page, portal, "root@example.com", "Root Admin", admin=True)
    check("/", "dashboard, empty")
    check("/groups/new", "new group")
    new_group(page, portal, "Vision Team")
    check(None, "group")
    page.click("text=New project")
    check(None, "new project")
    page.fill("input[name=name]", "Cat Detector")
    page.click("button:has-text('Create project')")
    expect(page.locator("h1")).to_contain_text("Cat Detector")
    pid = int(page.url.rsplit("/", 1)[-1])
    check(None, "project Overview")
    check("/groups/vision-team/members", "members")

    portal.coder.sim.build_seconds = 4.0
    page.goto(f"{portal.url}/projects/{pid}/code")
    expect(page.get_by_test_id("code-status")).to_be_visible()
    check(None, "Code tab, in progress")
    expect(page.locator("iframe[data-testid=ide-frame]")).to_be_visible(timeout=30000)
    check(None, "Code tab, ready")
    page.click("nav.tabs >> text=Overview")
    page.get_by_test_id("ws-stop").click()
    expect(page.get_by_test_id("overview-state")).to_have_text("stopped")
    check(None, "project Overview, stopped")
    portal.coder.sim.fail_builds = 1
    portal.coder.sim.fail_message = "provisioner: image pull failed"
    page.goto(f"{portal.url}/projects/{pid}/code")
    expect(page.get_by_test_id("failure-reason")).to_be_visible(timeout=30000)
    check(None, "Code tab, failed")
    check("/", "dashboard with a project")
    check("/settings", "settings")
    check("/admin/", "admin overview (charts)")
    for path in ("/admin/users", "/admin/groups", "/admin/projects", "/admin/workspaces",
                 "/admin/audit", "/admin/system", "/admin/users/1", "/admin/users/1/offboard",
                 f"/admin/projects/{pid}/delete", f"/admin/workspaces/2/{pid}/stop"):
        check(path, path)
    dev_login(page, portal, "bob@example.com")
    check("/admin/", "403 error page")
    page.click("button:has-text('Sign out')")
    expect(page.locator("h1")).to_be_visible()
    check(None, "signed out")
    assert len(seen) >= 27
