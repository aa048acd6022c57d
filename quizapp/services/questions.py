"""Read side of the question bank: catalog, search, a question with its related cards, topics."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, case, func, or_, select, text
from sqlalchemy.orm import load_only, selectinload

from quizapp.content.schemas import DIFFICULTIES
from quizapp.extensions import db
from quizapp.models import Question, Topic, question_topics
from quizapp.services.errors import Gone, InvalidInput, Moved, NotFound

MAX_PER_PAGE = 100
MAX_SEARCH_LENGTH = 200


@dataclass(frozen=True)
class QuestionPage:
    items: list[Question]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def list_questions(
    *,
    topic: str | None = None,
    difficulty: str | None = None,
    search: str | None = None,
    page: int = 1,
    per_page: int = 24,
) -> QuestionPage:
    """Active questions matching the filters, ordered by difficulty then title."""
    if difficulty and difficulty not in DIFFICULTIES:
        raise InvalidInput("difficulty must be one of easy, medium, hard", field="difficulty")
    if page < 1:
        raise InvalidInput("page must be 1 or more", field="page")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput(f"per_page must be from 1 to {MAX_PER_PAGE}", field="per_page")
    if search and len(search) > MAX_SEARCH_LENGTH:
        raise InvalidInput(f"search is limited to {MAX_SEARCH_LENGTH} characters", field="q")
    query = select(Question).where(Question.retired_at.is_(None))
    if topic:
        query = query.where(
            Question.id.in_(
                select(question_topics.c.question_id)
                .join(Topic, Topic.id == question_topics.c.topic_id)
                .where(Topic.slug == topic)
            )
        )
    if difficulty:
        query = query.where(Question.difficulty == difficulty)
    if search and search.strip():
        for word in search.split()[:8]:
            pattern = f"%{_escape_like(word)}%"
            query = query.where(
                or_(
                    Question.title.ilike(pattern, escape="\\"),
                    Question.question_md.ilike(pattern, escape="\\"),
                    Question.answer_md.ilike(pattern, escape="\\"),
                )
            )
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = list(
        db.session.scalars(
            # Listings show title, difficulty and topics: leave the rendered texts unloaded.
            query.options(
                load_only(Question.id, Question.slug, Question.title, Question.difficulty),
                selectinload(Question.topics),
            )
            .order_by(difficulty_order(), Question.title)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return QuestionPage(items=items, total=total, page=page, per_page=per_page)


def difficulty_order():
    return case({name: rank for rank, name in enumerate(DIFFICULTIES)}, value=Question.difficulty)


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Plain SQL on purpose: this runs on every question page, and a prebuilt text statement
# skips SQLAlchemy's per-call statement compilation (a third of the page's time).
_CONTENT_VERSION = text(
    "SELECT (SELECT max(updated_at) FROM questions), (SELECT max(retired_at) FROM questions),"
    " (SELECT count(retired_at) FROM questions), (SELECT max(updated_at) FROM exercises),"
    " (SELECT count(retired_at) FROM exercises)"
)


def content_version() -> tuple:
    """Changes whenever an import adds, changes, retires or restores anything."""
    return tuple(db.session.execute(_CONTENT_VERSION).one())


def detach(*rows: Question) -> None:
    """Make loaded questions safe to keep beyond this request (no lazy loads, no session)."""
    for row in rows:
        # Its loaded topics too: left in the session, a later rollback (a locked database)
        # would expire them, and the cached page would fail reading a topic's slug.
        for item in (row, *row.__dict__.get("topics", ())):
            if item in db.session:
                db.session.expunge(item)


# Built once: looked up on every answer and rating (see services/review.py).
_BY_SLUG = select(Question).where(Question.slug == bindparam("slug"))
_BY_SLUG_WITH_TOPICS = _BY_SLUG.options(selectinload(Question.topics))


def get_question(slug: str, *, topics: bool = True) -> Question:
    """The question with this slug; NotFound, or Gone when it has been retired.

    `topics=False` leaves its topics to load on first use (a rating never shows them)."""
    query = _BY_SLUG_WITH_TOPICS if topics else _BY_SLUG
    question = db.session.scalar(query, {"slug": slug})
    return live_or_refused(Question, question, slug, "question")


def live_or_refused(model, row, slug: str, noun: str):
    """`row` (the `model` found by `slug`, or None) when it is live; else Moved when a live
    one lists `slug` among its former slugs, NotFound, or Gone when it has been retired."""
    if row is None or row.retired_at is not None:
        renamed = renamed_to(model, slug)
        if renamed is not None:
            raise Moved(f"The {noun} '{slug}' is now '{renamed}'.", slug=renamed)
    if row is None:
        raise NotFound(f"No {noun} '{slug}'.")
    if row.retired_at is not None:
        raise Gone(f"The {noun} '{row.title}' has been retired.")
    return row


def renamed_to(model, slug: str) -> str | None:
    """The live slug that lists `slug` among its former slugs (aliases), if any."""
    # Only reached when a slug misses, and the bank is small: aliases are read whole.
    for current, aliases in db.session.execute(
        select(model.slug, model.aliases).where(model.retired_at.is_(None))
    ):
        if slug in (aliases or []):
            return current
    return None


def active_by_slugs(model, slugs: list[str]) -> list:
    """Active (not retired) rows of a slugged model, in the order the slugs are given."""
    if not slugs:
        return []
    found = {
        row.slug: row
        for row in db.session.scalars(
            select(model).where(model.slug.in_(slugs), model.retired_at.is_(None))
        )
    }
    return [found[slug] for slug in slugs if slug in found]


def related_questions(question: Question) -> list[Question]:
    """The question's related cards in the author's order, leaving out retired ones."""
    return active_by_slugs(Question, question.related_slugs)


@dataclass(frozen=True)
class TopicSummary:
    topic: Topic
    question_count: int


def list_topics() -> list[TopicSummary]:
    """Every topic with its number of active questions, in the author's order."""
    counts = dict(
        db.session.execute(
            select(question_topics.c.topic_id, func.count())
            .join(Question, Question.id == question_topics.c.question_id)
            .where(Question.retired_at.is_(None))
            .group_by(question_topics.c.topic_id)
        ).all()
    )
    topics = db.session.scalars(select(Topic).order_by(Topic.position, Topic.title))
    return [TopicSummary(topic, counts.get(topic.id, 0)) for topic in topics]


def get_topic(slug: str) -> Topic:
    topic = db.session.scalar(select(Topic).where(Topic.slug == slug))
    if topic is None:
        raise NotFound(f"No topic '{slug}'.")
    return topic
