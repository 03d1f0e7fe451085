"""Small charts drawn on the server: the geometry of bars, rendered as inline SVG by
templates/admin/_charts.html (no chart library, no script, nothing fetched at run time).

A chart keeps its values and their labels too, so the page can offer the same numbers as a
table (for screen readers and for copying).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

Number = float | int


@dataclass(frozen=True)
class Bar:
    label: str
    value: Number | None        # None: no data (drawn as nothing, listed as "—")
    text: str                   # the value as people read it
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    bars: tuple[Bar, ...]
    top: str                    # the scale's largest value, as text
    horizontal: bool
    label_width: int = 0

    @property
    def empty(self) -> bool:
        return not any(b.value for b in self.bars)


def _fmt(value: Number) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def columns(title: str, points: Sequence[tuple[str, Number | None]], *, width: int = 480,
            height: int = 120, fmt: Callable[[Number], str] = _fmt) -> Chart:
    """Vertical bars, one per point (e.g. per day), scaled to the largest value."""
    top = max((v for _, v in points if v), default=0)
    slot = width / max(len(points), 1)
    bars = []
    for i, (label, value) in enumerate(points):
        h = (value or 0) / top * (height - 2) if top else 0
        bars.append(Bar(label, value, "—" if value is None else fmt(value),
                        x=round(i * slot + slot * 0.1, 2), y=round(height - h, 2),
                        width=round(slot * 0.8, 2), height=round(h, 2)))
    return Chart(title, width, height, tuple(bars), fmt(top) if top else "0", horizontal=False)


def rows(title: str, points: Sequence[tuple[str, Number]], *, width: int = 480, row: int = 22,
         label_width: int = 150, fmt: Callable[[Number], str] = _fmt) -> Chart:
    """Horizontal bars, one per category (e.g. per state or per person), scaled to the largest."""
    top = max((v for _, v in points if v), default=0)
    room = width - label_width - 70  # the value is written after the bar
    bars = tuple(Bar(label, value, fmt(value), x=label_width, y=i * row + 3,
                     width=round(value / top * room, 2) if top and value else 0, height=row - 6)
                 for i, (label, value) in enumerate(points))
    return Chart(title, width, max(len(points), 1) * row, bars, fmt(top) if top else "0",
                 horizontal=True, label_width=label_width)
