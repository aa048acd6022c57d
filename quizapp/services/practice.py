"""What to answer next: the "Next question" pick and "Practise this topic" sessions.

Next question: a due card first (the most overdue), then the weakest topic the learner
has started (its weakest question not just answered), then a question never answered.
A topic session: up to `size` of the topic's questions, due ones first, then the weakest,
then new ones, then the rest by level.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import load_only, selectinload

from quizapp.domain.mastery import MASTERY_LEVELS, level_label, topic_mastery
from quizapp.extensions import db
from quizapp.models import Question, Topic, User
from quizapp.models.base import utcnow
from quizapp.services.errors import InvalidInput, NotFound
from quizapp.services.progress import NEW_CARD, CardState, card_states
from quizapp.services.questions import difficulty_order

# The card the project started from: where a newcomer begins.
START_HERE = "vanishing-gradient-problem"
DEFAULT_SESSION_SIZE = 10
MAX_SESSION_SIZE = 50


@dataclass(frozen=True)
class Suggestion:
    question: Question
    reason: str  # "due" | "weakest_topic" | "new" | "start_here"
    state: CardState
    topic: Topic | None = None


@dataclass(frozen=True)
class PracticePlan:
    topic: Topic
    items: list[tuple[Question, CardState]]


def _active_questions(topic_slug: str | None = None) -> list[Question]:
    query = (
        select(Question)
        .where(Question.retired_at.is_(None))
        .options(
            load_only(Question.id, Question.slug, Question.title, Question.difficulty),
            selectinload(Question.topics),
        )
        .order_by(difficulty_order(), Question.title)
    )
    if topic_slug is not None:
        query = query.where(Question.topics.any(Topic.slug == topic_slug))
    return list(db.session.scalars(query))


def _states(user: User | None, answered: Collection[str], questions: list[Question], now):
    """Card states from the database, or for a visitor from the slugs answered this visit."""
    if user is not None:
        found = card_states(user, now=now)
        return {q.id: found.get(q.id, NEW_CARD) for q in questions}
    touched = CardState("answered", "attempted", level_label("attempted"))
    return {q.id: touched if q.slug in answered else NEW_CARD for q in questions}


def _level_rank(state: CardState) -> int:
    return MASTERY_LEVELS.index(state.level)


def next_question(
    user: User | None,
    *,
    answered: Collection[str] = (),
    skip: Collection[str] = (),
    now: datetime | None = None,
) -> Suggestion | None:
    """The question to answer next; `skip` (e.g. the one just answered) is never picked."""
    now = now or utcnow()
    everything = _active_questions()
    states = _states(user, answered, everything, now)
    # Skipped questions still count towards their topics' levels; they are just not picked.
    questions = [q for q in everything if q.slug not in skip]
    if not questions:
        return None
    due = [q for q in questions if states[q.id].status == "due"]
    if due:
        first = min(due, key=lambda q: states[q.id].due_at)
        return Suggestion(first, "due", states[first.id])
    if all(states[q.id].status == "new" for q in everything):
        start = next((q for q in questions if q.slug == START_HERE), questions[0])
        return Suggestion(start, "start_here" if start.slug == START_HERE else "new", NEW_CARD)
    # Weakest topic first: its level, then how few of its questions have been answered.
    by_topic: dict[int, list[Question]] = {}
    topics: dict[int, Topic] = {}
    for question in everything:
        for topic in question.topics:
            by_topic.setdefault(topic.id, []).append(question)
            topics[topic.id] = topic
    touched = {t.id for q in everything if states[q.id].status != "new" for t in q.topics}

    def weakness(topic_id: int):
        members = by_topic[topic_id]
        level = topic_mastery([states[q.id].level for q in members])
        answered_share = sum(states[q.id].status != "new" for q in members) / len(members)
        return (MASTERY_LEVELS.index(level), answered_share, topics[topic_id].position)

    for topic_id in sorted(touched, key=weakness):
        members = [q for q in by_topic[topic_id] if q.slug not in skip]
        # Something new in the weak topic first, else one of its shaky questions.
        fresh = [q for q in members if states[q.id].status == "new"]
        shaky = [q for q in members if states[q.id].level == "attempted"]
        if fresh or shaky:
            pick = (fresh or shaky)[0]
            return Suggestion(pick, "weakest_topic", states[pick.id], topics[topic_id])
    new = [q for q in questions if states[q.id].status == "new"]
    if new:
        return Suggestion(new[0], "new", NEW_CARD)
    # Everything answered and nothing due: the least well known card.
    weakest = min(questions, key=lambda q: _level_rank(states[q.id]))
    return Suggestion(weakest, "weakest_topic", states[weakest.id])


def plan_topic_practice(
    user: User | None,
    topic_slug: str,
    *,
    size: int = DEFAULT_SESSION_SIZE,
    answered: Collection[str] = (),
    now: datetime | None = None,
) -> PracticePlan:
    """Up to `size` questions of the topic in the order a practice session takes them."""
    if not isinstance(size, int) or not 1 <= size <= MAX_SESSION_SIZE:
        raise InvalidInput(f"size must be from 1 to {MAX_SESSION_SIZE}", field="size")
    topic = db.session.scalar(select(Topic).where(Topic.slug == topic_slug))
    if topic is None:
        raise NotFound(f"No topic '{topic_slug}'.")
    now = now or utcnow()
    questions = _active_questions(topic_slug)
    states = _states(user, answered, questions, now)
    order = {q.id: position for position, q in enumerate(questions)}

    def priority(question: Question):
        state = states[question.id]
        if state.status == "due":
            return (0, state.due_at.timestamp(), 0)
        if state.level == "attempted":
            return (1, 0, order[question.id])
        if state.status == "new":
            return (2, 0, order[question.id])
        return (3 + _level_rank(state), 0, order[question.id])

    chosen = sorted(questions, key=priority)[:size]
    return PracticePlan(topic, [(q, states[q.id]) for q in chosen])
