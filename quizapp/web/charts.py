"""Chart geometry for server-drawn SVG: the templates draw, this module only computes positions.

Charts are drawn on the server so they need no JavaScript library and no CDN, and the
numbers behind each chart are also given to templates as a table for screen readers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

WIDTH = 640
HEIGHT = 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 16, 14, 34


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    plot: tuple[int, int, int, int] = (PAD_LEFT, PAD_TOP, WIDTH - PAD_RIGHT, HEIGHT - PAD_BOTTOM)
    series: list[dict] = field(default_factory=list)  # {name, css, points: [(x, y)], path}
    y_ticks: list[tuple[float, str]] = field(default_factory=list)  # (y pixel, label)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    bars: list[dict] = field(default_factory=list)  # {x, y, w, h, css, label}
    bands: list[dict] = field(default_factory=list)  # shaded horizontal ranges
    empty: bool = False
    y_decades: tuple[int, int] | None = None  # log charts: the y axis, 10^low to 10^high


def _scale(value: float, low: float, high: float, out_low: float, out_high: float) -> float:
    if high == low:
        return (out_low + out_high) / 2
    return out_low + (value - low) * (out_high - out_low) / (high - low)


def _path(points: list[tuple[float, float]]) -> str:
    return " ".join(
        f"{'M' if index == 0 else 'L'}{x:.1f},{y:.1f}" for index, (x, y) in enumerate(points)
    )


def accuracy_chart(series: list[tuple[date, float, int]]) -> Chart:
    """Daily accuracy (0–100 %) as a line with a dot per day."""
    chart = Chart()
    left, top, right, bottom = chart.plot
    if not series:
        chart.empty = True
        return chart
    first, last = series[0][0].toordinal(), series[-1][0].toordinal()
    points = [
        (_scale(day.toordinal(), first, last, left, right), _scale(acc, 0, 1, bottom, top))
        for day, acc, _ in series
    ]
    chart.series.append({"name": "accuracy", "css": "line-accuracy", "points": points,
                         "path": _path(points)})  # fmt: skip
    chart.y_ticks = [(_scale(v, 0, 1, bottom, top), f"{int(v * 100)}%") for v in (0, 0.5, 1)]
    step = max(1, len(series) // 6)
    chart.x_ticks = [
        (points[i][0], series[i][0].strftime("%d %b")) for i in range(0, len(series), step)
    ]
    return chart


def log_line_chart(
    named_series: dict[str, list[float | None]],
    css: dict[str, str],
    healthy_band: tuple[float, float] | None = None,
    x_label_every: int | None = None,
    y_decades: tuple[int, int] | None = None,
) -> Chart:
    """Several per-layer series on a log-10 y axis; None and non-positive values leave gaps.

    `y_decades` widens the axis to at least that range (charts compared side by side share one).
    """
    chart = Chart()
    left, top, right, bottom = chart.plot
    values = [v for series in named_series.values() for v in series if v is not None and v > 0]
    if not values:
        chart.empty = True
        return chart
    low = math.floor(math.log10(min(values)))
    high = math.ceil(math.log10(max(values)))
    if healthy_band:
        low = min(low, math.floor(math.log10(healthy_band[0])))
        high = max(high, math.ceil(math.log10(healthy_band[1])))
    if y_decades:
        low, high = min(low, y_decades[0]), max(high, y_decades[1])
    if high == low:
        high += 1
    chart.y_decades = (low, high)
    length = max(len(series) for series in named_series.values())
    for name, series in named_series.items():
        points = [
            (
                _scale(i, 0, max(1, length - 1), left, right),
                _scale(math.log10(v), low, high, bottom, top),
            )
            for i, v in enumerate(series)
            if v is not None and v > 0
        ]
        chart.series.append({"name": name, "css": css.get(name, ""), "points": points,
                             "path": _path(points)})  # fmt: skip
    span = high - low
    stride = max(1, math.ceil(span / 6))
    chart.y_ticks = [
        (_scale(exponent, low, high, bottom, top), f"1e{exponent}")
        for exponent in range(low, high + 1, stride)
    ]
    every = x_label_every or max(1, length // 10)
    chart.x_ticks = [
        (_scale(i, 0, max(1, length - 1), left, right), str(i)) for i in range(0, length, every)
    ]
    if healthy_band:
        y_high = _scale(math.log10(healthy_band[1]), low, high, bottom, top)
        y_low = _scale(math.log10(healthy_band[0]), low, high, bottom, top)
        chart.bands.append({"y": y_high, "h": y_low - y_high, "css": "band-healthy"})
    return chart
