"""An admin finds a person by search, offboards them, sees each step and the audit entries;
the person's next sign-in is refused with a clear message (real OIDC, simulated Coder and Gitea)."""
import re

from playwright.sync_api import Page, expect

from portal.extensions import db
from portal.models import User
from tests.browser.test_signin import provider_login
from tests.fixtures.devstack import stack_env

ACCOUNTS = {
    "ada": {"email": "ada@example.com", "email_verified": True, "name": "Ada Admin",
            "preferred_username": "ada", "groups": ["staff", "portal-admins"]},
    "bob": {"email": "bob@example.com", "email_verified": True, "name": "Bob Builder",
            "preferred_username": "bob", "groups": ["staff"]},
}


def sign_out(page: Page, portal) -> None:
    page.click("text=Sign out")
    page.click("button:has-text('Yes, sign me out')")
    expect(page).to_have_url(portal.url + "/auth/signed-out")


def test_admin_finds_offboards_and_audits(page: Page, oidc_portal, coder_sim, gitea_sim):
    portal, _ = oidc_portal(ACCOUNTS, **stack_env(coder_sim, gitea_sim))
    with portal.app.app_context():  # other people, so that the search has work to do
        db.session.add_all([User(sub=f"other-{i}", email=f"b{i}@example.com", name=f"Bo {i}",
                                 username=f"bo{i}") for i in range(40)])
        db.session.commit()

    # Bob signs in and leads a group (so he sits in its Gitea team)
    page.goto(portal.url + "/")
    provider_login(page, "bob")
    expect(page.get_by_test_id("who")).to_have_text("Bob Builder")
    page.click("text=Create your first group")
    page.fill("input[name=name]", "Vision Lab")
    page.click("button:has-text('Create group')")
    expect(page.locator("h1")).to_contain_text("Vision Lab")
    assert gitea_sim.sim.team_members("vision-lab", "Contributors") == {"bob"}
    sign_out(page, portal)

    # The admin: Admin -> Users, search, open Bob, offboard with the confirmation
    page.goto(portal.url + "/")
    provider_login(page, "ada")
    page.get_by_test_id("admin-link").click()
    expect(page).to_have_url(portal.url + "/admin/")
    page.get_by_test_id("admin-nav").get_by_role("link", name="Users").click()
    expect(page.get_by_test_id("pager")).to_contain_text("of 42")
    page.get_by_test_id("user-search").fill("builder")
    expect(page.get_by_test_id("pager")).to_contain_text("1–1 of 1")   # swapped in by HTMX
    expect(page).to_have_url(re.compile(r"/admin/users\?.*q=builder"))
    page.get_by_test_id("user-row-bob").get_by_role("link", name="Bob Builder").click()
    expect(page.get_by_test_id("user-memberships")).to_contain_text("Vision Lab")
    page.get_by_test_id("offboard-link").click()
    expect(page.get_by_test_id("offboard-confirm")).to_contain_text("Vision Lab")
    page.get_by_test_id("offboard-confirm-input").fill("bob")
    page.get_by_test_id("offboard-submit").click()

    # each step shows as it completes, then the run is done
    expect(page.get_by_test_id("offboarding-done")).to_be_visible()
    for step in ("deactivate", "gitea_teams", "workspaces", "coder_token", "gitea_token",
                 "litellm_key", "github_token"):
        expect(page.get_by_test_id(f"step-{step}")).to_have_attribute(
            "data-status", re.compile(r"^(ok|skipped)$"))
    expect(page.get_by_test_id("step-deactivate")).to_have_attribute("data-status", "ok")
    expect(page.get_by_test_id("step-gitea_teams")).to_have_attribute("data-status", "ok")
    assert gitea_sim.sim.team_members("vision-lab", "Contributors") == set()

    # the audit log, filtered on Bob, lists the offboarding and its steps
    page.get_by_test_id("offboarding-done").get_by_role("link", name="audit log").click()
    expect(page).to_have_url(re.compile(r"/admin/audit\?target=user(:|%3A)bob"))
    table = page.get_by_test_id("audit-table")
    for action in ("user.offboard", "offboard.deactivate", "offboard.gitea_teams",
                   "user.offboard_done"):
        expect(table.locator(f'tr[data-action="{action}"]')).to_have_count(1)
    expect(table).to_contain_text("ada@example.com")
    page.get_by_test_id("audit-action").select_option("offboard.gitea_teams")
    expect(table.locator("tr[data-testid=audit-row]")).to_have_count(1)
    sign_out(page, portal)

    # Bob's next sign-in is refused, saying why
    page.goto(portal.url + "/")
    provider_login(page, "bob")
    expect(page.locator("h1")).to_have_text("Sign-in refused")
    expect(page.locator("body")).to_contain_text("has been deactivated")
