"""Fitting a learner's FSRS parameters: runs in a worker process (the optimizer uses torch).

The payload is plain JSON: {"reviews": [[card, unix_ms, rating, duration_ms|None], ...],
"current": [weights] | None}. The result holds the fitted weights, log loss and RMSE before
and after on the same history, and the recommended desired retention.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from quizapp.domain.memory import (
    MIN_REVIEWS_TO_OPTIMISE,
    Review,
    score_parameters,
    spaced_review_count,
)
from quizapp.domain.scheduling import check_parameters

# The retention search simulates with review durations; as py-fsrs's, it needs this many.
MIN_REVIEWS_FOR_RETENTION = 512


class FitRefused(ValueError):
    """The history cannot be fitted (too few reviews, bad payload); never worth a retry."""


def reviews_from_payload(payload: dict[str, Any]) -> list[Review]:
    try:
        reviews = [
            Review(str(card), datetime.fromtimestamp(ms / 1000, UTC), int(rating), duration)
            for card, ms, rating, duration in payload["reviews"]
        ]
    except (KeyError, TypeError, ValueError, OverflowError, OSError) as error:
        raise FitRefused(f"malformed review history: {error!r}") from None
    for review in reviews:
        if review.rating not in (1, 2, 3, 4):
            raise FitRefused(f"malformed review history: rating {review.rating} is not 1-4")
    return reviews


def fit_schedule(payload: dict[str, Any]) -> dict[str, Any]:
    """Fit FSRS weights to the history in `payload` and score them against the current ones."""
    from fsrs.scheduler import DEFAULT_PARAMETERS

    from quizapp.jobs import fsrs_optimizer

    reviews = reviews_from_payload(payload)
    spaced = spaced_review_count(reviews)
    if spaced < MIN_REVIEWS_TO_OPTIMISE:
        raise FitRefused(
            f"{spaced} reviews made a day or more after the previous one; "
            f"at least {MIN_REVIEWS_TO_OPTIMISE} are needed"
        )
    current = check_parameters(payload.get("current") or DEFAULT_PARAMETERS)
    rows = [(r.card, round(r.at.timestamp() * 1000), r.rating, r.duration_ms) for r in reviews]
    fitted = fsrs_optimizer.compute_optimal_parameters(fsrs_optimizer.histories(rows))
    before = score_parameters(reviews, current)
    after = score_parameters(reviews, fitted)
    if not math.isfinite(after.log_loss) or after.log_loss > before.log_loss:
        # The optimizer keeps its best epoch, but on the learner's full history the current
        # weights can still win; then they stay (a fit must never make predictions worse).
        fitted, after = list(current), before
    retention = None
    timed = [row for row in rows if row[3] is not None]
    if len(timed) >= MIN_REVIEWS_FOR_RETENTION:
        retention = fsrs_optimizer.compute_optimal_retention(fitted, timed)
    return {
        "parameters": fitted,
        "review_count": len(reviews),
        "scored_reviews": after.reviews,
        "log_loss_before": before.log_loss,
        "log_loss_after": after.log_loss,
        "rmse_before": before.rmse,
        "rmse_after": after.rmse,
        "recommended_retention": retention,
    }
