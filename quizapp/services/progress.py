"""A learner's progress: mastery per topic, accuracy over time, streak, history."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from quizapp.domain.mastery import (
    MASTERY_LEVELS,
    RECENT_ATTEMPTS,
    accuracy_series,
    current_streak,
    level_label,
    mastery_level,
    topic_mastery,
)
from quizapp.extensions import db
from quizapp.models import Attempt, Question, ReviewCard, Topic, User, question_topics
from quizapp.models.base import utcnow

HISTORY_LENGTH = 50


@dataclass(frozen=True)
class TopicProgress:
    topic: Topic
    level: str
    label: str
    question_count: int
    levels: dict[str, int]  # questions per level


@dataclass(frozen=True)
class HistoryRow:
    attempt: Attempt
    question_slug: str
    question_title: str


@dataclass
class Progress:
    topics: list[TopicProgress] = field(default_factory=list)
    accuracy: list[tuple[date, float, int]] = field(default_factory=list)
    streak: int = 0
    due_now: int = 0
    due_today: int = 0
    attempts_total: int = 0
    accuracy_total: float | None = None
    questions_seen: int = 0
    history: list[HistoryRow] = field(default_factory=list)


def learner_progress(user: User, now: datetime | None = None) -> Progress:
    """Everything the dashboard shows, in a fixed number of queries whatever the history size."""
    now = now or utcnow()
    progress = Progress()
    scores: dict[int, list[float]] = defaultdict(list)
    per_day: list[tuple[date, float]] = []
    for question_id, score, created_at in db.session.execute(
        select(Attempt.question_id, Attempt.score, Attempt.created_at)
        .where(Attempt.user_id == user.id)
        .order_by(Attempt.created_at, Attempt.id)
    ):
        scores[question_id].append(score)
        per_day.append((created_at.date(), score))
    progress.attempts_total = len(per_day)
    if per_day:
        progress.accuracy_total = sum(score for _, score in per_day) / len(per_day)
    progress.accuracy = accuracy_series(per_day)
    progress.streak = current_streak({day for day, _ in per_day}, now.date())
    progress.questions_seen = len(scores)

    stability: dict[int, float | None] = {}
    tomorrow = now + timedelta(days=1)
    for question_id, card_stability, due_at in db.session.execute(
        select(ReviewCard.question_id, ReviewCard.stability, ReviewCard.due_at)
        .join(Question, Question.id == ReviewCard.question_id)
        .where(ReviewCard.user_id == user.id, Question.retired_at.is_(None))
    ):
        stability[question_id] = card_stability
        progress.due_now += due_at <= now
        progress.due_today += due_at <= tomorrow

    question_levels = {
        question_id: mastery_level(stability.get(question_id), recent[-RECENT_ATTEMPTS:])
        for question_id, recent in scores.items()
    }
    members: dict[int, list[int]] = defaultdict(list)
    for topic_id, question_id in db.session.execute(
        select(question_topics.c.topic_id, question_topics.c.question_id)
        .join(Question, Question.id == question_topics.c.question_id)
        .where(Question.retired_at.is_(None))
    ):
        members[topic_id].append(question_id)
    for topic in db.session.scalars(select(Topic).order_by(Topic.position, Topic.title)):
        levels = [question_levels.get(qid, "not_started") for qid in members.get(topic.id, [])]
        if not levels:
            continue
        level = topic_mastery(levels)
        counts = {name: levels.count(name) for name in MASTERY_LEVELS}
        progress.topics.append(TopicProgress(topic, level, level_label(level), len(levels), counts))

    progress.history = [
        HistoryRow(attempt, slug, title)
        for attempt, slug, title in db.session.execute(
            select(Attempt, Question.slug, Question.title)
            .join(Question, Question.id == Attempt.question_id)
            .where(Attempt.user_id == user.id)
            .order_by(Attempt.created_at.desc(), Attempt.id.desc())
            .limit(HISTORY_LENGTH)
        )
    ]
    return progress


def recent_mistakes(user: User, limit: int = 20) -> list[Question]:
    """Active questions whose latest attempt by this learner was not fully right, newest first."""
    latest = (
        select(Attempt.question_id, func.max(Attempt.id).label("last_id"))
        .where(Attempt.user_id == user.id)
        .group_by(Attempt.question_id)
        .subquery()
    )
    return list(
        db.session.scalars(
            select(Question)
            .join(latest, latest.c.question_id == Question.id)
            .join(Attempt, Attempt.id == latest.c.last_id)
            .where(Attempt.score < 1.0, Question.retired_at.is_(None))
            .order_by(Attempt.id.desc())
            .limit(limit)
            .options(selectinload(Question.topics))  # the cards show their topics: no N+1
        )
    )
