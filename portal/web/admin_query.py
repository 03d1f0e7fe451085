"""Query-string handling of the admin lists: page, per, sort, search, time ranges.

Every bad parameter raises `BadParam` (the admin blueprint answers 400 with the
message, never a 500). Sorting only ever uses a whitelisted column; searches use
LIKE on escaped input (a `%` or `_` typed by the admin matches itself).
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlencode

from sqlalchemy import func

from portal.extensions import db

PER_DEFAULT = 25
PER_MAX = 100
SEARCH_MAX = 200
PAGE_MAX = 100_000


class BadParam(ValueError):
    """A query parameter the admin pages cannot use; the message says which and why."""


def _int(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise BadParam(f"“{name}” must be a whole number (got “{raw[:20]}”).")
    value = int(raw)
    if not low <= value <= high:
        raise BadParam(f"“{name}” must be between {low} and {high}.")
    return value


def text(args: Mapping[str, str], name: str, max_len: int = SEARCH_MAX) -> str:
    value = (args.get(name) or "").strip()
    if len(value) > max_len:
        raise BadParam(f"“{name}” is too long (at most {max_len} characters).")
    if any(ord(c) < 32 for c in value):
        raise BadParam(f"“{name}” contains control characters.")
    return value


def choice(args: Mapping[str, str], name: str, allowed: tuple[str, ...] | list[str],
           default: str = "") -> str:
    value = (args.get(name) or "").strip() or default
    if value and value not in allowed:
        raise BadParam(f"“{name}” must be one of: {', '.join(a for a in allowed if a)}.")
    return value


def like(value: str) -> str:
    """A LIKE pattern matching `value` anywhere, with %, _ and the escape escaped."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def contains(column, value: str):
    return func.lower(column).like(like(value.lower()), escape="\\")


@dataclass(frozen=True)
class Listing:
    """page/per/sort/order of one list, parsed and checked."""

    page: int
    per: int
    sort: str
    desc: bool
    params: dict[str, str]          # the list's other (filter) parameters, for links

    def order_by(self, columns: Mapping[str, Any]) -> list:
        column = columns[self.sort]
        return [column.desc() if self.desc else column.asc()]

    def url(self, endpoint_url: str, **changes: Any) -> str:
        values = {**self.params, "page": self.page, "per": self.per, "sort": self.sort,
                  "order": "desc" if self.desc else "asc", **changes}
        clean = {k: v for k, v in values.items() if v not in (None, "")}
        return f"{endpoint_url}?{urlencode(clean)}"

    def sort_url(self, endpoint_url: str, column: str) -> str:
        desc = not self.desc if column == self.sort else False
        return self.url(endpoint_url, sort=column, order="desc" if desc else "asc", page=1)


def listing(args: Mapping[str, str], sorts: tuple[str, ...], default_sort: str,
            default_desc: bool = False, **params: str) -> Listing:
    sort = choice(args, "sort", sorts, default_sort)
    order = choice(args, "order", ("asc", "desc"), "desc" if default_desc else "asc")
    return Listing(page=_int(args, "page", 1, 1, PAGE_MAX),
                   per=_int(args, "per", PER_DEFAULT, 1, PER_MAX),
                   sort=sort, desc=order == "desc", params=params)


@dataclass(frozen=True)
class Page:
    items: list
    total: int
    page: int
    per: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.total, self.page * self.per)


def paginate(query, count_query, lst: Listing, *, scalars: bool = True) -> Page:
    """Run one page of `query` (already filtered and ordered) and its count."""
    total = db.session.scalar(count_query) or 0
    paged = query.limit(lst.per).offset((lst.page - 1) * lst.per)
    items = list(db.session.scalars(paged) if scalars else db.session.execute(paged))
    return Page(items, total, lst.page, lst.per)


def parse_time(args: Mapping[str, str], name: str, *, end: bool = False) -> dt.datetime | None:
    """YYYY-MM-DD or an ISO 8601 date-time (without a zone: UTC). With `end`, the
    exclusive upper bound that includes the whole day (or minute) named."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = dt.date.fromisoformat(raw)
            value = dt.datetime.combine(day, dt.time.min, dt.timezone.utc)
            return value + dt.timedelta(days=1) if end else value
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "T"))
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        value = value.astimezone(dt.timezone.utc)
        if end:  # through the moment named, and the rest of its minute when no seconds were given
            value += dt.timedelta(minutes=1) if len(raw) <= 16 else dt.timedelta(microseconds=1)
    except ValueError:
        raise BadParam(f"“{name}” is not a date (YYYY-MM-DD) or a date and time "
                       f"(YYYY-MM-DDTHH:MM, UTC): “{raw[:40]}”.") from None
    except OverflowError:  # 9999-12-31 as an end: the day after does not exist
        raise BadParam(f"“{name}” is out of range: use a date before 9999-12-31.") from None
    return value
