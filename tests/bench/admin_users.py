"""Benchmark of the admin Users page with 1,000 people (prints figures; asserts nothing).

Server time of: the first page, a page in the middle and the last page (25 a page),
sorting by last seen, and searches (by name, email, username, no match), each full
page and HTMX fragment. 20 requests per case; median and p95 in milliseconds.
Every tenth person is in a group; nobody has a workspace (no Coder call).
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from portal.extensions import db
from portal.models import Group, Membership, Role, User, utcnow
from tests.fixtures.app import base_env, build_app, dev_sign_in

PEOPLE = 1000
RUNS = 20


def seed_people(app, n: int = PEOPLE) -> None:
    """n people (Person 0000...), every tenth a member of one of ten groups."""
    with app.app_context():
        groups = [Group(slug=f"group-{g}", name=f"Group {g}") for g in range(10)]
        db.session.add_all(groups)
        now = utcnow()
        people = [User(sub=f"bench-{i}", email=f"person{i:04d}@example.com", name=f"Person {i:04d}",
                       username=f"person{i:04d}", last_seen_at=now) for i in range(n)]
        db.session.add_all(people)
        db.session.flush()
        db.session.add_all([Membership(user_id=p.id, group_id=groups[i // 10 % 10].id, role=Role.reader)
                            for i, p in enumerate(people) if i % 10 == 0])
        db.session.commit()


def pct(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def timed(client, url: str, htmx: bool = False) -> list[float]:
    headers = {"HX-Request": "true"} if htmx else {}
    out = []
    for _ in range(RUNS):
        started = time.perf_counter()
        resp = client.get(url, headers=headers)
        out.append((time.perf_counter() - started) * 1000)
        assert resp.status_code == 200, (url, resp.status_code)
    return out


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="portal-bench-admin-"))
    app = build_app(base_env(tmp))
    client = app.test_client()
    dev_sign_in(client, "root@example.com", "Root", admin=True)
    seed_people(app)
    cases = [("first page", "/admin/users", False),
             ("page 20 of 41", "/admin/users?page=20", False),
             ("last page", "/admin/users?page=41", False),
             ("page 20, fragment", "/admin/users?page=20", True),
             ("sort by last seen, desc", "/admin/users?sort=last_seen&order=desc", False),
             ("per=100", "/admin/users?per=100", False),
             ("search name 'Person 05'", "/admin/users?q=Person+05", True),
             ("search email 'person0999@'", "/admin/users?q=person0999%40", True),
             ("search username, page 2", "/admin/users?q=person0&page=2", True),
             ("search, no match", "/admin/users?q=nobody-at-all", True)]
    print(f"Admin Users page, {PEOPLE + 1} people, {RUNS} requests per case (server time, ms)")
    for label, url, htmx in cases:
        times = timed(client, url, htmx)
        print(f"  {label:<32} median {statistics.median(times):6.1f}   p95 {pct(times, 95):6.1f}")
