"""What the learner's memory looks like now: recall per card, due forecast, activity calendar."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from quizapp.domain.memory import CalendarDay, activity_calendar, due_forecast
from quizapp.domain.scheduling import retrievability
from quizapp.extensions import db
from quizapp.models import Attempt, Exercise, ExerciseCard, Question, ReviewCard, User
from quizapp.models.base import utcnow
from quizapp.services.learning import current_parameters


@dataclass(frozen=True)
class CardMemory:
    question: Question
    card: ReviewCard
    recall: float | None


@dataclass
class MemoryOverview:
    cards: list[CardMemory] = field(default_factory=list)  # weakest recall first
    mean_recall: float | None = None
    forecast: list[tuple[date, int]] = field(default_factory=list)
    calendar: list[list[CalendarDay]] = field(default_factory=list)
    active_days: int = 0
    answers_last_year: int = 0
    leeches: int = 0
    suspended: int = 0


def memory_overview(user: User, now: datetime | None = None) -> MemoryOverview:
    """Recall per card, the next 30 days' due counts (exercise cards' too) and a year of
    answers, in five queries."""
    now = now or utcnow()
    overview = MemoryOverview()
    parameters = current_parameters(user)
    due_dates = []
    for card, question in db.session.execute(
        select(ReviewCard, Question)
        .join(Question, Question.id == ReviewCard.question_id)
        .where(ReviewCard.user_id == user.id, Question.retired_at.is_(None))
    ):
        overview.leeches += card.leech
        if card.suspended_at is not None:
            overview.suspended += 1
            continue
        due_dates.append(card.due_at)
        overview.cards.append(
            CardMemory(question, card, retrievability(card.state, now, parameters))
        )
    overview.cards.sort(key=lambda m: (m.recall if m.recall is not None else 2, m.question.title))
    known = [m.recall for m in overview.cards if m.recall is not None]
    overview.mean_recall = sum(known) / len(known) if known else None
    due_dates += db.session.scalars(  # exercise cards come due too
        select(ExerciseCard.due_at)
        .join(Exercise, Exercise.id == ExerciseCard.exercise_id)
        .where(
            ExerciseCard.user_id == user.id,
            ExerciseCard.suspended_at.is_(None),
            Exercise.retired_at.is_(None),
        )
    )
    overview.forecast = due_forecast(due_dates, now.date())
    since = now - timedelta(days=366)
    per_day: Counter[date] = Counter(
        created.date()
        for created in db.session.scalars(
            select(Attempt.created_at).where(
                Attempt.user_id == user.id, Attempt.created_at >= since
            )
        )
    )
    overview.calendar = activity_calendar(dict(per_day), now.date())
    overview.active_days = sum(1 for count in per_day.values() if count)
    overview.answers_last_year = sum(per_day.values())
    return overview


def question_memory(user: User, question_id: int, now: datetime | None = None):
    """The learner's card for one question with its recall now, or None if never reviewed."""
    card = db.session.scalar(
        select(ReviewCard).where(
            ReviewCard.user_id == user.id, ReviewCard.question_id == question_id
        )
    )
    if card is None:
        return None
    recall = retrievability(card.state, now or utcnow(), current_parameters(user))
    return CardMemory(db.session.get(Question, question_id), card, recall)


def review_counts(user: User) -> int:
    return db.session.scalar(select(func.count()).select_from(ReviewCard).where(
        ReviewCard.user_id == user.id)) or 0  # fmt: skip
