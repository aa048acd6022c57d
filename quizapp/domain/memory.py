"""What the learner's memory looks like: forecast, activity calendar, fit quality, queue order.

Pure functions over plain values; the services feed them rows and a clock.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar

from fsrs import Card, Rating

from quizapp.domain.scheduling import scheduler_for

# py-fsrs's optimizer keeps its defaults below this many reviews made a day or more after
# the card's previous review (its mini-batch size): fitting on fewer would change nothing.
MIN_REVIEWS_TO_OPTIMISE = 512
RMSE_BINS = 20
FORECAST_DAYS = 30
CALENDAR_WEEKS = 53

T = TypeVar("T")


@dataclass(frozen=True)
class Review:
    """One review of one card for fitting and scoring: when, and the 1–4 rating."""

    card: Hashable
    at: datetime
    rating: int
    duration_ms: int | None = None


@dataclass(frozen=True)
class FitScore:
    log_loss: float
    rmse: float
    reviews: int  # the reviews scored: those a day or more after the card's previous one


def spaced_review_count(reviews: Iterable[Review]) -> int:
    """Reviews made at least a day after the same card's previous review (what FSRS fits on)."""
    last: dict[Hashable, datetime] = {}
    count = 0
    for review in sorted(reviews, key=lambda r: (r.at, str(r.card))):
        previous = last.get(review.card)
        if previous is not None and (review.at - previous).days > 0:
            count += 1
        last[review.card] = review.at
    return count


def score_parameters(reviews: Sequence[Review], parameters: Sequence[float]) -> FitScore:
    """Log loss and RMSE (bins) of FSRS's predicted recall against what the learner recalled.

    Replays each card's history with the weights, as the FSRS optimizer does: the prediction
    before each review at least a day after the previous one is scored against recall
    (any rating but Again). RMSE (bins): predictions grouped into 20 equal bins by predicted
    recall, the root of the count-weighted mean squared gap between mean prediction and mean
    recall in each bin.
    """
    scheduler = scheduler_for(0.9, tuple(float(p) for p in parameters))
    by_card: dict[Hashable, list[Review]] = defaultdict(list)
    for review in reviews:
        by_card[review.card].append(review)
    pairs: list[tuple[float, int]] = []
    for history in by_card.values():
        history.sort(key=lambda r: r.at)
        card = None
        for review in history:
            if card is None:
                card = Card(card_id=1, due=review.at)
            elif card.last_review is not None and (review.at - card.last_review).days > 0:
                predicted = float(scheduler.get_card_retrievability(card, review.at))
                pairs.append((predicted, 0 if review.rating == 1 else 1))
            card, _ = scheduler.review_card(card, Rating(review.rating), review.at)
    if not pairs:
        return FitScore(math.nan, math.nan, 0)
    eps = 1e-7
    loss = -sum(
        y * math.log(max(p, eps)) + (1 - y) * math.log(max(1 - p, eps)) for p, y in pairs
    ) / len(pairs)
    bins: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for p, y in pairs:
        bins[min(RMSE_BINS - 1, int(p * RMSE_BINS))].append((p, y))
    squared = sum(
        len(members)
        * (sum(p for p, _ in members) / len(members) - sum(y for _, y in members) / len(members))
        ** 2
        for members in bins.values()
    )
    return FitScore(loss, math.sqrt(squared / len(pairs)), len(pairs))


def due_forecast(
    due_dates: Iterable[datetime], today: date, days: int = FORECAST_DAYS
) -> list[tuple[date, int]]:
    """Cards due on each of the next `days` days; anything overdue counts on today."""
    counts = [0] * days
    for due in due_dates:
        offset = max(0, (due.date() - today).days)
        if offset < days:
            counts[offset] += 1
    return [(today + timedelta(days=i), count) for i, count in enumerate(counts)]


@dataclass(frozen=True)
class CalendarDay:
    day: date
    answers: int
    level: int  # 0 none .. 4 most, for the colour scale
    in_range: bool


def activity_calendar(
    answers_per_day: dict[date, int], today: date, weeks: int = CALENDAR_WEEKS
) -> list[list[CalendarDay]]:
    """A year of days as weeks (Monday first) ending with today's week, each day levelled 0–4.

    Levels are quarters of the busiest day's count (any answer is at least level 1), so
    a light and a heavy learner both see the full scale.
    """
    start = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
    first = today - timedelta(days=365)
    peak = max((count for day, count in answers_per_day.items() if first < day <= today), default=0)

    def level(count: int) -> int:
        return 0 if count <= 0 or peak <= 0 else max(1, math.ceil(4 * count / peak))

    columns = []
    for week in range(weeks):
        column = []
        for weekday in range(7):
            day = start + timedelta(days=7 * week + weekday)
            count = answers_per_day.get(day, 0)
            column.append(CalendarDay(day, count, level(count), first < day <= today))
        columns.append(column)
    return columns


def interleave_by_topic(items: Sequence[T], topic_of) -> list[T]:
    """Round-robin over topics (in order of first appearance), keeping each topic's order."""
    queues: dict[Hashable, list[T]] = {}
    for item in items:
        queues.setdefault(topic_of(item), []).append(item)
    ordered: list[T] = []
    lists = list(queues.values())
    position = 0
    while len(ordered) < len(items):
        for queue in lists:
            if position < len(queue):
                ordered.append(queue[position])
        position += 1
    return ordered
