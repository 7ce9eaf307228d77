"""Geometry of the dashboard's server-side SVG charts (the CSP allows no inline script; the
templates draw these numbers as <rect>s, and autoescape every label)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

WIDTH = 640
BAR_HEIGHT = 20


@dataclass
class Column:
    x: float
    width: float
    up_y: float
    up_height: float
    down_y: float
    down_height: float
    title: str


@dataclass
class Bar:
    label: str
    y: int
    width: float
    text: str


def timeline(days: list[tuple[dt.date, int, int]], *, height: int = 140) -> dict[str, object]:
    """Stacked columns (down votes under up votes) per day."""
    peak = max((up + down for _, up, down in days), default=0) or 1
    step = WIDTH / max(len(days), 1)
    columns = []
    for i, (day, up, down) in enumerate(days):
        down_h, up_h = height * down / peak, height * up / peak
        columns.append(Column(x=round(i * step + 1, 1), width=round(step - 2, 1),
                              down_y=round(height - down_h, 1), down_height=round(down_h, 1),
                              up_y=round(height - down_h - up_h, 1), up_height=round(up_h, 1),
                              title=f"{day.isoformat()}: {up} up, {down} down"))
    return {"columns": columns, "width": WIDTH, "height": height + 20, "base": height, "peak": peak,
            "first": days[0][0].isoformat() if days else "", "last": days[-1][0].isoformat() if days else ""}


def _bars(rows: list[tuple[str, float, str]]) -> dict[str, object]:
    """Horizontal bars: a grey track of full length, the share of it filled, the text after it."""
    track = WIDTH - 320
    bars = [Bar(label=label, y=i * (BAR_HEIGHT + 6), width=round(max(share, 0.0) * track, 1), text=text)
            for i, (label, share, text) in enumerate(rows)]
    return {"bars": bars, "width": WIDTH, "height": max(len(bars), 1) * (BAR_HEIGHT + 6), "bar_height": BAR_HEIGHT,
            "track": track}


def rate_bars(rates: list[tuple[str, int, int]]) -> dict[str, object]:
    """One bar per value: the share of up votes, labelled "72% up of 25"."""
    return _bars([(value, up / n, f"{100 * up / n:.0f}% up of {n}") for value, up, n in rates if n])


def share_bars(rows: list[tuple[str, int, int]], what: str) -> dict[str, object]:
    """One bar per value: the share of `n` that is `k`, labelled "12% abstained of 50"."""
    return _bars([(value, k / n, f"{100 * k / n:.0f}% {what} of {n}") for value, k, n in rows if n])


def count_bars(counts: list[tuple[str, int]]) -> dict[str, object]:
    peak = max((n for _, n in counts), default=0) or 1
    return _bars([(label, n / peak, str(n)) for label, n in counts])
