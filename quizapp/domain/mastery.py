"""Mastery levels for questions and topics, accuracy over time and activity streaks.

A question's level comes from its FSRS stability (how many days the memory is expected
to last) and its recent accuracy, the mean score of its last five attempts at most:

- **Not started**: no attempts yet.
- **Attempted**: attempted, but recent accuracy is below 60% or stability is under 1 day.
- **Familiar**: stability of at least 1 day and recent accuracy of at least 60%.
- **Proficient**: stability of at least 7 days and recent accuracy of at least 80%.
- **Mastered**: stability of at least 30 days and recent accuracy of at least 90%.

A question gets the highest level whose two conditions it meets. A topic's level is the
median level of its questions, counting questions not started, and rounding down when
there is an even number: the highest level that more than half of its questions reach. A
topic with any question attempted is at least Attempted (else "Not started" would stand
beside "answered 1/35" on the dashboard).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta

MASTERY_LEVELS = ("not_started", "attempted", "familiar", "proficient", "mastered")
MASTERY_LABELS = {
    "not_started": "Not started",
    "attempted": "Attempted",
    "familiar": "Familiar",
    "proficient": "Proficient",
    "mastered": "Mastered",
}
RECENT_ATTEMPTS = 5

# (level, minimum stability in days, minimum recent accuracy), highest level first.
_THRESHOLDS = (
    ("mastered", 30.0, 0.9),
    ("proficient", 7.0, 0.8),
    ("familiar", 1.0, 0.6),
)
# Means of scores such as 0.8 drift by one ulp; a learner exactly at a threshold meets it.
_SLACK = 1e-9


def mastery_level(stability_days: float | None, recent_scores: Sequence[float]) -> str:
    """The mastery level of one question; `recent_scores` run oldest to newest, each 0..1."""
    if not recent_scores:
        return "not_started"
    if any(not 0.0 <= score <= 1.0 for score in recent_scores):
        raise ValueError(f"scores must be between 0 and 1, got {list(recent_scores)}")
    recent = list(recent_scores)[-RECENT_ATTEMPTS:]
    accuracy = math.fsum(recent) / len(recent)
    stability = stability_days or 0.0
    for level, min_stability, min_accuracy in _THRESHOLDS:
        if stability >= min_stability - _SLACK and accuracy >= min_accuracy - _SLACK:
            return level
    return "attempted"


def topic_mastery(levels: Sequence[str]) -> str:
    """A topic's level: the median of its questions' levels, rounding down on a tie, and at
    least Attempted once any of them is."""
    if not levels:
        return "not_started"
    ranks = sorted(_rank(level) for level in levels)
    median = ranks[(len(ranks) - 1) // 2]
    return MASTERY_LEVELS[max(median, min(ranks[-1], _rank("attempted")))]


def level_label(level: str) -> str:
    """The display label of a mastery level, e.g. "Not started"."""
    _rank(level)
    return MASTERY_LABELS[level]


def accuracy_series(
    attempts: Sequence[tuple[date, float]],
) -> list[tuple[date, float, int]]:
    """Per-day mean score and number of attempts, oldest day first."""
    scores_by_day: dict[date, list[float]] = defaultdict(list)
    for day, score in attempts:
        scores_by_day[day].append(score)
    return [
        (day, math.fsum(scores) / len(scores), len(scores))
        for day, scores in sorted(scores_by_day.items())
    ]


def current_streak(days_with_activity: set[date], today: date) -> int:
    """Consecutive active days ending today, or ending yesterday if nothing yet today."""
    day = today if today in days_with_activity else today - timedelta(days=1)
    streak = 0
    while day in days_with_activity:
        streak += 1
        day -= timedelta(days=1)
    return streak


def _rank(level: str) -> int:
    try:
        return MASTERY_LEVELS.index(level)
    except ValueError:
        raise ValueError(
            f"unknown mastery level {level!r}; expected one of {', '.join(MASTERY_LEVELS)}"
        ) from None
