"""Real OIDC sign-in and sign-out through the `oidc-provider` npm package, in chromium."""
import re

from playwright.sync_api import Page, expect


ACCOUNTS = {
    "ada": {"email": "ada@example.com", "email_verified": True, "name": "Ada Lovelace",
            "preferred_username": "ada", "groups": ["staff", "portal-admins"]},
    "bob": {"email": "bob@example.com", "email_verified": True, "name": "Bob Builder",
            "preferred_username": "bob", "groups": ["staff"]},
}


def provider_login(page: Page, login: str) -> None:
    expect(page.locator("input[name=login]")).to_be_visible()
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any")
    page.click("button[type=submit]")
    page.click("button:has-text('Continue')")  # consent




def test_oidc_sign_in_admin_link_and_sign_out(page: Page, oidc_portal):
    portal, provider = oidc_portal(ACCOUNTS)
    page.goto(portal.url + "/")
    expect(page).to_have_url(re.compile(re.escape(provider.issuer) + "/interaction/"))
    provider_login(page, "ada")
    expect(page).to_have_url(portal.url + "/")
    expect(page.get_by_test_id("who")).to_have_text("Ada Lovelace")
    expect(page.get_by_test_id("admin-link")).to_be_visible()

    page.click("text=Sign out")
    page.click("button:has-text('Yes, sign me out')")  # the provider's end-session page
    expect(page).to_have_url(portal.url + "/auth/signed-out")
    expect(page.locator("h1")).to_have_text("You have signed out")

    page.goto(portal.url + "/")
    expect(page).to_have_url(re.compile(re.escape(provider.issuer) + "/interaction/"))
    expect(page.locator("input[name=login]")).to_be_visible()


def test_non_admin_sees_no_admin_link(page: Page, oidc_portal):
    portal, _ = oidc_portal(ACCOUNTS)
    page.goto(portal.url + "/")
    provider_login(page, "bob")
    expect(page.get_by_test_id("who")).to_have_text("Bob Builder")
    expect(page.get_by_test_id("admin-link")).to_have_count(0)
    assert page.goto(portal.url + "/admin/").status == 403
