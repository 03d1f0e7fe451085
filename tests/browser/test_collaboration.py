"""A lead invites a reader; the reader signs in (real OIDC), sees the group, opens Code, reads "read-only"."""
import re

from playwright.sync_api import Page, expect

from tests.browser.test_signin import provider_login
from tests.fixtures.devstack import stack_env

ACCOUNTS = {
    "lea": {"email": "lea@example.com", "email_verified": True, "name": "Lea Lead",
            "preferred_username": "lea", "groups": ["staff"]},
    "rob": {"email": "Rob@Example.com", "email_verified": True, "name": "Rob Reader",
            "preferred_username": "rob", "groups": ["staff"]},
}


def test_lead_invites_reader_who_opens_code_read_only(page: Page, oidc_portal, coder_sim,
                                                      gitea_sim):
    portal, provider = oidc_portal(ACCOUNTS, **stack_env(coder_sim, gitea_sim))

    # The lead: a group, a project, and an invitation by email for someone who never signed in.
    page.goto(portal.url + "/")
    provider_login(page, "lea")
    expect(page.get_by_test_id("who")).to_have_text("Lea Lead")
    page.click("text=Create your first group")
    page.fill("input[name=name]", "Vision Lab")
    page.click("button:has-text('Create group')")
    expect(page.locator("h1")).to_contain_text("Vision Lab")
    page.click("text=New project")
    page.fill("input[name=name]", "Detector")
    page.click("button:has-text('Create project')")
    expect(page.locator("h1")).to_contain_text("Detector")
    page.click("text=Vision Lab")
    page.get_by_test_id("members-link").click()
    page.fill("input[name=who]", "rob@example.com")
    page.select_option("select[name=role] >> nth=-1", "reader")
    page.click("button:has-text('Invite')")
    expect(page.get_by_test_id("invitation-rob@example.com")).to_be_visible()
    expect(page.get_by_test_id("invitation-rob@example.com")).to_contain_text("reader")
    page.click("text=Sign out")
    page.click("button:has-text('Yes, sign me out')")
    expect(page).to_have_url(portal.url + "/auth/signed-out")

    # The reader's first sign-in applies the invitation (email matched case-insensitively).
    page.goto(portal.url + "/")
    expect(page).to_have_url(re.compile(re.escape(provider.issuer) + "/interaction/"))
    provider_login(page, "rob")
    expect(page.get_by_test_id("who")).to_have_text("Rob Reader")
    expect(page.locator(".flash-success")).to_contain_text("You joined “Vision Lab”")
    page.click("a:has-text('Vision Lab')")
    expect(page.locator("h1")).to_contain_text("Vision Lab")
    expect(page.locator("h1 .badge")).to_have_text("reader")
    expect(page.locator("text=New project")).to_have_count(0)  # readers cannot create projects

    page.click("a:has-text('Detector')")
    page.click("nav.tabs >> text=Code")
    expect(page).to_have_url(re.compile(r"/projects/\d+/code$"))
    expect(page.locator(".code-status, .ide").first).to_be_visible()
    page.click("nav.tabs >> text=Overview")
    expect(page.get_by_test_id("role")).to_contain_text("read-only")
    assert gitea_sim.sim.team_members("vision-lab", "Readers") == {"rob"}
    assert gitea_sim.sim.team_members("vision-lab", "Contributors") == {"lea"}
