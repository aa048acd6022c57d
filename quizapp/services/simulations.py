"""Simulation runs: start (from the cache when possible), complete, grade, and show them."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from quizapp.domain.exercises import (
    VERDICTS,
    GoalOutcome,
    InvalidChoice,
    all_selections,
    build_config,
    evaluate_goals,
    feedback_key,
    goals_met,
    prediction_correct,
)
from quizapp.domain.grading import Grade
from quizapp.extensions import db
from quizapp.jobs import JobOutcome, QueueFull, cache_key, owners
from quizapp.jobs.backends import backend_for
from quizapp.jobs.completion import BOARD
from quizapp.models import Attempt, Exercise, Question, SimResult, SimRun, User
from quizapp.models.base import utcnow
from quizapp.services.errors import Busy, InvalidInput, NotFound
from quizapp.services.exercise_cards import record_run
from quizapp.services.learning import reschedule_card
from quizapp.services.questions import active_by_slugs, live_or_refused
from quizapp.sim import SIMULATOR_VERSION, SimConfigError, validate_config

log = logging.getLogger(__name__)

# A run still queued this long after it was handed to a live owner (or to one on another
# host, which cannot be checked) is reported lost; a run whose owner is gone is requeued.
LOST_AFTER = timedelta(minutes=5)
RECORD_RETRIES = 5
RECORD_DELAY = 0.002  # seconds
STORE_WAIT = 10.0  # seconds a finished job waits for its run's row to be written
# A Celery worker can finish before the submitting request has stored the run: it looks again.
ROW_APPEARS_WITHIN = 2.0
QUEUE_FULL = "Many simulations are running right now. Please try again in a moment."
RECORD_FAILED = "The result could not be saved because of a conflict. Please run it again."


def get_exercise(slug: str) -> Exercise:
    exercise = db.session.scalar(select(Exercise).where(Exercise.slug == slug))
    return live_or_refused(Exercise, exercise, slug, "exercise")


def list_exercises() -> list[Exercise]:
    return list(
        db.session.scalars(
            select(Exercise).where(Exercise.retired_at.is_(None)).order_by(Exercise.title)
        )
    )


def exercises_for_question(question: Question) -> list[Exercise]:
    """The active exercises a question links to, in the author's order."""
    return active_by_slugs(Exercise, question.exercise_slugs)


def linked_questions(exercise: Exercise) -> list[Question]:
    """The active questions an exercise belongs to, in the author's order."""
    return active_by_slugs(Question, exercise.question_slugs)


def _normalise(config: Any) -> dict[str, Any]:
    try:
        return validate_config(config)
    except SimConfigError as error:
        raise InvalidInput(str(error), field=error.field) from None


def check_prediction(prediction: Any) -> str | None:
    if prediction in (None, ""):
        return None
    if prediction not in VERDICTS:
        raise InvalidInput(f"prediction must be one of {', '.join(VERDICTS)}", field="prediction")
    return prediction


def start_exercise_run(
    user: User | None, slug: str, selected: Any, prediction: Any = None
) -> SimRun:
    """Run the learner's choices for an exercise; an identical earlier run answers at once."""
    exercise = get_exercise(slug)
    try:
        config = build_config(exercise.network, exercise.choices, selected)
    except InvalidChoice as error:
        raise InvalidInput(str(error), field=f"choices.{error.field}") from None
    return _start(user, _normalise(config), exercise, dict(selected), check_prediction(prediction))


def start_lab_run(user: User | None, config: Any) -> SimRun:
    """Run any configuration within the simulator's limits."""
    return _start(user, _normalise(config), None, None, None)


# Checks every run submission passes first, cached or not (the web layer registers its
# per-account and per-address rate limits here): one place, whichever page or API starts it.
SubmissionCheck = Callable[[User | None], None]
SUBMISSION_CHECKS: list[SubmissionCheck] = []


def register_submission_check(check: SubmissionCheck) -> None:
    """Run `check(user)` before every run submission; it raises to refuse one."""
    if check not in SUBMISSION_CHECKS:
        SUBMISSION_CHECKS.append(check)


def _start(user, config, exercise, choices, prediction) -> SimRun:
    for check in SUBMISSION_CHECKS:
        check(user)
    key = cache_key(config, SIMULATOR_VERSION)
    run = SimRun(
        id=uuid.uuid4().hex,
        user_id=user.id if user else None,
        exercise_id=exercise.id if exercise else None,
        choices=choices,
        config=config,
        cache_key=key,
        prediction=prediction,
        created_at=utcnow(),
    )
    cached = db.session.get(SimResult, key)
    if cached is not None:
        run.from_cache = True
        db.session.add(run)
        _finish(run, JobOutcome("done", result=cached.result), store_result=False)
        db.session.commit()
        return run
    app = current_app._get_current_object()
    run.owner, run.submitted_at = job_owner(app), utcnow()
    # The job goes to the backend before the run is stored, so the simulation runs while the
    # row is written (the write is the slowest part of a submission). The outcome is recorded
    # once the row is there; a full queue refuses the job before anything is stored.
    stored = threading.Event()
    try:
        backend_for(app).submit(
            run.id,
            config,
            lambda run_id, outcome: complete_and_announce(app, run_id, outcome, stored),
        )
    except QueueFull as full:
        raise Busy(QUEUE_FULL, full.retry_after) from None
    try:
        db.session.add(run)
        db.session.commit()
    finally:
        stored.set()
    return run


def complete_run(app: Flask, run_id: str, outcome: JobOutcome) -> None:
    """Record a finished job: cache its result, grade the run; called from a worker thread.

    Runs finishing side by side can race to store the same cached result or to create the
    same learner's review card; the loser rolls back and records again, finding the row.
    """
    with app.app_context():
        try:
            _wait_for_row(run_id)
            for _ in range(RECORD_RETRIES):
                run = db.session.get(SimRun, run_id)
                if run is None or run.status in ("done", "failed"):
                    return
                try:
                    _finish(run, outcome, store_result=True)
                    db.session.commit()
                    return
                except (IntegrityError, StaleDataError):
                    db.session.rollback()
            log.error("could not record simulation run %s after %d tries", run_id, RECORD_RETRIES)
            run = db.session.get(SimRun, run_id)
            if run is not None:
                _finish(run, JobOutcome("failed", message=RECORD_FAILED), store_result=False)
                db.session.commit()
        finally:
            db.session.remove()


def _wait_for_row(run_id: str) -> None:
    """Wait up to ROW_APPEARS_WITHIN for the submitting request to store the run's row (jobs
    are submitted before their row is committed)."""
    deadline = time.monotonic() + ROW_APPEARS_WITHIN
    while db.session.get(SimRun, run_id) is None and time.monotonic() < deadline:
        db.session.rollback()  # a fresh snapshot next time
        time.sleep(0.01)


def complete_and_announce(
    app: Flask, run_id: str, outcome: JobOutcome, stored: threading.Event | None = None
) -> None:
    """Record a finished run (once its row is `stored`) and wake the requests waiting for it.

    The local pool has already announced the outcome on the board (pool.py), so a lab chart
    is drawn before this write; an exercise's grade waits for `mark_recorded`.
    """
    # Let the woken request answer first: recording holds the GIL for a few milliseconds,
    # which the learner would otherwise wait through.
    time.sleep(RECORD_DELAY)
    try:
        if stored is not None:
            stored.wait(STORE_WAIT)
        complete_run(app, run_id, outcome)
    finally:
        BOARD.mark_recorded(run_id)


def _finish(run: SimRun, outcome: JobOutcome, store_result: bool) -> None:
    now = utcnow()
    run.finished_at = now
    if not outcome.ok:
        run.status = "failed"
        run.error = outcome.message or "The simulation failed."
        return
    result = outcome.result or {}
    if store_result and db.session.get(SimResult, run.cache_key) is None:
        db.session.add(
            SimResult(
                key=run.cache_key,
                simulator_version=SIMULATOR_VERSION,
                config=run.config,
                result=result,
                created_at=now,
            )
        )
    run.status = "done"
    run.prediction_correct = prediction_correct(run.prediction, result.get("verdict"))
    if run.exercise_id is None:
        return
    exercise = db.session.get(Exercise, run.exercise_id)
    run.passed = goals_met(evaluate_goals(exercise.goals, result))
    if run.user_id is not None:
        _record_attempt(run, exercise, now)


def _record_attempt(run: SimRun, exercise: Exercise, now: datetime) -> None:
    """An exercise run rates the exercise's own review card, and counts as an attempt on its
    first linked question, which it reschedules too."""
    user = db.session.get(User, run.user_id)
    score = 1.0 if run.passed else 0.0
    record_run(user, exercise, run, Grade(score=score, correct=bool(run.passed)), run.finished_at)
    question = db.session.scalar(
        select(Question).where(Question.slug.in_(exercise.question_slugs))
        .where(Question.retired_at.is_(None))
        .order_by(Question.id)
    )  # fmt: skip
    if question is None:
        return
    attempt = Attempt(
        user_id=user.id,
        question_id=question.id,
        check_index=-1,
        kind="exercise",
        response=run.choices,
        score=score,
        correct=bool(run.passed),
        exercise_slug=exercise.slug,
        idempotency_key=f"run:{run.id}",
        created_at=now,
    )
    db.session.add(attempt)
    grade = Grade(score=score, correct=bool(run.passed))
    reschedule_card(user, question, grade, None, now, attempt=attempt)


@dataclass(frozen=True)
class RunView:
    run: SimRun
    exercise: Exercise | None
    result: dict[str, Any] | None
    goals: list[GoalOutcome]
    feedback_html: list[str]

    @property
    def pending(self) -> bool:
        return self.run.status in ("queued", "running")


def get_run(run_id: str, user: User | None) -> RunView:
    """A run with its result; another learner's run is reported as not found."""
    run = db.session.get(SimRun, run_id) if len(run_id) <= 32 else None
    if run is None or (run.user_id is not None and (user is None or user.id != run.user_id)):
        raise NotFound("No such simulation run.")
    if run.status in ("queued", "running"):
        requeue_if_orphaned(run)
    submitted = run.submitted_at or run.created_at
    if run.status in ("queued", "running") and utcnow() - submitted > LOST_AFTER:
        run.status, run.error, run.finished_at = "failed", "The simulation was lost.", utcnow()
        db.session.commit()
    exercise = db.session.get(Exercise, run.exercise_id) if run.exercise_id else None
    cached = db.session.get(SimResult, run.cache_key) if run.status == "done" else None
    result = cached.result if cached else None
    goals: list[GoalOutcome] = []
    feedback: list[str] = []
    if exercise is not None and result is not None:
        goals = evaluate_goals(exercise.goals, result)
        for key in feedback_key(result.get("verdict"), goals_met(goals)):
            if key in exercise.feedback_html:
                feedback.append(exercise.feedback_html[key])
    return RunView(run, exercise, result, goals, feedback)


def recent_runs(user: User, exercise: Exercise | None = None, limit: int = 20) -> list[SimRun]:
    query = select(SimRun).where(SimRun.user_id == user.id)
    if exercise is not None:
        query = query.where(SimRun.exercise_id == exercise.id)
    return list(db.session.scalars(query.order_by(SimRun.created_at.desc()).limit(limit)))


def intuition(user: User) -> tuple[int, int]:
    """(correct predictions, predictions made) over the learner's finished runs."""
    rows = db.session.scalars(
        select(SimRun.prediction_correct).where(
            SimRun.user_id == user.id, SimRun.prediction_correct.is_not(None)
        )
    ).all()
    return sum(rows), len(rows)


def solved_exercises(user: User) -> set[int]:
    return set(
        db.session.scalars(
            select(SimRun.exercise_id).where(SimRun.user_id == user.id, SimRun.passed.is_(True))
        )
    )


def exercise_configs() -> list[dict[str, Any]]:
    """Every distinct simulator config the active exercises can produce."""
    configs: dict[str, dict[str, Any]] = {}
    for exercise in list_exercises():
        for selection in all_selections(exercise.choices):
            config = validate_config(exercise.network | selection)
            configs.setdefault(cache_key(config, SIMULATOR_VERSION), config)
    return list(configs.values())


def warm_cache(configs: Iterable[dict[str, Any]]) -> int:
    """Compute and store the configs not cached yet; returns how many were computed.

    Runs in the calling process (a CLI), never in the web process.
    """
    from quizapp.sim import simulate

    computed = 0
    for config in configs:
        key = cache_key(config, SIMULATOR_VERSION)
        if db.session.get(SimResult, key) is not None:
            continue
        result = simulate(config)
        db.session.add(
            SimResult(
                key=key,
                simulator_version=SIMULATOR_VERSION,
                config=config,
                result=result,
                created_at=utcnow(),
            )
        )
        db.session.commit()
        computed += 1
    return computed


# -- runs lost with their process ------------------------------------------------------------


def job_owner(app: Flask) -> str:
    """Who finishes the runs this process submits: Celery, or this process's own pool."""
    return owners.CELERY if app.config["QUIZAPP_JOBS"] == "celery" else owners.this_process()


def _hand_over(app: Flask, run_id: str, previous_owner: str | None) -> bool:
    """Claim a lost run for this process (atomically: one claimant wins) and submit it again;
    simulations are deterministic, so running it twice gives the same result."""
    owner = job_owner(app)
    same_owner = (
        SimRun.owner.is_(None) if previous_owner is None else SimRun.owner == previous_owner
    )
    claimed = db.session.execute(
        update(SimRun)
        .where(SimRun.id == run_id, same_owner, SimRun.status.in_(("queued", "running")))
        .values(owner=owner, submitted_at=utcnow())
    ).rowcount
    db.session.commit()
    if claimed != 1:
        return False
    config = db.session.get(SimRun, run_id).config
    try:
        backend_for(app).submit(
            run_id, config, lambda done_id, outcome: complete_and_announce(app, done_id, outcome)
        )
    except QueueFull:
        # Give it back, for the next process start or the next look at the run.
        db.session.execute(update(SimRun).where(SimRun.id == run_id).values(owner=None))
        db.session.commit()
        return False
    log.info("requeued simulation run %s (its owner %s is gone)", run_id, previous_owner)
    return True


def requeue_if_orphaned(run: SimRun) -> bool:
    """Requeue a queued run whose owner process has ended (looked at when the run is read)."""
    app = current_app._get_current_object()
    if app.config["QUIZAPP_JOBS"] == "celery" or not owners.owner_is_gone(run.owner):
        return False
    requeued = _hand_over(app, run.id, run.owner)
    db.session.refresh(run)
    return requeued


def requeue_orphaned_runs(app: Flask) -> int:
    """At start-up: requeue every queued run whose owner process has ended (a restart or a
    crash took its pool with it). Returns how many were requeued."""
    if app.config["QUIZAPP_JOBS"] == "celery":
        return 0  # Celery delivers its queued tasks again by itself
    with app.app_context():
        try:
            pending = db.session.execute(
                select(SimRun.id, SimRun.owner)
                .where(SimRun.status.in_(("queued", "running")))
                .order_by(SimRun.created_at)
            ).all()
            # An unknown owner (queued before owners were recorded) is gone after a restart too.
            return sum(
                _hand_over(app, run_id, owner)
                for run_id, owner in pending
                if owner is None or owners.owner_is_gone(owner)
            )
        finally:
            db.session.remove()
