"""Learners and what they did: accounts, API tokens, attempts, spaced-repetition cards."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from quizapp.models.base import Base, UTCDateTime, utcnow

ROLES = ("learner", "author", "admin")

# Tables whose ids leave the database (in cookies, URLs, API answers, logs) never hand out a
# deleted row's id again: SQLite would otherwise reuse the highest id after a deletion.
# PostgreSQL sequences never go back, so the option only changes SQLite.
NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


def new_session_token() -> str:
    """A random, unguessable identifier for a user's sessions (256 bits)."""
    return secrets.token_urlsafe(32)


class User(Base):
    __tablename__ = "users"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(40))
    # Lower-cased username: uniqueness and log-in ignore case.
    username_key: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(10), default="learner")
    desired_retention: Mapped[float] = mapped_column(Float, default=0.9)
    # Review limits per UTC day and the lapses that make a card a leech (Anki's defaults).
    new_cards_per_day: Mapped[int] = mapped_column(Integer, default=20, server_default="20")
    max_reviews_per_day: Mapped[int] = mapped_column(Integer, default=200, server_default="200")
    leech_threshold: Mapped[int] = mapped_column(Integer, default=8, server_default="8")
    # What the session and remember-me cookies name instead of the row id: random, so a
    # cookie can never point at another person, and replaced on log-out and password change
    # so every cookie issued before stops working (Flask-Login's "alternative id").
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    # Flask-Login protocol
    is_active = True
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    def get_id(self) -> str:
        return self.session_token


class ApiToken(Base):
    __tablename__ = "api_tokens"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    # Only a SHA-256 of the token is kept; the token itself is shown once, at creation.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # None: valid until revoked.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    user: Mapped[User] = relationship(back_populates="tokens")


class Attempt(Base):
    __tablename__ = "attempts"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key", name="uq_attempts_user_id_idempotency_key"),
        Index("ix_attempts_user_created", "user_id", "created_at"),
        # Item statistics: first attempt of each learner on each check, without a table scan.
        Index("ix_attempts_item_user", "question_id", "check_index", "user_id", "id"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"), index=True)
    check_index: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(30))
    response: Mapped[Any] = mapped_column(JSON)
    score: Mapped[float] = mapped_column(Float)
    correct: Mapped[bool] = mapped_column(Boolean)
    rating: Mapped[str | None] = mapped_column(String(10), default=None)
    elapsed_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(64), default=None)
    # The order the learner saw the check's lists in (display position -> authored index),
    # so feedback, review and export show the answer as it was given. None: authored order.
    layout: Mapped[dict[str, list[int]] | None] = mapped_column(JSON, default=None)
    # The parameter values of the learner's variant ({"n": 17, ...}) for a question with
    # params; grading, feedback and review replay it. None for a question without params.
    variant: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    hints_used: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tries_used: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Set when the attempt is an exercise run graded against the exercise's goals.
    exercise_slug: Mapped[str | None] = mapped_column(String(120), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FsrsCardColumns:
    """The columns of a learner's FSRS memory state that a rating changes, shared by the
    cards of questions and of exercises, so rescheduling, undo and retrievability treat
    both alike."""

    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stability: Mapped[float | None] = mapped_column(Float, default=None)
    difficulty: Mapped[float | None] = mapped_column(Float, default=None)
    reviews: Mapped[int] = mapped_column(Integer, default=0)
    lapses: Mapped[int] = mapped_column(Integer, default=0)
    last_review_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # A leech (failed leech_threshold times) is suspended from review until the learner acts.
    leech: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Optimistic lock: a concurrent update of the same card fails and is retried, never lost.
    version: Mapped[int] = mapped_column(Integer, default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}


class ReviewCard(FsrsCardColumns, Base):
    """A learner's FSRS memory state for one question."""

    __tablename__ = "review_cards"
    __table_args__ = (
        UniqueConstraint("user_id", "question_id", name="uq_review_cards_user_id_question_id"),
        Index("ix_review_cards_user_due", "user_id", "due_at"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"))
    # Advanced each time a review of the card is rated: the next review draws a new variant.
    variant_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
