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
from quizapp.models import ExerciseCard, ReviewCard, ReviewLog, User
from quizapp.services.card_kinds import CARD_KINDS, CardKind, kind_of_log, parse_revlog_card_id
from quizapp.services.errors import InvalidInput
from quizapp.services.learning import current_parameters

MAX_CSV_BYTES = 8 * 1024 * 1024


def export_revlog(user: User) -> str:
    """Every rating the learner made or imported, oldest first. card_id is the question's
    slug, or "exercise:" and the slug for an exercise's card (see card_kinds)."""
    rows = []
    for kind in CARD_KINDS:
        rows += db.session.execute(
            select(ReviewLog, kind.content.slug)
            .join(kind.content, kind.content.id == getattr(ReviewLog, kind.reference))
            .where(ReviewLog.user_id == user.id)
        ).all()
    rows.sort(key=lambda row: (row[0].reviewed_at, row[0].id))
    return format_revlog_csv(
        RevlogRow(
            card_id=kind_of_log(log).revlog_card_id(slug),
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
    each card it touches by replaying its whole history. card_id must name a question or an
    exercise here, as the export writes it."""
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
    named = {row.card_id: parse_revlog_card_id(row.card_id) for row in rows}
    found: dict[str, tuple[CardKind, int]] = {}  # card_id -> (kind, content id)
    for kind in CARD_KINDS:
        slugs = {slug: card_id for card_id, (of, slug) in named.items() if of is kind}
        for content_id, slug in db.session.execute(
            select(kind.content.id, kind.content.slug).where(
                kind.content.slug.in_(list(slugs)), kind.content.retired_at.is_(None)
            )
        ):
            found[slugs[slug]] = (kind, content_id)
    problems = [
        f"line {row.line}: card_id: no {named[row.card_id][0].name} '{named[row.card_id][1]}' here"
        for row in rows
        if row.card_id not in found
    ]
    if problems:
        raise RevlogInvalid(problems[:50])
    existing: set[tuple[str, int, int]] = set()
    for kind in CARD_KINDS:
        ids = [content_id for of, content_id in found.values() if of is kind]
        reference = getattr(ReviewLog, kind.reference)
        existing |= {
            (kind.name, content_id, _ms(at))
            for content_id, at in db.session.execute(
                select(reference, ReviewLog.reviewed_at).where(
                    ReviewLog.user_id == user.id, reference.in_(ids)
                )
            )
        }
    imported = skipped = 0
    touched: set[tuple[CardKind, int]] = set()
    for row in rows:
        kind, content_id = found[row.card_id]
        key = (kind.name, content_id, _ms(row.review_time))
        if key in existing:
            skipped += 1
            continue
        existing.add(key)
        db.session.add(
            ReviewLog(
                user_id=user.id,
                rating=row.rating,
                review_state=row.state if row.state is not None else 0,
                reviewed_at=row.review_time,
                duration_ms=row.duration_ms,
                elapsed_days=row.elapsed_days if row.elapsed_days is not None else -1.0,
                source="import",
                **{kind.reference: content_id},
            )
        )
        imported += 1
        touched.add((kind, content_id))
    db.session.flush()
    for kind, content_id in touched:
        replay_card(user, kind, content_id)
    db.session.commit()
    return ImportResult(imported, skipped, len(touched))


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def replay_card(user: User, kind: CardKind, content_id: int) -> ReviewCard | ExerciseCard:
    """Rebuild a card's schedule from its whole review log, in time order (no commit). An
    exercise's card made here has no configuration yet: the learner's next run gives it one."""
    reference = getattr(ReviewLog, kind.reference)
    logs = list(
        db.session.scalars(
            select(ReviewLog)
            .where(ReviewLog.user_id == user.id, reference == content_id)
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
        select(kind.card).where(
            kind.card.user_id == user.id, getattr(kind.card, kind.reference) == content_id
        )
    )
    if card is None:
        card = kind.card(user_id=user.id, **{kind.reference: content_id})
        db.session.add(card)
    card.state, card.due_at = outcome.state, outcome.due
    card.stability, card.difficulty = outcome.stability, outcome.difficulty
    card.reviews, card.lapses, card.last_review_at = len(logs), lapses, last
    return card
