"""Fitting each learner's FSRS parameters to their own reviews, off the web process.

A fit is a versioned row; the newest successful one is the schedule in use. The fit itself
runs as a `fit_schedule` job in the simulation worker pool or on Celery (it needs torch).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import func, select

from quizapp.domain.memory import MIN_REVIEWS_TO_OPTIMISE, Review, spaced_review_count
from quizapp.domain.scheduling import check_parameters
from quizapp.extensions import db
from quizapp.jobs import JobOutcome, QueueFull
from quizapp.jobs.backends import backend_for
from quizapp.models import ReviewLog, ScheduleFit, User
from quizapp.models.base import utcnow
from quizapp.services.errors import Busy, Conflict, NotFound
from quizapp.services.learning import current_parameters

log = logging.getLogger(__name__)

REFIT_AFTER = timedelta(days=30)
LOST_AFTER = timedelta(minutes=30)
QUEUE_FULL = "The workers are busy right now. Please try again in a minute."


def learner_reviews(user: User) -> list[Review]:
    """Every rating of every card: a question's card is its id, an exercise's "e<id>"."""
    return [
        Review(question_id if question_id is not None else f"e{exercise_id}", at, rating, duration)
        for question_id, exercise_id, at, rating, duration in db.session.execute(
            select(
                ReviewLog.question_id,
                ReviewLog.exercise_id,
                ReviewLog.reviewed_at,
                ReviewLog.rating,
                ReviewLog.duration_ms,
            )
            .where(ReviewLog.user_id == user.id)
            .order_by(ReviewLog.reviewed_at, ReviewLog.id)
        )
    ]


@dataclass(frozen=True)
class FitStatus:
    reviews: int
    spaced_reviews: int
    threshold: int
    fits: list[ScheduleFit]  # newest first
    current: ScheduleFit | None  # the fit in use

    @property
    def ready(self) -> bool:
        return self.spaced_reviews >= self.threshold

    @property
    def pending(self) -> ScheduleFit | None:
        return next((fit for fit in self.fits if fit.status in ("queued", "running")), None)


def fit_status(user: User) -> FitStatus:
    _expire_lost(user)
    reviews = learner_reviews(user)
    fits = list(
        db.session.scalars(
            select(ScheduleFit)
            .where(ScheduleFit.user_id == user.id)
            .order_by(ScheduleFit.version.desc())
        )
    )
    current = next((fit for fit in fits if fit.status == "done"), None)
    return FitStatus(
        len(reviews), spaced_review_count(reviews), MIN_REVIEWS_TO_OPTIMISE, fits, current
    )


def _expire_lost(user: User) -> None:
    for fit in db.session.scalars(
        select(ScheduleFit).where(
            ScheduleFit.user_id == user.id,
            ScheduleFit.status.in_(("queued", "running")),
            ScheduleFit.created_at < utcnow() - LOST_AFTER,
        )
    ):
        fit.status, fit.error, fit.finished_at = "failed", "The fit was lost.", utcnow()
    db.session.commit()


def start_fit(user: User, trigger: str = "learner", inline: bool = False) -> ScheduleFit:
    """Queue a fit of the learner's parameters; Conflict below the review threshold.

    `inline` runs it in this process instead (the monthly CLI run with the local backend,
    where no long-lived pool would outlive the command).
    """
    status = fit_status(user)
    if status.pending is not None:
        return status.pending
    if not status.ready:
        raise Conflict(
            f"Optimising needs at least {status.threshold} reviews made a day or more after "
            f"the card's previous review; you have {status.spaced_reviews}.",
            field="reviews",
        )
    reviews = learner_reviews(user)
    payload = {
        "reviews": [
            [r.card, int(r.at.timestamp() * 1000), r.rating, r.duration_ms] for r in reviews
        ],
        "current": current_parameters(user),
    }
    version = (
        db.session.scalar(
            select(func.max(ScheduleFit.version)).where(ScheduleFit.user_id == user.id)
        )
        or 0
    ) + 1
    fit = ScheduleFit(
        id=uuid.uuid4().hex,
        user_id=user.id,
        version=version,
        status="queued",
        trigger=trigger,
        review_count=len(reviews),
        created_at=utcnow(),
    )
    app = current_app._get_current_object()
    if inline:
        from quizapp.jobs import kinds

        db.session.add(fit)
        db.session.commit()
        status_name, result = kinds.run_job("fit_schedule", payload)
        outcome = (
            JobOutcome("done", result=result)
            if status_name == "done"
            else JobOutcome(status_name, message=result)
        )
        fit_id = fit.id
        complete_fit(app, fit_id, outcome)
        return db.session.get(ScheduleFit, fit_id)
    backend = backend_for(app)
    if not backend.has_capacity():
        raise Busy(QUEUE_FULL, retry_after=30)
    db.session.add(fit)
    db.session.commit()
    try:
        backend.submit(
            fit.id,
            payload,
            lambda fit_id, outcome: complete_fit(app, fit_id, outcome),
            kind="fit_schedule",
            timeout=app.config["QUIZAPP_FIT_TIMEOUT"],
        )
    except QueueFull as full:
        db.session.delete(fit)
        db.session.commit()
        raise Busy(QUEUE_FULL, full.retry_after) from None
    return fit


def complete_fit(app: Flask, fit_id: str, outcome: JobOutcome) -> None:
    """Record a finished fit (called from a worker thread or the Celery worker)."""
    with app.app_context():
        try:
            fit = db.session.get(ScheduleFit, fit_id)
            if fit is None or fit.status in ("done", "failed"):
                return
            fit.finished_at = utcnow()
            result = outcome.result or {}
            try:
                parameters = list(check_parameters(result.get("parameters") or []))
            except ValueError as error:
                parameters = None
                outcome = JobOutcome("failed", message=f"The fit gave unusable weights: {error}")
            if not outcome.ok or parameters is None:
                fit.status = "failed"
                fit.error = outcome.message or "The fit failed."
            else:
                fit.status = "done"
                fit.parameters = parameters
                for name in ("log_loss_before", "log_loss_after", "rmse_before", "rmse_after",
                             "recommended_retention"):  # fmt: skip
                    setattr(fit, name, result.get(name))
            db.session.commit()
        except Exception:
            log.exception("recording schedule fit %s failed", fit_id)
            db.session.rollback()
        finally:
            db.session.remove()


def get_fit(user: User, fit_id: str) -> ScheduleFit:
    fit = db.session.get(ScheduleFit, fit_id) if len(fit_id) <= 32 else None
    if fit is None or fit.user_id != user.id:
        raise NotFound("No such schedule fit.")
    return fit


def users_due_for_refit(now: datetime | None = None) -> list[User]:
    """Learners whose newest fit is over a month old (or who never fitted) and who have
    enough reviews: the monthly run (`flask review optimise-due`) fits them again."""
    now = now or utcnow()
    latest = (
        select(ScheduleFit.user_id, func.max(ScheduleFit.created_at).label("at"))
        .group_by(ScheduleFit.user_id)
        .subquery()
    )
    # Only learners with at least the threshold's number of reviews can qualify at all.
    enough = (
        select(ReviewLog.user_id)
        .group_by(ReviewLog.user_id)
        .having(func.count() > MIN_REVIEWS_TO_OPTIMISE)
    )
    candidates = db.session.execute(
        select(User, latest.c.at)
        .outerjoin(latest, latest.c.user_id == User.id)
        .where(User.id.in_(enough))
        .order_by(User.id)
    ).all()
    due = []
    for user, last in candidates:
        if last is not None and now - last < REFIT_AFTER:
            continue
        if spaced_review_count(learner_reviews(user)) >= MIN_REVIEWS_TO_OPTIMISE:
            due.append(user)
    return due
