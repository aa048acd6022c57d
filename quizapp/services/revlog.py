"""The learner's review log as CSV (FSRS benchmark layout), exported and imported."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from quizapp.domain.revlog import RevlogError, RevlogRow, format_revlog_csv, parse_revlog_csv
from quizapp.domain.scheduling import (
    RATING_NAMES,
    elapsed_days,
    review_state_number,
    schedule_review,
)
from quizapp.extensions import db
from quizapp.models import Question, ReviewCard, ReviewLog, User
from quizapp.services.errors import InvalidInput
from quizapp.services.learning import current_parameters

MAX_CSV_BYTES = 8 * 1024 * 1024


def export_revlog(user: User) -> str:
    """Every rating the learner made or imported, oldest first; card_id is the question slug."""
    rows = db.session.execute(
        select(ReviewLog, Question.slug)
        .join(Question, Question.id == ReviewLog.question_id)
        .where(ReviewLog.user_id == user.id)
        .order_by(ReviewLog.reviewed_at, ReviewLog.id)
    ).all()
    return format_revlog_csv(
        RevlogRow(
            card_id=slug,
            review_time=log.reviewed_at,
            rating=log.rating,
            state=log.review_state,
            duration_ms=log.duration_ms,
            elapsed_days=log.elapsed_days,
        )
        for log, slug in rows
    )


@dataclass(frozen=True)
class ImportResult:
    imported: int
    skipped: int  # already in the log (same card, same millisecond)
    cards: int  # cards rescheduled from their whole history


class RevlogInvalid(InvalidInput):
    """A CSV refused as a whole; `problems` are "line N: column: message"."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("The review log was not imported: " + "; ".join(problems[:3]), "file")
        self.problems = problems


def import_revlog(user: User, data: bytes | str) -> ImportResult:
    """Add the reviews of a revlog CSV to the learner's log, all or nothing, and reschedule
    each card it touches by replaying its whole history. card_id must be a question's slug."""
    if isinstance(data, bytes):
        if len(data) > MAX_CSV_BYTES:
            raise RevlogInvalid([f"line 1: the file is larger than {MAX_CSV_BYTES // 2**20} MiB"])
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise RevlogInvalid([f"byte {error.start}: the file is not UTF-8 text"]) from None
    try:
        rows = parse_revlog_csv(data)
    except RevlogError as error:
        raise RevlogInvalid(error.problems) from None
    slugs = {row.card_id for row in rows}
    questions = {
        q.slug: q
        for q in db.session.scalars(
            select(Question).where(Question.slug.in_(slugs), Question.retired_at.is_(None))
        )
    }
    problems = [
        f"line {row.line}: card_id: no question '{row.card_id}' here"
        for row in rows
        if row.card_id not in questions
    ]
    if problems:
        raise RevlogInvalid(problems[:50])
    existing = {
        (question_id, int(at.timestamp() * 1000))
        for question_id, at in db.session.execute(
            select(ReviewLog.question_id, ReviewLog.reviewed_at).where(
                ReviewLog.user_id == user.id,
                ReviewLog.question_id.in_([q.id for q in questions.values()]),
            )
        )
    }
    imported = skipped = 0
    touched: set[int] = set()
    for row in rows:
        question = questions[row.card_id]
        key = (question.id, int(row.review_time.timestamp() * 1000))
        if key in existing:
            skipped += 1
            continue
        existing.add(key)
        db.session.add(
            ReviewLog(
                user_id=user.id,
                question_id=question.id,
                rating=row.rating,
                review_state=row.state if row.state is not None else 0,
                reviewed_at=row.review_time,
                duration_ms=row.duration_ms,
                elapsed_days=row.elapsed_days if row.elapsed_days is not None else -1.0,
                source="import",
            )
        )
        imported += 1
        touched.add(question.id)
    db.session.flush()
    for question_id in touched:
        replay_card(user, question_id)
    db.session.commit()
    return ImportResult(imported, skipped, len(touched))


def replay_card(user: User, question_id: int) -> ReviewCard:
    """Rebuild a card's schedule from its whole review log, in time order (no commit)."""
    logs = list(
        db.session.scalars(
            select(ReviewLog)
            .where(ReviewLog.user_id == user.id, ReviewLog.question_id == question_id)
            .order_by(ReviewLog.reviewed_at, ReviewLog.id)
        )
    )
    parameters = current_parameters(user)
    state = None
    last: datetime | None = None
    lapses = 0
    outcome = None
    for number, log in enumerate(logs):
        rating = RATING_NAMES[log.rating]
        log.review_state = review_state_number(state)
        log.elapsed_days = elapsed_days(last, log.reviewed_at)
        # A replayed history has new states in between: no snapshot of it is exact any more.
        log.card_before = None
        outcome = schedule_review(state, rating, log.reviewed_at, user.desired_retention,
                                  parameters, log.duration_ms)  # fmt: skip
        state, last = outcome.state, log.reviewed_at
        lapses += 1 if rating == "again" and number > 0 else 0
    card = db.session.scalar(
        select(ReviewCard).where(
            ReviewCard.user_id == user.id, ReviewCard.question_id == question_id
        )
    )
    if card is None:
        card = ReviewCard(user_id=user.id, question_id=question_id)
        db.session.add(card)
    card.state, card.due_at = outcome.state, outcome.due
    card.stability, card.difficulty = outcome.stability, outcome.difficulty
    card.reviews, card.lapses, card.last_review_at = len(logs), lapses, last
    return card
