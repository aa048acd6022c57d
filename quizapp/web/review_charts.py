"""Geometry of the review charts (due forecast bars, activity calendar); templates draw them."""

from __future__ import annotations

from datetime import date

from quizapp.domain.memory import CalendarDay
from quizapp.web.charts import Chart

CELL = 12  # calendar square plus gap, in SVG units
CALENDAR_LEFT, CALENDAR_TOP = 28, 16


def _scale(value: float, peak: float, bottom: float, top: float) -> float:
    return bottom - (value / peak) * (bottom - top) if peak else bottom


def forecast_chart(forecast: list[tuple[date, int]]) -> Chart:
    """Bars of cards due per day for the next 30 days, today first."""
    chart = Chart()
    left, top, right, bottom = chart.plot
    if not forecast or not any(count for _, count in forecast):
        chart.empty = True
        return chart
    peak = max(count for _, count in forecast)
    slot = (right - left) / len(forecast)
    for index, (day, count) in enumerate(forecast):
        y = _scale(count, peak, bottom, top)
        chart.bars.append({"x": left + index * slot + 1, "y": y, "w": max(1.0, slot - 2),
                           "h": bottom - y, "css": "forecast-bar",
                           "label": f"{day.strftime('%a %d %b')}: {count} due"})  # fmt: skip
    ticks = sorted({0, peak // 2, peak})
    chart.y_ticks = [(_scale(v, peak, bottom, top), str(v)) for v in ticks]
    chart.x_ticks = [
        (left + (i + 0.5) * slot, "today" if i == 0 else forecast[i][0].strftime("%d %b"))
        for i in range(0, len(forecast), 7)
    ]
    return chart


def calendar_cells(weeks: list[list[CalendarDay]]) -> dict:
    """Positions of the calendar's squares and month labels."""
    cells, months = [], []
    last_month = None
    for column, week in enumerate(weeks):
        for row, day in enumerate(week):
            cells.append({"x": CALENDAR_LEFT + column * CELL, "y": CALENDAR_TOP + row * CELL,
                          "day": day})  # fmt: skip
        first = week[0].day
        if first.month != last_month:
            months.append({"x": CALENDAR_LEFT + column * CELL, "label": first.strftime("%b")})
            last_month = first.month
    width = CALENDAR_LEFT + len(weeks) * CELL + 4
    return {"cells": cells, "months": months[1:] if len(months) > 12 else months,
            "width": width, "height": CALENDAR_TOP + 7 * CELL + 4, "size": CELL - 2}  # fmt: skip
