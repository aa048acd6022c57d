"""Times as people say them: "in 10 min", "tomorrow", "3 days ago"."""

from __future__ import annotations

from datetime import UTC, datetime

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def describe(when: datetime, now: datetime) -> str:
    """`when` relative to `now`, both timezone-aware; calendar days count in UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - now).total_seconds()
    future = seconds >= 0
    span = abs(seconds)
    if span < MINUTE:
        return "now"
    if span < HOUR:
        amount = f"{round(span / MINUTE)} min"
    elif span < 12 * HOUR:
        hours = round(span / HOUR)
        amount = f"{hours} hour{'' if hours == 1 else 's'}"
    else:
        days = (when.astimezone(UTC).date() - now.astimezone(UTC).date()).days
        if days == 0:
            amount = f"{round(span / HOUR)} hours"
        elif days == 1:
            return "tomorrow"
        elif days == -1:
            return "yesterday"
        elif abs(days) < 30:
            amount = f"{abs(days)} days"
        elif abs(days) < 365:
            months = round(abs(days) / 30)
            amount = f"{months} month{'' if months == 1 else 's'}"
        else:
            years = round(abs(days) / 365)
            amount = f"{years} year{'' if years == 1 else 's'}"
    return f"in {amount}" if future else f"{amount} ago"
