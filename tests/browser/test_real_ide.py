"""The Code tab with a real VS Code (code-server from `make ide`) on a real git repository.

The whole chain of the embedded default: the portal provisions the project, the
simulated Coder runs the template's startup.sh with the person's minted Gitea
token and starts code-server behind its app host, the portal frames it through
the auth-redirect hand-off; in the frame, a file typed into, saved, committed and
pushed from the IDE's own terminal lands in the repository the Overview's clone
URL names. Skipped (with the reason) when code-server is not installed.
"""
from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from portal.devstack.workspace_host import WorkspaceHost, installed_code_server
from tests.browser.test_code_tab import sign_in_and_create_project, watch_stages
from tests.browser.test_signin import ACCOUNTS
from tests.fixtures.devstack import stack_env
from tests.fixtures.devstack_coder import start_coder_sim
from tests.git_helpers import run_git

pytestmark = pytest.mark.skipif(installed_code_server() is None,
                                reason="code-server is not installed (run `make ide`)")
TYPED = "Typed in VS Code in the browser"


@pytest.fixture
def portal(oidc_portal, gitea_sim, tmp_path):
    host = WorkspaceHost(tmp_path / "workspaces", gitea_url=gitea_sim.url,
                         code_server=installed_code_server(), max_running=2)
    coder = start_coder_sim(host=host, build_seconds=1.0, agent_seconds=0.5)
    live, _ = oidc_portal(ACCOUNTS, host="portal.localhost", **stack_env(coder, gitea_sim))
    live.host = host
    yield live
    coder.stop()
    host.shutdown()


def test_vs_code_edits_commits_and_pushes_to_the_project_repository(page: Page, portal,
                                                                     gitea_sim):
    page.set_default_timeout(60000)
    sign_in_and_create_project(page, portal, "Vision Team", "Cat Detector")
    page.click("nav.tabs >> text=Code")
    stages = watch_stages(page, timeout=180)
    assert stages[-1] == "ready", stages
    page.wait_for_selector("iframe[data-testid=ide-frame]")
    ide = page.frame_locator("iframe[data-testid=ide-frame]")

    # VS Code's workbench, with the project's files in the explorer
    expect(ide.locator(".monaco-workbench")).to_be_visible(timeout=120000)
    readme = ide.locator(".explorer-folders-view .monaco-list-row", has_text="README.md")
    expect(readme).to_be_visible(timeout=60000)

    # type into the file and save it
    readme.click()
    editor = ide.locator(".editor-instance .monaco-editor .view-lines").first
    expect(editor).to_contain_text("# ", timeout=30000)
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    page.keyboard.type(TYPED)
    page.keyboard.press("Control+S")
    expect(ide.locator(".tab.active.dirty")).to_have_count(0, timeout=30000)

    # commit and push from the IDE's own terminal
    page.keyboard.press("Control+Shift+Backquote")
    terminal = ide.locator(".terminal-wrapper.active .xterm")
    expect(terminal).to_be_visible(timeout=60000)
    terminal.click()
    page.keyboard.type("git commit -qam 'Edited in the IDE' && git push -q origin main\n",
                       delay=5)

    (repo,) = gitea_sim.sim.snapshot()["repos"]
    bare = gitea_sim.sim.repo_path(*repo.split("/"))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        log = run_git("log", "-1", "--format=%s", "main", cwd=bare, check=False).stdout.strip()
        if log == "Edited in the IDE":
            break
        time.sleep(0.5)
    assert log == "Edited in the IDE"
    assert TYPED in run_git("show", "main:README.md", cwd=bare).stdout

    # ... which is the repository the Overview's clone URL names
    page.click("nav.tabs >> text=Overview")
    clone_url = page.get_by_test_id("clone-url").inner_text().strip()
    assert urlsplit(clone_url).path.strip("/").removesuffix(".git") == repo
