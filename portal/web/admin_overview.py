"""The admin Overview's pictures: workspaces by state, Code-tab opens and the median time to
the IDE per day (last 30 days), and AI gateway spend per person.

Opens come from the audit trail (`code.open`, recorded when a person opens a Code tab); the
time to the IDE of a workspace that is ready now is the time from the last open before it
became ready (`WorkspaceState.stage_started_at` of the `ready` stage) to that moment.
"""
from __future__ import annotations

import bisect
import datetime as dt
import statistics
from collections import Counter, defaultdict

from portal.people import ai_keys
from portal.web.charts import Chart, columns, rows
from portal.extensions import db
from portal.models import AuditEvent, User, UserSecret, WorkspaceState, utcnow, workspace_name_of
from portal.services import Services
from portal.stages import Stage
from portal.people.tokens import aware

DAYS = 30
OPEN = "code.open"
SPEND_PEOPLE = 20              # the largest spenders shown; one /key/info call each
MAX_TIME_TO_IDE = dt.timedelta(hours=6)  # longer: the open was not what made it ready


def days(now: dt.datetime, count: int = DAYS) -> list[dt.date]:
    today = now.date()
    return [today - dt.timedelta(days=count - 1 - i) for i in range(count)]


def _opens(since: dt.datetime) -> list[tuple[int | None, str, dt.datetime]]:
    return [(actor, target, aware(at)) for actor, target, at in db.session.execute(
        db.select(AuditEvent.actor_id, AuditEvent.target, AuditEvent.created_at)
        .where(AuditEvent.action == OPEN, AuditEvent.created_at >= since))]


def opens_per_day(now: dt.datetime | None = None) -> Chart:
    now = now or utcnow()
    span = days(now)
    since = dt.datetime.combine(span[0], dt.time(), dt.timezone.utc)
    per_day = Counter(at.date() for _, _, at in _opens(since))
    return columns("Code-tab opens per day", [(d.isoformat(), per_day.get(d, 0)) for d in span])


def time_to_ide_per_day(now: dt.datetime | None = None) -> Chart:
    """Median seconds from a Code-tab open to the IDE, per day the workspace became ready."""
    now = now or utcnow()
    span = days(now)
    since = dt.datetime.combine(span[0], dt.time(), dt.timezone.utc)
    opens: dict[tuple[int | None, str], list[dt.datetime]] = defaultdict(list)
    for actor, target, at in _opens(since - MAX_TIME_TO_IDE):
        opens[(actor, target)].append(at)
    for times in opens.values():
        times.sort()
    samples: dict[dt.date, list[float]] = defaultdict(list)
    ready = db.session.execute(db.select(WorkspaceState.user_id, WorkspaceState.project_id,
                                         WorkspaceState.stage_started_at)
                               .where(WorkspaceState.stage == Stage.ready,
                                      WorkspaceState.stage_started_at >= since))
    for user_id, project_id, ready_at in ready:
        ready_at = aware(ready_at)
        times = opens.get((user_id, workspace_name_of(project_id)), [])
        i = bisect.bisect_right(times, ready_at)
        if i and ready_at - times[i - 1] <= MAX_TIME_TO_IDE:
            samples[ready_at.date()].append((ready_at - times[i - 1]).total_seconds())
    points = [(d.isoformat(), round(statistics.median(samples[d]), 1) if samples.get(d) else None)
              for d in span]
    return columns("Median time to the IDE per day (seconds)", points, fmt=lambda v: f"{v:g} s")


def workspaces_by_state(by_state: dict[str, int]) -> Chart:
    """From the overview's one batched read of Coder (admin.counts)."""
    return rows("Workspaces by state", sorted(by_state.items(), key=lambda kv: (-kv[1], kv[0])))


def ai_spend(services: Services) -> tuple[Chart | None, str | None]:
    """(spend per person chart, why it is incomplete); (None, None) when LiteLLM is off."""
    if services.litellm is None:
        return None, None
    people = db.session.scalars(db.select(User).join(UserSecret, UserSecret.user_id == User.id)
                                .where(UserSecret.kind == ai_keys.KIND)
                                .order_by(User.last_seen_at.desc()).limit(SPEND_PEOPLE)).all()
    points, problems = [], []
    for person in people:
        found = ai_keys.key_spend(services, person)
        if found is not None and found.spend is None:
            problems.append(found.error or "unknown")
            if len(problems) == 2:
                break  # the gateway is down: a couple of timeouts, not one per person
        elif found is not None:
            points.append((person.display_name, round(found.spend, 2)))
    problem = (f"Spend of some people could not be read: {problems[0]}" if problems else None)
    points.sort(key=lambda kv: -kv[1])
    return rows("AI gateway spend per person", points, fmt=lambda v: f"{v:.2f}"), problem
