"""Fault matrix: Coder, Gitea and the OIDC provider × six faults, through the main flows.

For each cell the portal (SQLite, the simulators, a fake OIDC provider behind a fault switch;
0.5 s outbound timeouts) is first used normally: the lead signs in through OIDC, creates a
group and a project and opens its Code tab to the IDE; Bob signs in and is made a reader.
Then the fault is switched on and a person signs in, views the dashboard, creates a project,
opens its Code tab, changes Bob's role and visits the admin pages. No answer may be a 500 or
take long (Retry-After is bounded); each shows a message and a way to retry (a Retry button,
a polling status, or "Try signing in again"). Then the service comes back and, without anyone
pressing Retry, the Code tab completes, the project is there and Bob's role reaches Gitea.
`pytest -s tests/test_fault_matrix.py` prints the matrix: service × fault → what was seen.
"""
from __future__ import annotations

import html
import re
import time

import pytest

from portal.extensions import db
from portal.models import Membership, Project, Role, User
from tests.faults import FAULTS, TIMEOUT, Faulty, RunningIdp, oidc_sign_in
from tests.fixtures.app import CSRF_RE
from tests.fixtures.devstack import stack_env

SERVICES = ("coder", "gitea", "oidc")
MAX_SECONDS = 12.0   # the slowest single answer allowed under a fault
MATRIX: dict[tuple[str, str], list[str]] = {}
MESSAGE_RE = re.compile(r'data-testid="(?:stage-message|failure-reason|error-message)"[^>]*>([^<]+)<'
                        r'|class="flash flash-[a-z]+"[^>]*>([^<]+)<')


@pytest.fixture(scope="module", autouse=True)
def print_matrix():
    yield
    if MATRIX:
        print("\n\nFault matrix (service × fault → what the person saw; then after recovery)")
        for (service, fault), seen in sorted(MATRIX.items(), key=lambda kv: (
                SERVICES.index(kv[0][0]), FAULTS.index(kv[0][1]))):
            print(f"  {service:5} {fault:9} " + " | ".join(seen))


class Person:
    """A test client that checks every answer: never a 500, never slow, always a message."""

    def __init__(self, app):
        self.client = app.test_client()

    def csrf(self, path: str = "/") -> str:
        return CSRF_RE.search(self.client.get(path).get_data(as_text=True)).group(1)

    def __getattr__(self, name):
        call = getattr(self.client, name)

        def checked(*args, **kwargs):
            started = time.monotonic()
            resp = call(*args, **kwargs)
            took = time.monotonic() - started
            assert resp.status_code != 500 and resp.status_code < 600, \
                f"{name.upper()} {args[0]} -> {resp.status_code}: {resp.get_data(as_text=True)[:400]}"
            assert took < MAX_SECONDS, f"{name.upper()} {args[0]} took {took:.1f} s"
            if resp.status_code >= 400:
                assert said(resp), f"{args[0]} -> {resp.status_code} without a message"
            return resp
        return checked

    def hx(self, path: str, **data):
        return self.post(path, data=data, headers={"HX-Request": "true", "X-CSRFToken": self.csrf()})


def said(resp) -> str:
    found = MESSAGE_RE.search(resp.get_data(as_text=True))
    return html.unescape((found.group(1) or found.group(2)).strip()) if found else ""


def short(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1] + "…"


def code_state(body: str) -> tuple[str, bool]:
    """("ready" | "waiting" | "failed", whether the person has a way to retry)."""
    if 'data-testid="ide"' in body:
        return "ready", True
    if 'data-testid="retry"' in body:
        return "failed", True
    return "waiting", "load delay" in body


def poll_code(person: Person, pid: int, polls: int, until=("ready", "failed"),
              seconds: float = 30.0) -> tuple[str, str]:
    """Poll as the status partial does: at most `polls` times and `seconds` long."""
    deadline = time.monotonic() + seconds
    body = person.hx(f"/projects/{pid}/code/status").get_data(as_text=True)
    for _ in range(polls):
        state, can_retry = code_state(body)
        assert can_retry, f"the Code tab shows neither progress nor Retry: {body[:300]}"
        noticed = "failed" in until and ("Retrying" in body or "Renewing" in body)
        if state in until or noticed or time.monotonic() > deadline:
            break
        time.sleep(0.1)
        body = person.hx(f"/projects/{pid}/code/status").get_data(as_text=True)
    return code_state(body)[0], body


@pytest.fixture
def idp():
    running = RunningIdp()
    yield running
    running.stop()


@pytest.fixture
def world(make_app, coder_sim, gitea_sim, idp, start_worker):
    env = {**stack_env(coder_sim, gitea_sim), **idp.env(), "PORTAL_HTTP_CONNECT_TIMEOUT": str(TIMEOUT),
           "PORTAL_HTTP_READ_TIMEOUT": str(TIMEOUT)}
    app = make_app(**env)
    start_worker(app)
    lead = Person(app)
    assert oidc_sign_in(lead, idp.idp, "lead@example.com", admin=True).status_code == 302
    token = lead.csrf("/groups/new")
    slug = lead.post("/groups/new", data={"csrf_token": token, "name": "Team"}).location.rsplit("/", 1)[-1]
    resp = lead.post(f"/groups/{slug}/projects/new", data={"csrf_token": token, "name": "Alpha"})
    alpha = int(resp.location.rsplit("/", 1)[-1])
    lead.hx(f"/projects/{alpha}/code/open")
    assert poll_code(lead, alpha, 1000, until=("ready", "failed"))[0] == "ready"
    bob = Person(app)
    assert oidc_sign_in(bob, idp.idp, "bob@example.com").status_code == 302
    lead.hx(f"/groups/{slug}/members", who="bob@example.com", role="reader")
    with app.app_context():
        bob_id = db.session.scalar(db.select(User.id).where(User.email == "bob@example.com"))
    admin = [path for path in admin_pages(app) if lead.client.get(path).status_code == 200]
    services = {"coder": Faulty("coder", coder_sim), "gitea": Faulty("gitea", gitea_sim),
                "oidc": Faulty("oidc", idp, idp.wsgi)}
    return dict(app=app, lead=lead, slug=slug, alpha=alpha, bob_id=bob_id, idp=idp.idp,
                services=services, gitea=gitea_sim, admin=admin)


def admin_pages(app) -> list[str]:
    return sorted(r.rule for r in app.url_map.iter_rules()
                  if r.rule.startswith("/admin") and "GET" in r.methods and not r.arguments)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("service", SERVICES)
def test_fault_matrix(world, service, fault):
    app, lead, slug, idp = world["app"], world["lead"], world["slug"], world["idp"]
    seen: list[str] = []
    world["services"][service].apply(fault)

    # sign-in (OIDC, a new person)
    carol = Person(app)
    resp = oidc_sign_in(carol, idp, "carol@example.com")
    if resp.status_code == 302:
        seen.append("sign-in ok")
    else:
        assert resp.status_code in (400, 502, 503), resp.status_code
        assert "Try signing in again" in resp.get_data(as_text=True)
        seen.append(f"sign-in {resp.status_code} “{short(said(resp), 45)}”")

    # dashboard
    page = lead.get("/").get_data(as_text=True)
    seen.append("dashboard: status unavailable" if "status unavailable" in page else "dashboard ok")

    # create a project: nothing outside is needed, so it always works
    resp = lead.post(f"/groups/{slug}/projects/new", data={"csrf_token": lead.csrf(), "name": "Beta"})
    assert resp.status_code == 303, said(resp)
    beta = int(resp.location.rsplit("/", 1)[-1])

    # open the Code tab
    lead.get(f"/projects/{beta}/code")
    lead.hx(f"/projects/{beta}/code/open")
    state, body = poll_code(lead, beta, 4)
    seen.append(f"code {state}" + ("" if state == "ready" else f" “{short(said_text(body))}”"))

    # members: Bob becomes a contributor
    resp = lead.hx(f"/groups/{slug}/members/{world['bob_id']}/role", role="contributor")
    assert resp.status_code == 200
    pending = "pending" in resp.get_data(as_text=True).lower()
    seen.append("role change saved, Gitea sync pending" if pending else "role change ok")

    # admin pages
    for path in world["admin"]:
        assert lead.get(path).status_code in (200, 503), path

    # the service comes back: nothing re-entered, nobody presses Retry
    world["services"][service].clear(fault)
    state, body = poll_code(lead, beta, 1000, until=("ready",))
    assert state == "ready", f"the Code tab did not complete by itself after recovery: {said_text(body)}"
    if pending:
        lead.hx(f"/groups/{slug}/members/sync")
    with app.app_context():
        assert db.session.get(Project, beta).name == "Beta"
        member = db.session.scalar(db.select(Membership).where(Membership.user_id == world["bob_id"]))
        assert member.role == Role.contributor and not member.sync_pending
    assert "bob" in world["gitea"].sim.team_members(slug, "Contributors")
    assert oidc_sign_in(Person(app), idp, "dave@example.com").status_code == 302
    seen.append("recovered")
    MATRIX[(service, fault)] = seen


def said_text(body: str) -> str:
    found = MESSAGE_RE.search(body)
    return html.unescape((found.group(1) or found.group(2)).strip()) if found else body[:80]
