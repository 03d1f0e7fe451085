"""In chromium: a project created from the python starter, its files named on the Overview."""
from playwright.sync_api import Page, expect

from portal.devstack.gitea_generate import seed_templates
from tests.browser.test_code_tab import portal, watch_stages  # noqa: F401 - the fixture
from tests.browser.test_signin import provider_login
from tests.test_gitea_generate import STARTERS


def test_project_from_the_python_starter_shows_its_files(page: Page, portal, gitea_sim):  # noqa: F811
    seed_templates(gitea_sim.sim.state, "starters", STARTERS)
    page.goto(portal.url + "/")
    provider_login(page, "ada")
    page.click("text=New group")
    page.fill("input[name=name]", "Weather")
    page.click("button:has-text('Create group')")
    page.click("text=New project")
    expect(page.get_by_test_id("starter-empty")).to_be_checked()
    page.fill("input[name=name]", "Forecast Bot")
    page.get_by_test_id("starter-python").check()
    page.click("button:has-text('Create project')")
    expect(page.locator("h1")).to_contain_text("Forecast Bot")
    page.click("nav.tabs >> text=Code")
    assert watch_stages(page)[-1] == "ready"
    page.click("nav.tabs >> text=Overview")
    files = page.get_by_test_id("repo-files")
    for name in ("src/", "tests/", "pyproject.toml", "README.md", ".gitignore"):
        expect(files).to_contain_text(name)
    repo = gitea_sim.sim.repo("weather", "forecast-bot")
    assert b'name = "forecast-bot"' in gitea_sim.sim.state.repo_files(repo)["pyproject.toml"]
