"""Answering a check: grade it, store the attempt and reschedule the learner's card, atomically."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import reduce
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from quizapp.domain.grading import (
    ANONYMOUS_LEARNER,
    VARIANT_SPEC,
    Grade,
    InvalidResponse,
    ResolvedCheck,
    account_key,
    apply_hints_and_tries,
    check_id,
    draw_variant,
    resolve_check,
    stored_check,
)
from quizapp.domain.scheduling import (
    RATING_NUMBERS,
    RATINGS,
    elapsed_days,
    rating_for_grade,
    review_state_number,
    schedule_review,
)
from quizapp.extensions import db
from quizapp.models import (
    Attempt,
    ExerciseCard,
    Question,
    ReviewCard,
    ReviewLog,
    ScheduleFit,
    User,
)
from quizapp.models.base import utcnow
from quizapp.services.card_kinds import CARD_KINDS, CardKind
from quizapp.services.errors import Conflict, InvalidInput, ServiceError
from quizapp.services.questions import get_question
from quizapp.services.variants import learner_epoch, stored_question

MAX_IDEMPOTENCY_KEY = 64
MAX_ELAPSED_MS = 24 * 3600 * 1000
# A lost race on the same card (two tabs) is retried; more than this is a real conflict.
UPDATE_RETRIES = 5


@dataclass(frozen=True)
class AnswerResult:
    question: Question
    check_index: int
    check: dict[str, Any]
    grade: Grade
    stored: bool
    resolved: ResolvedCheck
    attempt_id: int | None = None
    next_review_at: datetime | None = None
    duplicate: bool = False


def submit_answer(
    user: User | None,
    slug: str,
    check_index: Any,
    response: Any,
    *,
    rating: str | None = None,
    elapsed_ms: Any = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
    learner_key: str | None = None,
    hints_used: Any = 0,
    tries_used: Any = 1,
    variant_key: str | None = None,
    variant: dict[str, Any] | None = None,
) -> AnswerResult:
    """Grade `response`, given in the order the learner saw; for a signed-in learner also
    record it and update the review card.

    `learner_key` names an anonymous visitor's layout (a signed-in learner's is their own).
    A question with params is graded in the learner's variant (for an account, the one of
    their card's variant epoch), or in `variant_key`'s when given (a visitor's answer
    adopted by their new account), or in `variant` (one recorded earlier, graded again);
    the variant is recorded with the attempt.
    `tries_used` counts this try; a wrong answer with tries left is graded but not stored
    (`grade.final` is False). `hints_used` hints each take the check's penalty off the score.
    """
    question = get_question(slug)
    index = _check_index(question, check_index)
    check = question.checks[index]
    if rating is not None:
        rating_name(rating)  # refused here, before anything is graded
    learner = account_key(user.id) if user is not None else (learner_key or ANONYMOUS_LEARNER)
    epoch = learner_epoch(user.id, question.id) if user is not None and question.variant_spec else 0
    resolved = resolve_check(check, learner, check_id(slug, index), epoch=epoch)
    if resolved.variant is not None and (variant_key is not None or variant):
        seen = variant or draw_variant(check[VARIANT_SPEC], variant_key or learner, slug)
        resolved = stored_check(check, resolved.layout, seen)
    try:
        grade = resolved.grade(
            response,
            rating,
            hints_used=_count(hints_used, "hints_used", 0),
            tries_used=_count(tries_used, "tries_used", 1),
        )
    except InvalidResponse as error:
        raise InvalidInput(str(error), field="response") from None
    if grade.rating is not None and not resolved.kind.automatic and grade.expected is None:
        shown = stored_question(question, resolved.variant)
        grade = _with_expected(grade, shown.answer_md)
    if user is None or not grade.final:
        return AnswerResult(question, index, check, grade, stored=False, resolved=resolved)

    elapsed = _elapsed(elapsed_ms)
    key = _idempotency_key(idempotency_key)
    if key is not None:
        earlier = _attempt_by_key(user.id, key)
        if earlier is not None:
            return _replay(question, index, check, earlier)

    now = now or utcnow()
    for _ in range(UPDATE_RETRIES):
        try:
            attempt = Attempt(
                user_id=user.id,
                question_id=question.id,
                check_index=index,
                kind=check["kind"],
                response=grade.normalized_response,
                layout=resolved.layout or None,
                variant=resolved.variant,
                hints_used=grade.hints_used,
                tries_used=grade.tries_used,
                score=grade.score,
                correct=grade.correct,
                rating=grade.rating,
                elapsed_ms=elapsed,
                idempotency_key=key,
                created_at=now,
            )
            db.session.add(attempt)
            card = reschedule_card(user, question, grade, elapsed, now, attempt=attempt)
            db.session.commit()
            return AnswerResult(
                question, index, check, grade, True, resolved, attempt.id, card.due_at, False
            )
        except (StaleDataError, IntegrityError):
            db.session.rollback()
            if key is not None:
                earlier = _attempt_by_key(user.id, key)
                if earlier is not None:  # the other tab's submission of this very form
                    return _replay(question, index, check, earlier)
    raise Conflict("This card is being updated elsewhere; please submit again.")


@dataclass(frozen=True)
class UnsavedAnswer:
    """An answer a visitor gave before having an account, to be replayed into one."""

    slug: str
    check_index: Any
    response: Any
    rating: str | None
    elapsed_ms: Any
    answered_at: datetime
    # Whose option order the visitor saw: the response is in those positions.
    learner_key: str | None = None
    hints_used: Any = 0
    tries_used: Any = 1


def adopt_answers(user: User, answers: list[UnsavedAnswer], now: datetime | None = None) -> int:
    """Record a visitor's earlier answers for `user`, in the order given, as if answered then.

    Each is graded and scheduled as on the day it was given, so the FSRS cards come out as
    if the learner had been signed in all along. Answers that no longer fit (a retired
    question, a changed check) are skipped. Returns how many were recorded.
    """
    now = now or utcnow()
    adopted = 0
    for answer in sorted(answers, key=lambda item: item.answered_at):
        # A clock in the future would schedule the card from a day that has not come.
        when = min(answer.answered_at, now)
        try:
            submit_answer(
                user,
                answer.slug,
                answer.check_index,
                _as_seen_by(user, answer),
                rating=answer.rating,
                elapsed_ms=answer.elapsed_ms,
                now=when,
                hints_used=answer.hints_used,
                tries_used=answer.tries_used,
                # Graded in the numbers the visitor saw, not the account's own.
                variant_key=answer.learner_key or ANONYMOUS_LEARNER,
            )
        except ServiceError:
            db.session.rollback()
            continue
        adopted += 1
    return adopted


def _as_seen_by(user: User, answer: UnsavedAnswer) -> Any:
    """The visitor's response (in the positions they were shown) in the positions the new
    account is shown, so the adopted attempt records what the visitor really chose."""
    question = get_question(answer.slug)
    index = _check_index(question, answer.check_index)
    check, identity = question.checks[index], check_id(answer.slug, index)
    seen = resolve_check(check, answer.learner_key or ANONYMOUS_LEARNER, identity)
    try:
        authored = seen.from_display(answer.response)
    except InvalidResponse as error:
        raise InvalidInput(str(error), field="response") from None
    return resolve_check(check, account_key(user.id), identity).to_display(authored)


def grade_again(
    slug: str,
    check_index: Any,
    response: Any,
    rating: str | None,
    learner_key: str | None,
    hints_used: Any = 0,
    tries_used: Any = 1,
    variant: dict[str, Any] | None = None,
):
    """Grade an answer given earlier (in `variant`, for a question with params) without
    storing anything; None if it no longer fits."""
    try:
        return submit_answer(
            None,
            slug,
            check_index,
            response,
            rating=rating,
            learner_key=learner_key,
            hints_used=hints_used,
            tries_used=tries_used,
            variant=variant if isinstance(variant, dict) else None,
        )
    except ServiceError:
        return None


def commit_keeping_loaded() -> None:
    """Commit without expiring what the session holds: the caller goes on to show the rows it
    just wrote (and the learner it wrote them for), which would otherwise each be read again."""
    session = db.session()
    keep = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = keep


def reschedule_card(
    user: User,
    question: Question,
    grade: Grade | None,
    elapsed_ms: int | None,
    now: datetime,
    *,
    rating: str | None = None,
    attempt: Attempt | None = None,
) -> ReviewCard:
    """Apply one answer to the learner's FSRS card for the question and log it (no commit)."""
    return reschedule(user, question, grade, elapsed_ms, now, rating=rating, attempt=attempt)[0]


def reschedule(
    user: User,
    question: Question,
    grade: Grade | None,
    elapsed_ms: int | None,
    now: datetime,
    *,
    rating: str | None = None,
    attempt: Attempt | None = None,
) -> tuple[ReviewCard, ReviewLog]:
    """Apply one answer to the learner's FSRS card for the question and log it (no commit);
    returns the card and its new log entry.

    `rating` overrides the rating derived from `grade` (the review screen's 1–4 keys). The
    review log keeps the card as it was, so the rating can be undone exactly; a card that
    reaches the learner's leech threshold of lapses is flagged and suspended.
    """
    # FOR UPDATE: a second tab waits for the first one's commit instead of failing its update.
    card = db.session.scalar(_CARD_FOR_UPDATE, {"user_id": user.id, "qid": question.id})
    if rating is None:
        rating = rating_for_grade(grade, None if elapsed_ms is None else elapsed_ms / 1000)
    return apply_rating(
        user,
        card,
        lambda: ReviewCard(user_id=user.id, question_id=question.id, reviews=0, lapses=0),
        rating,
        elapsed_ms,
        now,
        attempt=attempt,
        question_id=question.id,
    )


def apply_rating(
    user: User,
    card: Any,
    new_card: Callable[[], Any],
    rating: str,
    elapsed_ms: int | None,
    now: datetime,
    *,
    attempt: Attempt | None = None,
    leeches: bool = True,
    **card_reference: int,
) -> tuple[Any, ReviewLog]:
    """Rate a card (a ReviewCard or an ExerciseCard: the same columns; `new_card()` makes it
    on its first rating) and log the rating with the card as it was (no commit).

    `card_reference` names the log's card (question_id= or exercise_id=). With `leeches`, a
    card reaching the learner's leech threshold of lapses is flagged and suspended."""
    before = card_snapshot(card)
    outcome = schedule_review(
        card.state if card else None,
        rating,
        now,
        desired_retention=user.desired_retention,
        parameters=current_parameters(user),
        duration_ms=elapsed_ms,
    )
    log = ReviewLog(
        user_id=user.id,
        rating=RATING_NUMBERS[rating],
        review_state=review_state_number(card.state if card else None),
        reviewed_at=now,
        duration_ms=elapsed_ms,
        elapsed_days=elapsed_days(card.last_review_at if card else None, now),
        source="app",
        card_before=before,
        **card_reference,
    )
    if card is None:
        card = new_card()
        db.session.add(card)
    card.state = outcome.state
    card.due_at = outcome.due
    card.stability = outcome.stability
    card.difficulty = outcome.difficulty
    card.reviews = (card.reviews or 0) + 1
    lapsed = rating == "again" and card.reviews > 1
    card.lapses = (card.lapses or 0) + (1 if lapsed else 0)
    card.last_review_at = now
    if leeches and lapsed and not card.leech and card.lapses >= user.leech_threshold:
        card.leech = True
        card.suspended_at = now
    db.session.flush()
    if attempt is not None:
        log.attempt_id = attempt.id
    db.session.add(log)
    db.session.flush()
    return card, log


# The columns of a review card that a rating changes: what an undo puts back.
_SNAPSHOT_TIMES = ("due_at", "last_review_at", "suspended_at")
_SNAPSHOT_VALUES = (
    "state", "stability", "difficulty", "reviews", "lapses", "leech", "variant_epoch"
)  # fmt: skip


def card_snapshot(card: ReviewCard | ExerciseCard | None) -> dict[str, Any] | None:
    """The card's schedulable columns as JSON (None for a card not yet created). An exercise
    card has no variant epoch: only the columns the card has are kept."""
    if card is None:
        return None
    snapshot: dict[str, Any] = {
        name: getattr(card, name) for name in _SNAPSHOT_VALUES if hasattr(card, name)
    }
    for name in _SNAPSHOT_TIMES:
        value = getattr(card, name)
        snapshot[name] = value.isoformat() if value is not None else None
    return snapshot


def restore_snapshot(card: ReviewCard | ExerciseCard, snapshot: dict[str, Any]) -> None:
    """Put a card back exactly as `card_snapshot` recorded it."""
    for name in _SNAPSHOT_VALUES:
        if name in snapshot:  # snapshots taken before a column existed lack it
            setattr(card, name, snapshot[name])
    for name in _SNAPSHOT_TIMES:
        value = snapshot[name]
        setattr(card, name, datetime.fromisoformat(value) if value is not None else None)


# Statements run on every answer and rating are built once (see services/review.py).
_CURRENT_PARAMETERS = (
    select(ScheduleFit.parameters)
    .where(ScheduleFit.user_id == bindparam("user_id"), ScheduleFit.status == "done")
    .order_by(ScheduleFit.version.desc())
    .limit(1)
)
_CARD_FOR_UPDATE = (
    select(ReviewCard)
    .where(ReviewCard.user_id == bindparam("user_id"), ReviewCard.question_id == bindparam("qid"))
    .with_for_update()
)


def rating_name(raw: Any) -> str:
    """A 1–4 rating's name (again, hard, good, easy) as a form or JSON sends it, any case."""
    if not isinstance(raw, str) or raw.lower() not in RATINGS:
        raise InvalidInput(f"rating must be one of {', '.join(RATINGS)}", field="rating")
    return raw.lower()


@dataclass(frozen=True)
class RatingResult:
    """A recorded rating of a question's or an exercise's card (`duplicate`: the same rating
    sent again, or the card rated since it was shown: the rating already there)."""

    log: ReviewLog
    card: ReviewCard | ExerciseCard
    rating: str
    duplicate: bool = False


def current_parameters(user: User) -> list[float] | None:
    """The learner's FSRS weights from their newest successful fit, or None for the defaults."""
    return db.session.scalar(_CURRENT_PARAMETERS, {"user_id": user.id})


def _check_index(question: Question, raw: Any) -> int:
    if isinstance(raw, bool) or raw is None:
        raise InvalidInput("check must be the index of one of the question's checks", "check")
    if isinstance(raw, str) and raw.strip().isdecimal():
        raw = int(raw)
    if not isinstance(raw, int) or not 0 <= raw < len(question.checks):
        raise InvalidInput(
            f"check must be a number from 0 to {len(question.checks) - 1}", field="check"
        )
    return raw


def _count(raw: Any, name: str, least: int) -> int:
    if raw is None or raw == "":
        return least
    if isinstance(raw, bool) or not (isinstance(raw, int) or str(raw).strip().isdecimal()):
        raise InvalidInput(f"{name} must be a whole number", field=name)
    return max(least, min(int(raw), 100))


def _elapsed(raw: Any) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        value = int(float(raw))
    except (TypeError, ValueError, OverflowError):  # OverflowError: inf, or an int past float
        raise InvalidInput("elapsed_ms must be a number of milliseconds", "elapsed_ms") from None
    return max(0, min(value, MAX_ELAPSED_MS))


def _idempotency_key(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or len(raw) > MAX_IDEMPOTENCY_KEY or not raw.isprintable():
        raise InvalidInput(
            f"idempotency key must be text of at most {MAX_IDEMPOTENCY_KEY} characters",
            field="idempotency_key",
        )
    return raw


_ATTEMPT_BY_KEY = select(Attempt).where(
    Attempt.user_id == bindparam("user_id"), Attempt.idempotency_key == bindparam("key")
)


def _attempt_by_key(user_id: int, key: str) -> Attempt | None:
    return db.session.scalar(_ATTEMPT_BY_KEY, {"user_id": user_id, "key": key})


def _replay(question: Question, index: int, check: dict, attempt: Attempt) -> AnswerResult:
    """The result of an attempt already stored, for a form submitted twice."""
    if attempt.question_id != question.id or attempt.check_index != index:
        # Replaying it would grade the earlier response against this check.
        raise Conflict(
            "That idempotency key was already used for another answer; send a new key.",
            field="idempotency_key",
        )
    resolved = stored_check(check, attempt.layout, attempt.variant)
    grade = resolved.kind.grade(resolved.check, attempt.response, attempt.rating)
    grade = apply_hints_and_tries(
        resolved.check, resolved.kind, grade, attempt.hints_used or 0, attempt.tries_used or 1
    )
    card = db.session.scalar(
        select(ReviewCard).where(
            ReviewCard.user_id == attempt.user_id, ReviewCard.question_id == question.id
        )
    )
    return AnswerResult(
        question,
        attempt.check_index,
        check,
        grade,
        stored=True,
        resolved=resolved,
        attempt_id=attempt.id,
        next_review_at=card.due_at if card else None,
        duplicate=True,
    )


def _with_expected(grade: Grade, expected: str) -> Grade:
    return replace(grade, expected=expected)


def _due_of_kind(kind: CardKind):
    """How many of the learner's cards of one kind are due by `now` (unsuspended, on content
    that is not retired): a subquery."""
    return (
        select(func.count())
        .select_from(kind.card)
        .join(kind.content, kind.content.id == getattr(kind.card, kind.reference))
        .where(
            kind.card.user_id == bindparam("user_id"),
            kind.card.due_at <= bindparam("now"),
            kind.card.suspended_at.is_(None),
            kind.content.retired_at.is_(None),
        )
        .scalar_subquery()
    )


_DUE_COUNT = select(reduce(operator.add, (_due_of_kind(kind) for kind in CARD_KINDS)))


def due_count(user: User, now: datetime | None = None) -> int:
    """How many of the learner's cards (questions' and exercises') are due now (retired
    ones left out)."""
    return db.session.scalar(_DUE_COUNT, {"user_id": user.id, "now": now or utcnow()}) or 0


def _due(user: User, now: datetime) -> tuple:
    """The conditions of a due card (joined with its question): the learner's, due by `now`,
    not suspended, its question not retired."""
    return (
        ReviewCard.user_id == user.id,
        ReviewCard.due_at <= now,
        ReviewCard.suspended_at.is_(None),
        Question.retired_at.is_(None),
    )


@dataclass(frozen=True)
class DueCard:
    question: Question
    due_at: datetime
    reviews: int


def due_cards(user: User, now: datetime | None = None, limit: int = 50) -> list[DueCard]:
    """The learner's due cards, most overdue first."""
    now = now or utcnow()
    rows = db.session.execute(
        select(Question, ReviewCard.due_at, ReviewCard.reviews)
        .join(ReviewCard, ReviewCard.question_id == Question.id)
        .where(*_due(user, now))
        .order_by(ReviewCard.due_at, Question.id)
        .limit(limit)
    ).all()
    return [DueCard(question, due, reviews) for question, due, reviews in rows]
