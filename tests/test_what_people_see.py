"""What a person reads (issue 15): live form checks per field, wording without setting names
for non-admins, the System page in words, the dev sign-in keeping names, the only lead."""
from __future__ import annotations

import re

import pytest

from tests.collab_helpers import make_group, person, post
from tests.fixtures.app import dev_sign_in

FEEDBACK_RE = re.compile(r'<span id="([a-z_]+)-feedback"[^>]*>(.*?)</span>\s*$', re.M)


def feedback(client, url: str, **query) -> dict[str, str]:
    body = client.get(url, query_string=query).get_data(as_text=True)
    return {name: re.sub(r"<[^>]+>", "", inner) for name, inner in FEEDBACK_RE.findall(body)}


@pytest.mark.parametrize("query, expected", [
    ({"name": "", "slug": "", "touched": ""}, {"name": "", "slug": ""}),          # untouched: silent
    ({"name": "!!!", "slug": "", "touched": "name"}, {"name": "Use at least one letter or digit.", "slug": ""}),
    ({"name": "!!!", "slug": "-x", "touched": "name,slug"}, {"name": "", "slug": "*"}),
    ({"name": "", "slug": "", "touched": "name,slug"}, {"name": "Give the group a name.", "slug": ""}),
    ({"name": "Good Team", "slug": "", "touched": "name"}, {"name": "", "slug": "Short name: good-team is available."}),
    ({"name": "x" * 101, "slug": "", "touched": "name"}, {"name": "At most 100 characters.", "slug": ""}),
])
def test_group_check_answers_every_field_in_its_own_place(app, query, expected):
    client = app.test_client()
    dev_sign_in(client, "ada@example.com", "Ada")
    got = feedback(client, "/groups/check", **query)
    assert set(got) == {"name", "slug", "description"} and got["description"] == ""
    # "*": any message; otherwise that exact text (all fields compared at once)
    assert {field: (got[field] != "") if text == "*" else got[field]
            for field, text in expected.items()} == \
        {field: True if text == "*" else text for field, text in expected.items()}


def test_project_check_reports_the_source_url_only_once_typed_in(app):
    client = app.test_client()
    dev_sign_in(client, "ada@example.com", "Ada")
    make_group(client)
    quiet = feedback(client, "/groups/ml-team/projects/check", name="Model", source_url="ftp://x",
                     touched="name")
    assert quiet["source_url"] == "" and "is available" in quiet["slug"]
    said = feedback(client, "/groups/ml-team/projects/check", name="Model", source_url="ftp://x",
                    touched="name,source_url")
    assert said["source_url"] != ""


def test_submitted_form_puts_a_derived_name_problem_under_name(app):
    client = app.test_client()
    dev_sign_in(client, "ada@example.com", "Ada")
    resp = post(client, "/groups/new", name="!!!", slug="", description="")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert re.search(r'id="name-feedback"[^>]*><span class="field-error">Use at least one letter', page)
    assert re.search(r"name=\"touched\" value=\"[a-z_,]*name[a-z_,]*\"", page)  # all checked live now


def test_first_visit_is_not_scolded_and_dev_sign_in_keeps_a_name(app):
    client = app.test_client()
    page = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "Sign in" in page and "Please sign in" not in page
    dev_sign_in(client, "alice@example.com", "Alice Anders")
    client.post("/auth/logout", data={"csrf_token": re.search(
        r'name="csrf-token" content="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)})
    dev_sign_in(client, "alice@example.com")  # email alone
    assert 'data-testid="who">Alice Anders<' in client.get("/").get_data(as_text=True)
    dev = client.get("/auth/dev").get_data(as_text=True)
    assert 'data-testid="admin-hint"' in dev and 'class="button pick"' in dev


def test_lead_reads_no_setting_names_and_the_only_lead_is_not_offered_removal(stack):
    lead = person(stack.app, "lead@example.com")
    make_group(lead)
    page = post(lead, "/groups/ml-team/members", htmx=True, who="carol@example.com",
                role="reader").get_data(as_text=True)
    assert "No email was sent" in page and "SMTP" not in page
    members = lead.get("/groups/ml-team/members").get_data(as_text=True)
    row = members.split('data-testid="member-lead"')[1].split("</tr>")[0]
    assert 'data-testid="only-lead"' in row and "<select" not in row and "Remove" not in row


def test_system_page_says_what_unset_settings_mean(app):
    admin = person(app, "root@example.com", admin=True)
    page = admin.get("/admin/system").get_data(as_text=True)
    settings = page.split('data-testid="settings"')[1].split("</dl>")[0]
    assert "()" not in settings and "—" not in settings
    assert re.search(r"<code>coder_wildcard_host</code></dt><dd><span class=\"muted\">not set: read from Coder", settings)
    assert re.search(r"<code>litellm_models</code></dt><dd><span class=\"muted\">not set: every model", settings)
