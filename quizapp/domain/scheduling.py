"""Spaced-repetition scheduling with FSRS (the `fsrs` package).

A learner's card is stored as the JSON dict in `ReviewOutcome.state`; pass it back in on
the next review. All datetimes are timezone-aware UTC and the caller supplies `now`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from fsrs import Card, Rating, Scheduler, State
from fsrs.scheduler import DEFAULT_PARAMETERS, LOWER_BOUNDS_PARAMETERS, UPPER_BOUNDS_PARAMETERS

from quizapp.domain.grading import SELF_RATINGS, Grade

# The ratings a learner gives a self-rated check are FSRS ratings, one vocabulary for both.
RATINGS = SELF_RATINGS
MIN_DESIRED_RETENTION = 0.7
MAX_DESIRED_RETENTION = 0.99

_FSRS_RATINGS = {
    "again": Rating.Again,
    "hard": Rating.Hard,
    "good": Rating.Good,
    "easy": Rating.Easy,
}
# The FSRS benchmark's numbers for ratings and card states (review_rating, review_state).
RATING_NUMBERS = {"again": 1, "hard": 2, "good": 3, "easy": 4}
RATING_NAMES = {number: name for name, number in RATING_NUMBERS.items()}
STATE_NUMBERS = {"new": 0, "learning": 1, "review": 2, "relearning": 3}
PARAMETER_COUNT = len(DEFAULT_PARAMETERS)
_STATE_NAMES = {
    State.Learning: "learning",
    State.Review: "review",
    State.Relearning: "relearning",
}


@dataclass(frozen=True)
class ReviewOutcome:
    """A card after one review: the state to store, when it is next due and the review log."""

    state: dict[str, Any]
    due: datetime
    stability: float | None
    difficulty: float | None
    fsrs_state: str
    review_log: dict[str, Any]


def rating_for_grade(
    grade: Grade, elapsed_seconds: float | None, slow_after_seconds: float = 60.0
) -> str:
    """Turn an automatic grade into an FSRS rating: wrong "again", right "good", slow "hard".

    Partial credit counts as wrong. A right answer that needed a hint or a second try is
    "hard". A self-rated grade keeps the learner's rating.
    """
    if grade.rating is not None:
        return grade.rating
    if not grade.correct:
        return "again"
    if grade.hints_used or grade.tries_used > 1:
        return "hard"
    if elapsed_seconds is not None and elapsed_seconds > slow_after_seconds:
        return "hard"
    return "good"


def schedule_review(
    state: Mapping[str, Any] | None,
    rating: str,
    now: datetime,
    desired_retention: float = 0.9,
    parameters: Sequence[float] | None = None,
    duration_ms: int | None = None,
) -> ReviewOutcome:
    """Review a card (None for a card never seen) with `rating` at `now` and reschedule it.

    `parameters` are the learner's fitted FSRS weights (None: FSRS's defaults).
    """
    now = _as_utc(now, "now")
    if rating not in _FSRS_RATINGS:
        raise ValueError(f"unknown rating {rating!r}; expected one of {', '.join(RATINGS)}")
    if not MIN_DESIRED_RETENTION <= desired_retention <= MAX_DESIRED_RETENTION:
        raise ValueError(
            f"desired_retention must be between {MIN_DESIRED_RETENTION} and "
            f"{MAX_DESIRED_RETENTION}, not {desired_retention}"
        )
    card = _card_from_state(state)
    if card is None:
        # Card() would read the clock for its id and due date; derive both from `now`.
        card = Card(card_id=int(now.timestamp() * 1000), due=now)
    scheduler = scheduler_for(desired_retention, _parameters(parameters))
    card, log = scheduler.review_card(
        card, _FSRS_RATINGS[rating], review_datetime=now, review_duration=duration_ms
    )
    return ReviewOutcome(
        state=dict(card.to_dict()),
        due=card.due,
        stability=card.stability,
        difficulty=card.difficulty,
        fsrs_state=_STATE_NAMES[card.state],
        review_log=dict(log.to_dict()),
    )


def due_at(state: Mapping[str, Any] | None) -> datetime | None:
    """When a stored card is next due (UTC), or None for a card never reviewed."""
    card = _card_from_state(state)
    return None if card is None else card.due


def is_due(state: Mapping[str, Any] | None, now: datetime) -> bool:
    """Whether a card should be reviewed at `now`; a card never reviewed is always due."""
    now = _as_utc(now, "now")
    due = due_at(state)
    return due is None or due <= now


def _as_utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware UTC datetime, got naive {moment}")
    # fsrs insists on tzinfo being exactly timezone.utc, not merely an offset of zero.
    return moment.astimezone(UTC)


def _card_from_state(state: Mapping[str, Any] | None) -> Card | None:
    if state is None:
        return None
    try:
        card = Card.from_dict(dict(state))  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"stored review state is malformed: {error!r}") from None
    card.due = _as_utc(card.due, "stored due date")
    if card.last_review is not None:
        card.last_review = _as_utc(card.last_review, "stored last review")
    return card


def check_parameters(parameters: Sequence[float]) -> tuple[float, ...]:
    """FSRS weights as a tuple; ValueError naming the first one out of FSRS's bounds."""
    values = tuple(float(value) for value in parameters)
    if len(values) != PARAMETER_COUNT:
        raise ValueError(f"expected {PARAMETER_COUNT} FSRS parameters, got {len(values)}")
    for index, (value, low, high) in enumerate(
        zip(values, LOWER_BOUNDS_PARAMETERS, UPPER_BOUNDS_PARAMETERS, strict=True)
    ):
        if not low <= value <= high:
            raise ValueError(f"parameter {index} = {value} is outside [{low}, {high}]")
    return values


def _parameters(parameters: Sequence[float] | None) -> tuple[float, ...]:
    return DEFAULT_PARAMETERS if parameters is None else tuple(parameters)


@lru_cache(maxsize=64)
def scheduler_for(desired_retention: float, parameters: tuple[float, ...]) -> Scheduler:
    # No fuzzing: the same history must always give the same schedule. Schedulers are
    # immutable in use, so one per (retention, weights) is shared: a rating stays cheap.
    return Scheduler(
        parameters=parameters, desired_retention=desired_retention, enable_fuzzing=False
    )


def preview_intervals(
    state: Mapping[str, Any] | None,
    now: datetime,
    desired_retention: float = 0.9,
    parameters: Sequence[float] | None = None,
) -> dict[str, timedelta]:
    """For each rating, how long until the card would next be due if rated so at `now`."""
    now = _as_utc(now, "now")
    return {
        rating: schedule_review(state, rating, now, desired_retention, parameters).due - now
        for rating in RATINGS
    }


def format_interval(interval: timedelta) -> str:
    """A next-review interval as Anki shows it on its buttons: "10 min", "3 h", "3 d", "2.1 mo"."""
    seconds = max(0.0, interval.total_seconds())
    if seconds < 60:
        return "< 1 min"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    if seconds < 86400:
        return f"{round(seconds / 3600)} h"
    days = seconds / 86400
    if days < 30:
        return f"{round(days)} d"
    if days < 365:
        return f"{days / 30:.1f} mo"
    return f"{days / 365:.1f} y"


def retrievability(
    state: Mapping[str, Any] | None,
    now: datetime,
    parameters: Sequence[float] | None = None,
) -> float | None:
    """The probability of recalling the card at `now` (None for a card never reviewed)."""
    card = _card_from_state(state)
    if card is None or card.last_review is None or card.stability is None:
        return None
    scheduler = scheduler_for(0.9, _parameters(parameters))
    return float(scheduler.get_card_retrievability(card, _as_utc(now, "now")))


def review_state_number(state: Mapping[str, Any] | None) -> int:
    """The card's state before a review, as the FSRS benchmark numbers it (0 for new)."""
    card = _card_from_state(state)
    if card is None:
        return STATE_NUMBERS["new"]
    return STATE_NUMBERS[_STATE_NAMES[card.state]]


def elapsed_days(last_review: datetime | None, now: datetime) -> float:
    """Days since the card's previous review, -1 for its first (the benchmark's convention)."""
    if last_review is None:
        return -1.0
    return round((now - last_review).total_seconds() / 86400, 4)
