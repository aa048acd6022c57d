"""Exercise cards: an exercise taking part in review directly, "run it again and predict".

A learner's recorded run of an exercise rates the exercise's own card (made on the first
run), as an answer rates a question's card, and the card keeps the run's choices. When it
comes due, the review session shows it: the configuration, a prediction of its verdict, then
the recorded result of that configuration (or a run of it), rated Again–Easy like a question.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm.exc import StaleDataError

from quizapp.domain.exercises import (
    InvalidChoice,
    build_config,
    choice_title,
    prediction_correct,
)
from quizapp.domain.grading import Grade
from quizapp.domain.scheduling import RATING_NAMES, rating_for_grade
from quizapp.extensions import db
from quizapp.jobs import cache_key
from quizapp.models import Exercise, ExerciseCard, ReviewLog, SimResult, SimRun, User
from quizapp.models.base import utcnow
from quizapp.services.errors import Conflict, NotFound
from quizapp.services.learning import (
    UPDATE_RETRIES,
    RatingResult,
    _elapsed,
    apply_rating,
    commit_keeping_loaded,
    current_parameters,
    rating_name,
)
from quizapp.sim import SIMULATOR_VERSION, SimConfigError, validate_config

_CARD = select(ExerciseCard).where(
    ExerciseCard.user_id == bindparam("user_id"),
    ExerciseCard.exercise_id == bindparam("exercise_id"),
)
_CARD_FOR_UPDATE = _CARD.with_for_update()


def _card(user: User, exercise: Exercise, for_update: bool = False) -> ExerciseCard | None:
    return db.session.scalar(
        _CARD_FOR_UPDATE if for_update else _CARD,
        {"user_id": user.id, "exercise_id": exercise.id},
    )


def record_run(user: User, exercise: Exercise, run: SimRun, grade: Grade, now: datetime):
    """A finished run of the exercise rates its card (no commit), as an answer rates its
    question's: Good when it passed, Again when not. The card keeps the run's choices.

    `now` is the run's finished_at: the rating is logged at that very moment, which is how
    `rating_by_run` finds it again."""
    card, _ = apply_rating(
        user,
        _card(user, exercise, for_update=True),
        lambda: ExerciseCard(user_id=user.id, exercise_id=exercise.id, reviews=0, lapses=0),
        rating_for_grade(grade, None),
        None,
        now,
        leeches=False,  # the exercise is what a leech is offered, not one itself
        exercise_id=exercise.id,
    )
    card.choices = run.choices
    return card


_RATING_BY_RUN = select(ReviewLog).where(
    ReviewLog.user_id == bindparam("user_id"),
    ReviewLog.exercise_id == bindparam("exercise_id"),
    ReviewLog.reviewed_at == bindparam("finished_at"),
    ReviewLog.source == "app",
)


def rating_by_run(user: User, run: SimRun) -> ReviewLog | None:
    """The rating the learner's finished exercise run gave the exercise's card (None: a lab
    run, not finished, failed, another learner's, or its rating undone since)."""
    if run.exercise_id is None or run.user_id != user.id or run.status != "done":
        return None
    return db.session.scalar(
        _RATING_BY_RUN,
        {"user_id": user.id, "exercise_id": run.exercise_id, "finished_at": run.finished_at},
    )


def exercise_card(user: User, exercise: Exercise) -> ExerciseCard:
    card = _card(user, exercise)
    if card is None:
        raise NotFound(f"'{exercise.title}' is not in your review yet: run it once first.")
    return card


def described_choices(exercise: Exercise, choices: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The card's configuration as (choice, option label) pairs, in the exercise's order."""
    described = []
    for name, options in exercise.choices.items():
        if choices is None:  # a card imported from a review log: no run of it here yet
            label = "not chosen yet"
        else:
            value = choices.get(name)
            label = next((o["label"] for o in options if o["value"] == value), str(value))
        described.append((choice_title(name), label))
    return described


@dataclass(frozen=True)
class ExerciseReveal:
    """An exercise card turned over: the recorded result of its configuration, if any, and
    whether the learner's prediction of it was right."""

    exercise: Exercise
    card: ExerciseCard
    prediction: str | None
    verdict: str | None  # None: this configuration has no recorded result (run it)
    correct: bool | None
    suggested: str | None
    options: list  # services.review.RatingOption
    feedback_html: str | None


def recorded_verdict(exercise: Exercise, choices: dict[str, Any] | None) -> str | None:
    """The verdict stored for this configuration of the exercise (None if never run, or its
    choices are no longer offered)."""
    try:
        config = validate_config(build_config(exercise.network, exercise.choices, choices or {}))
    except (InvalidChoice, SimConfigError):
        return None
    stored = db.session.get(SimResult, cache_key(config, SIMULATOR_VERSION))
    return stored.result.get("verdict") if stored is not None else None


def reveal_exercise(
    user: User, exercise: Exercise, prediction: Any, now: datetime | None = None
) -> ExerciseReveal:
    from quizapp.services.review import rating_options
    from quizapp.services.simulations import check_prediction

    now = now or utcnow()
    card = exercise_card(user, exercise)
    prediction = check_prediction(prediction)
    verdict = recorded_verdict(exercise, card.choices)
    correct = prediction_correct(prediction, verdict) if verdict is not None else None
    return ExerciseReveal(
        exercise=exercise,
        card=card,
        prediction=prediction,
        verdict=verdict,
        correct=correct,
        suggested=None if correct is None else ("good" if correct else "again"),
        options=rating_options(user, card, now, current_parameters(user)),
        feedback_html=exercise.feedback_html.get(verdict) if verdict else None,
    )


def rate_exercise(
    user: User,
    exercise: Exercise,
    rating: Any,
    *,
    elapsed_ms: Any = None,
    card_version: Any = None,
    now: datetime | None = None,
) -> RatingResult:
    """Record the learner's 1–4 rating of an exercise card. `card_version`, the version the
    form showed, makes a form sent twice rate once: the second finds the card moved on."""
    rating = rating_name(rating)
    elapsed = _elapsed(elapsed_ms)
    now = now or utcnow()
    for _ in range(UPDATE_RETRIES):
        try:
            card = _card(user, exercise, for_update=True)
            if card is None:
                raise NotFound(f"'{exercise.title}' is not in your review yet: run it once first.")
            if card_version not in (None, "") and str(card_version) != str(card.version):
                log = db.session.scalar(
                    select(ReviewLog)
                    .where(ReviewLog.user_id == user.id, ReviewLog.exercise_id == exercise.id)
                    .order_by(ReviewLog.id.desc())
                    .limit(1)
                )
                if log is None:
                    raise Conflict("This card changed since it was shown; rate it again.")
                # Rated since it was shown (this form sent twice, or a run of the exercise
                # started from the card): that rating is its review, not a second one.
                return RatingResult(log, card, RATING_NAMES[log.rating], duplicate=True)
            card, log = apply_rating(
                user, card, None, rating, elapsed, now, leeches=False, exercise_id=exercise.id
            )
            commit_keeping_loaded()
            return RatingResult(log, card, rating)
        except StaleDataError:
            db.session.rollback()
    raise Conflict("This card is being updated elsewhere; please rate it again.")
