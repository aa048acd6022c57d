"""Spaced-repetition scheduling with FSRS (the `fsrs` package).

A learner's card is stored as the JSON dict in `ReviewOutcome.state`; pass it back in on
the next review. All datetimes are timezone-aware UTC and the caller supplies `now`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fsrs import Card, Rating, Scheduler, State

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
) -> ReviewOutcome:
    """Review a card (None for a card never seen) with `rating` at `now` and reschedule it."""
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
    # No fuzzing: the same history must always give the same schedule.
    scheduler = Scheduler(desired_retention=desired_retention, enable_fuzzing=False)
    card, log = scheduler.review_card(card, _FSRS_RATINGS[rating], review_datetime=now)
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
