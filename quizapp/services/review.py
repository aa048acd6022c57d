"""The review session: today's queue within the learner's limits, reveal, rate, undo, leeches."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from quizapp.domain.grading import (
    AUTOMATIC_KINDS,
    SELF_RATING_SCORES,
    VARIANT_SPEC,
    Grade,
    InvalidResponse,
    ResolvedCheck,
    account_key,
    check_id,
    grade_response,
    resolve_check,
)
from quizapp.domain.memory import interleave_by_topic
from quizapp.domain.scheduling import (
    RATINGS,
    format_interval,
    preview_intervals,
    rating_for_grade,
    retrievability,
)
from quizapp.extensions import db
from quizapp.models import (
    Attempt,
    Exercise,
    ExerciseCard,
    Question,
    ReviewCard,
    ReviewLog,
    Topic,
    User,
    question_topics,
)
from quizapp.models.base import utcnow
from quizapp.services.card_kinds import EXERCISE_CARDS, kind_of_log
from quizapp.services.errors import Conflict, InvalidInput, NotFound
from quizapp.services.learning import (
    UPDATE_RETRIES,
    RatingResult,
    _attempt_by_key,
    _elapsed,
    _idempotency_key,
    commit_keeping_loaded,
    current_parameters,
    rating_name,
    reschedule,
    restore_snapshot,
)
from quizapp.services.questions import active_by_slugs, get_question
from quizapp.services.variants import learner_epoch, question_for_user

# Anki's "learn ahead limit": a card in (re)learning due this soon is shown rather than
# ending the session early.
LEARN_AHEAD = timedelta(minutes=20)
DIFFICULTY_ORDER = {"easy": 0, "medium": 1, "hard": 2}
MAX_NEW_PER_DAY = 500
MAX_REVIEWS_PER_DAY = 9999
LEECH_THRESHOLD_RANGE = (2, 99)


@dataclass(frozen=True)
class QueueQuestion:
    """What the queue needs of a question (its text is loaded for the current card only)."""

    id: int
    slug: str
    title: str
    difficulty: str
    topic: str  # the slug of its first topic (an exercise: its first question's), to interleave
    kind: str = "question"  # or "exercise": an exercise card ("run it again and predict")


@dataclass(frozen=True)
class QueueCard:
    question: QueueQuestion  # the question, or the exercise of an exercise card
    card: ReviewCard | ExerciseCard | None  # None: a new card

    @property
    def is_new(self) -> bool:
        return self.card is None

    @property
    def topic(self) -> str:
        return self.question.topic


@dataclass
class ReviewQueue:
    cards: list[QueueCard] = field(default_factory=list)
    due_total: int = 0  # due now, before the daily limit
    new_available: int = 0  # never reviewed, before the daily limit
    reviews_done_today: int = 0
    new_done_today: int = 0
    next_due_at: datetime | None = None  # when the next card comes due, if none is now

    @property
    def current(self) -> QueueCard | None:
        return self.cards[0] if self.cards else None


def day_start(now: datetime) -> datetime:
    """Midnight UTC of `now`'s day: daily limits reset then."""
    return datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)


# The queue's statements are built once, with bound parameters: building a statement and its
# cache key on every call cost more than running it (this runs on every rating).
_FIRST_TOPIC = (
    select(Topic.slug)
    .join(question_topics, Topic.id == question_topics.c.topic_id)
    .where(question_topics.c.question_id == Question.id)
    .order_by(Topic.position, Topic.title)
    .limit(1)
    .scalar_subquery()
)
_QUEUE_COLUMNS = (Question.id, Question.slug, Question.title, Question.difficulty, _FIRST_TOPIC)
_ACTIVE_CARD = and_(
    ReviewCard.user_id == bindparam("user_id"),
    ReviewCard.suspended_at.is_(None),
    Question.retired_at.is_(None),
)
_DONE_TODAY = (
    select(ReviewLog.review_state, func.count())
    .where(
        ReviewLog.user_id == bindparam("user_id"),
        ReviewLog.reviewed_at >= bindparam("since"),
        ReviewLog.source == "app",
    )
    .group_by(ReviewLog.review_state)
)
_DUE = (
    select(ReviewCard, *_QUEUE_COLUMNS)
    .join(Question, Question.id == ReviewCard.question_id)
    .where(_ACTIVE_CARD, ReviewCard.due_at <= bindparam("until"))
    .order_by(ReviewCard.due_at, Question.id)
)
_UNSEEN = select(*_QUEUE_COLUMNS).where(
    Question.retired_at.is_(None),
    Question.id.not_in(
        select(ReviewCard.question_id).where(ReviewCard.user_id == bindparam("user_id"))
    ),
)
# Exercise cards come due like question cards; they are made by runs, never new here.
_DUE_EXERCISES = (
    select(
        ExerciseCard,
        Exercise.id,
        Exercise.slug,
        Exercise.title,
        Exercise.difficulty,
        Exercise.question_slugs,
    )
    .join(Exercise, Exercise.id == ExerciseCard.exercise_id)
    .where(
        ExerciseCard.user_id == bindparam("user_id"),
        ExerciseCard.suspended_at.is_(None),
        Exercise.retired_at.is_(None),
        ExerciseCard.due_at <= bindparam("until"),
    )
    .order_by(ExerciseCard.due_at, Exercise.id)
)
_TOPIC_BY_SLUG = select(Question.slug, _FIRST_TOPIC).where(
    Question.slug.in_(bindparam("slugs", expanding=True)), Question.retired_at.is_(None)
)
_NEXT_DUE = select(
    select(func.min(ReviewCard.due_at))
    .join(Question, Question.id == ReviewCard.question_id)
    .where(_ACTIVE_CARD, ReviewCard.due_at > bindparam("now"))
    .scalar_subquery(),
    select(func.min(ExerciseCard.due_at))
    .join(Exercise, Exercise.id == ExerciseCard.exercise_id)
    .where(
        ExerciseCard.user_id == bindparam("user_id"),
        ExerciseCard.suspended_at.is_(None),
        Exercise.retired_at.is_(None),
        ExerciseCard.due_at > bindparam("now"),
    )
    .scalar_subquery(),
)


def review_queue(user: User, now: datetime | None = None) -> ReviewQueue:
    """Today's cards in order: due reviews first, then new cards, each interleaved by topic.

    Light rows only (ids, titles, a topic per question): a rating renders the next card
    from this, and it runs on every rating.
    """
    now = now or utcnow()
    queue = ReviewQueue()
    for state, number in db.session.execute(
        _DONE_TODAY, {"user_id": user.id, "since": day_start(now)}
    ):
        if state == 0:
            queue.new_done_today += number
        else:
            queue.reviews_done_today += number
    reviews_left = max(0, user.max_reviews_per_day - queue.reviews_done_today)
    new_left = max(0, user.new_cards_per_day - queue.new_done_today)

    def light(id_, slug, title, difficulty, topic) -> QueueQuestion:
        return QueueQuestion(id_, slug, title, difficulty, topic or "")

    window = {"user_id": user.id, "until": now + LEARN_AHEAD}
    due_rows = [(row[0], light(*row[1:])) for row in db.session.execute(_DUE, window)]
    exercise_rows = db.session.execute(_DUE_EXERCISES, window).all()
    topics = _linked_topics(slugs for *_, slugs in exercise_rows)
    for card, *columns, slugs in exercise_rows:
        # An exercise is interleaved as the first of its questions (the author's order) is.
        topic = next((topics[slug] for slug in slugs or () if topics.get(slug)), "")
        due_rows.append((card, QueueQuestion(*columns, topic=topic, kind=EXERCISE_CARDS.name)))
    due_rows.sort(key=lambda row: row[0].due_at)
    due = [QueueCard(question, card) for card, question in due_rows if card.due_at <= now]
    queue.due_total = len(due)
    unseen = db.session.execute(_UNSEEN, {"user_id": user.id}).all()
    queue.new_available = len(unseen)
    new = sorted(
        (light(*row) for row in unseen), key=lambda q: (DIFFICULTY_ORDER.get(q.difficulty, 1), q.id)
    )[:new_left]
    queue.cards = interleave_by_topic(due[:reviews_left], lambda c: c.topic) + interleave_by_topic(
        [QueueCard(question, None) for question in new], lambda c: c.topic
    )
    if not queue.cards:
        # Nothing due now: a (re)learning card due within the learn-ahead limit comes early.
        soon = [QueueCard(question, card) for card, question in due_rows if card.due_at > now]
        if soon and reviews_left:
            queue.cards = soon[:1]
        nexts = db.session.execute(_NEXT_DUE, {"user_id": user.id, "now": now}).one()
        queue.next_due_at = min((when for when in nexts if when is not None), default=None)
    return queue


def _linked_topics(question_slugs) -> dict[str, str]:
    """The first topic of each active question named (one query, only when exercise cards
    are due)."""
    slugs = sorted({slug for group in question_slugs for slug in group or ()})
    if not slugs:
        return {}
    return {slug: topic for slug, topic in db.session.execute(_TOPIC_BY_SLUG, {"slugs": slugs})}


@dataclass(frozen=True)
class RatingOption:
    rating: str
    key: str  # the keyboard key: 1..4
    label: str
    interval: str


RATING_LABELS = {"again": "Again", "hard": "Hard", "good": "Good", "easy": "Easy"}


@dataclass
class Reveal:
    """A card turned over: its grade (when a check was answered) and what each rating does."""

    question: Question
    check_index: int | None
    response: Any
    grade: Grade | None
    suggested: str | None
    options: list[RatingOption]
    exercises: list[Exercise]


def review_check(question: Question, shown_kinds: Collection[str] = AUTOMATIC_KINDS) -> int | None:
    """The index of the check a review card asks (its first automatic one of the kinds the
    review screen can show), or None."""
    for index, check in enumerate(question.checks):
        if check.get("kind") in AUTOMATIC_KINDS and check.get("kind") in shown_kinds:
            return index
    return None


def rating_options(
    user: User, card: ReviewCard | None, now: datetime, parameters=None
) -> list[RatingOption]:
    """The four ratings with the interval each would give the card now."""
    intervals = preview_intervals(
        card.state if card else None, now, user.desired_retention, parameters
    )
    return [
        RatingOption(rating, str(number), RATING_LABELS[rating], format_interval(intervals[rating]))
        for number, rating in enumerate(RATINGS, start=1)
    ]


def _question(slug_or_question: str | Question) -> Question:
    if isinstance(slug_or_question, Question):
        return slug_or_question
    return get_question(slug_or_question)


def reveal_card(
    user: User,
    slug: str | Question,
    check_index: Any = None,
    response: Any = None,
    elapsed_ms: Any = None,
    now: datetime | None = None,
) -> Reveal:
    """Turn a card over: grade the answer to its check, if any (given in the positions this
    learner is shown, as on the question page), and suggest a rating."""
    now = now or utcnow()
    question = _question(slug)
    index, _, grade = _grade(user, question, check_index, response)
    card = learner_card(user, question)
    suggested = None
    if grade is not None:
        elapsed = _elapsed(elapsed_ms)
        suggested = rating_for_grade(grade, None if elapsed is None else elapsed / 1000)
    return Reveal(
        question=question_for_user(question, user.id),  # its answer in the learner's numbers
        check_index=index,
        response=grade.normalized_response if grade is not None else None,
        grade=grade,
        suggested=suggested,
        options=rating_options(user, card, now, current_parameters(user)),
        exercises=active_by_slugs(Exercise, question.exercise_slugs),
    )


def _grade(
    user: User, question: Question, check_index: Any, response: Any
) -> tuple[int | None, ResolvedCheck | None, Grade | None]:
    """The check answered, the learner's view of it (option layout, and the current variant
    where the question has params), and the grade of `response` (sent in shown positions;
    the grade is in authored indexes, as stored)."""
    if check_index in (None, "") or response in (None, "", []):
        return None, None, None
    try:
        index = int(check_index)
    except (TypeError, ValueError):
        raise InvalidInput("check must be the index of one of the card's checks", "check") from None
    if not 0 <= index < len(question.checks) or question.checks[index]["kind"] not in (
        AUTOMATIC_KINDS
    ):
        raise InvalidInput("check must be one of the card's automatic checks", field="check")
    check = question.checks[index]
    # The epoch is read only where it matters: a card without params has one variant.
    epoch = learner_epoch(user.id, question.id) if check.get(VARIANT_SPEC) else 0
    resolved = resolve_check(
        check, account_key(user.id), check_id(question.slug, index), epoch=epoch
    )
    try:
        return index, resolved, grade_response(resolved.check, resolved.from_display(response))
    except InvalidResponse as error:
        raise InvalidInput(str(error), field="response") from None


def learner_card(user: User, question: Question) -> ReviewCard | None:
    """The learner's review card for the question (None: never reviewed)."""
    return db.session.scalar(
        select(ReviewCard).where(
            ReviewCard.user_id == user.id, ReviewCard.question_id == question.id
        )
    )


def rate_card(
    user: User,
    slug: str | Question,
    rating: Any,
    *,
    check_index: Any = None,
    response: Any = None,
    elapsed_ms: Any = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> RatingResult:
    """Record the learner's 1–4 rating of a card (with their answer to its check, if any)."""
    rating = rating_name(rating)
    question = _question(slug)
    index, resolved, grade = _grade(user, question, check_index, response)
    elapsed = _elapsed(elapsed_ms)
    key = _idempotency_key(idempotency_key)
    if key is not None:
        earlier = _attempt_by_key(user.id, key)
        if earlier is not None:
            return _replayed(earlier)
    now = now or utcnow()
    for _ in range(UPDATE_RETRIES):
        try:
            if grade is not None:
                attempt = Attempt(
                    check_index=index,
                    kind=question.checks[index]["kind"],
                    response=grade.normalized_response,
                    layout=(resolved.layout or None) if resolved is not None else None,
                    score=grade.score,
                    correct=grade.correct,
                    variant=resolved.variant if resolved is not None else None,
                )
            else:
                # Recalled from memory and rated, like a self-rated check of the whole card.
                score = SELF_RATING_SCORES[rating]
                attempt = Attempt(
                    check_index=-1, kind="recall", response=None, score=score, correct=score >= 1
                )
            attempt.user_id, attempt.question_id = user.id, question.id
            attempt.rating, attempt.elapsed_ms = rating, elapsed
            attempt.idempotency_key, attempt.created_at = key, now
            db.session.add(attempt)
            card, log = reschedule(user, question, grade, elapsed, now, rating=rating,
                                   attempt=attempt)  # fmt: skip
            if question.variant_spec:
                # Rated: the card's next review shows the learner new numbers.
                card.variant_epoch = (card.variant_epoch or 0) + 1
            commit_keeping_loaded()  # the next card is rendered from these at once
            return RatingResult(log, card, rating)
        except (StaleDataError, IntegrityError):
            db.session.rollback()
            if key is not None:
                earlier = _attempt_by_key(user.id, key)
                if earlier is not None:
                    return _replayed(earlier)
    raise Conflict("This card is being updated elsewhere; please rate it again.")


def _replayed(attempt: Attempt) -> RatingResult:
    log = db.session.scalar(select(ReviewLog).where(ReviewLog.attempt_id == attempt.id))
    card = db.session.scalar(
        select(ReviewCard).where(
            ReviewCard.user_id == attempt.user_id, ReviewCard.question_id == attempt.question_id
        )
    )
    if log is None or card is None:
        raise Conflict("That rating was undone; rate the card again.", field="idempotency_key")
    return RatingResult(log, card, attempt.rating or "good", duplicate=True)


_LAST_RATING = (
    select(ReviewLog)
    .where(ReviewLog.user_id == bindparam("user_id"), ReviewLog.source == "app")
    .order_by(ReviewLog.id.desc())
    .limit(1)
)


def last_rating(user: User) -> ReviewLog | None:
    """The learner's newest rating made here (not imported): the one U undoes."""
    return db.session.scalar(_LAST_RATING, {"user_id": user.id})


def undo_rating(user: User, review_id: Any = None) -> Question | Exercise:
    """Undo the learner's last rating: the attempt, the card's state and the log entry.
    Returns the question (or the exercise, for an exercise card) rated.

    `review_id`, when given, must be that last rating (a stale undo button is refused).
    """
    log = last_rating(user)
    if log is None:
        raise NotFound("There is no rating to undo.")
    if review_id not in (None, "") and str(review_id) != str(log.id):
        raise Conflict("Only your last rating can be undone, and this was not it.", "review")
    kind = kind_of_log(log)
    rated_id = kind.content_id(log)
    newer = db.session.scalar(
        select(func.count())
        .select_from(ReviewLog)
        .where(
            ReviewLog.user_id == user.id,
            getattr(ReviewLog, kind.reference) == rated_id,
            ReviewLog.id > log.id,
        )
    )
    if newer or (log.card_before is None and log.review_state != 0):
        # The card was rebuilt since (an imported history): its old state is gone.
        raise Conflict("That rating can no longer be undone: the card was rescheduled since.")
    card = db.session.scalar(
        select(kind.card)
        .where(kind.card.user_id == user.id, getattr(kind.card, kind.reference) == rated_id)
        .with_for_update()
    )
    rated = db.session.get(kind.content, rated_id)
    if log.card_before is None:
        if card is not None:
            db.session.delete(card)
    elif card is not None:
        restore_snapshot(card, log.card_before)
    if log.attempt_id is not None:
        attempt = db.session.get(Attempt, log.attempt_id)
        if attempt is not None:
            db.session.delete(attempt)
    db.session.delete(log)
    db.session.commit()
    return rated


# -- leeches and settings --------------------------------------------------------------------


@dataclass(frozen=True)
class Leech:
    card: ReviewCard
    question: Question
    easier: list[Question]  # related questions of lower difficulty
    exercises: list[Exercise]


def leeches(user: User) -> list[Leech]:
    """The learner's leech cards, with easier related questions and linked exercises."""
    rows = db.session.execute(
        select(ReviewCard, Question)
        .join(Question, Question.id == ReviewCard.question_id)
        .where(ReviewCard.user_id == user.id, ReviewCard.leech.is_(True))
        .where(Question.retired_at.is_(None))
        .order_by(ReviewCard.lapses.desc(), Question.title)
    ).all()
    found = []
    for card, question in rows:
        level = DIFFICULTY_ORDER.get(question.difficulty, 1)
        related = active_by_slugs(Question, question.related_slugs)
        easier = [q for q in related if DIFFICULTY_ORDER.get(q.difficulty, 1) < level]
        found.append(
            Leech(card, question, easier, active_by_slugs(Exercise, question.exercise_slugs))
        )
    return found


LEECH_ACTIONS = ("resume", "reset", "keep")


def resolve_leech(user: User, slug: str, action: str, now: datetime | None = None) -> ReviewCard:
    """resume: back into review as it is; reset: forget it, learn it anew; keep: suspended."""
    if action not in LEECH_ACTIONS:
        raise InvalidInput(f"action must be one of {', '.join(LEECH_ACTIONS)}", field="action")
    question = get_question(slug)
    card = learner_card(user, question)
    if card is None or not card.leech:
        raise NotFound(f"'{question.title}' is not one of your leeches.")
    now = now or utcnow()
    if action == "keep":
        card.suspended_at = card.suspended_at or now
    elif action == "resume":
        card.leech = False
        card.suspended_at = None
    else:
        # Anki's "Forget": the card comes back as a new one; its attempts and log stay.
        db.session.delete(card)
    db.session.commit()
    return card


@dataclass(frozen=True)
class ReviewSettings:
    new_cards_per_day: int
    max_reviews_per_day: int
    leech_threshold: int


def review_settings(user: User) -> ReviewSettings:
    return ReviewSettings(user.new_cards_per_day, user.max_reviews_per_day, user.leech_threshold)


def update_review_settings(user: User, values: dict[str, Any]) -> ReviewSettings:
    """Set the daily limits and the leech threshold; InvalidInput names the bad field."""
    limits = {
        "new_cards_per_day": (0, MAX_NEW_PER_DAY),
        "max_reviews_per_day": (0, MAX_REVIEWS_PER_DAY),
        "leech_threshold": LEECH_THRESHOLD_RANGE,
    }
    parsed = {}
    for name, (low, high) in limits.items():
        raw = values.get(name)
        if raw is None or raw == "":
            continue
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise InvalidInput(f"{name.replace('_', ' ')} must be a whole number", name) from None
        if not low <= value <= high:
            raise InvalidInput(
                f"{name.replace('_', ' ')} must be between {low} and {high}", field=name
            )
        parsed[name] = value
    for name, value in parsed.items():
        setattr(user, name, value)
    db.session.commit()
    return review_settings(user)


def card_retrievability(user: User, question: Question, now: datetime | None = None):
    """(retrievability, card) for the learner's card of a question; (None, None) if unseen."""
    card = learner_card(user, question)
    if card is None:
        return None, None
    return retrievability(card.state, now or utcnow(), current_parameters(user)), card
