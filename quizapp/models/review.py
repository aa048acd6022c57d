"""The review log (one row per rating, enough to undo it) and a learner's fitted FSRS parameters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from quizapp.models.accounts import NEVER_REUSE_IDS, FsrsCardColumns
from quizapp.models.base import Base, UTCDateTime, utcnow

REVIEW_SOURCES = ("app", "import")
FIT_STATUSES = ("queued", "running", "done", "failed")


class ReviewLog(Base):
    """One rating of one card, in the FSRS benchmark's terms, plus the card as it was before.

    `card_before` (the review card's columns before this rating, None for a new card) is what
    makes an exact undo possible.
    """

    __tablename__ = "review_logs"
    __table_args__ = (
        Index("ix_review_logs_user_reviewed", "user_id", "reviewed_at"),
        CheckConstraint("(question_id IS NULL) <> (exercise_id IS NULL)", name="one_card_kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The card rated: a question's, or an exercise's ("run it again and predict").
    question_id: Mapped[int | None] = mapped_column(
        ForeignKey("questions.id"), index=True, default=None
    )
    exercise_id: Mapped[int | None] = mapped_column(
        ForeignKey("exercises.id"), index=True, default=None
    )
    attempt_id: Mapped[int | None] = mapped_column(
        ForeignKey("attempts.id", ondelete="SET NULL"), default=None, index=True
    )
    rating: Mapped[int] = mapped_column(Integer)  # 1 Again, 2 Hard, 3 Good, 4 Easy
    review_state: Mapped[int] = mapped_column(Integer)  # before: 0 New 1 Learning 2 Review 3 Rel.
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    elapsed_days: Mapped[float] = mapped_column(Float, default=-1.0)  # -1 on the first review
    source: Mapped[str] = mapped_column(String(10), default="app")
    card_before: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class ExerciseCard(FsrsCardColumns, Base):
    """A learner's FSRS memory state for one exercise: "run it again and predict".

    Made when the learner's run of the exercise is recorded; in review it asks them to
    predict the outcome of `choices` (their last run's configuration), then shows the recorded
    result. The columns a rating changes are `FsrsCardColumns`, as a question's card's are.
    """

    __tablename__ = "exercise_cards"
    __table_args__ = (
        UniqueConstraint("user_id", "exercise_id", name="uq_exercise_cards_user_id_exercise_id"),
        Index("ix_exercise_cards_user_due", "user_id", "due_at"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    exercise_id: Mapped[int] = mapped_column(ForeignKey("exercises.id"))
    choices: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class ScheduleFit(Base):
    """One fit of a learner's FSRS parameters; the newest done fit is the one in use."""

    __tablename__ = "schedule_fits"
    __table_args__ = (
        UniqueConstraint("user_id", "version", name="uq_schedule_fits_user_id_version"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    trigger: Mapped[str] = mapped_column(String(10), default="learner")  # learner | monthly
    review_count: Mapped[int] = mapped_column(Integer, default=0)
    parameters: Mapped[list[float] | None] = mapped_column(JSON, default=None)
    log_loss_before: Mapped[float | None] = mapped_column(Float, default=None)
    log_loss_after: Mapped[float | None] = mapped_column(Float, default=None)
    rmse_before: Mapped[float | None] = mapped_column(Float, default=None)
    rmse_after: Mapped[float | None] = mapped_column(Float, default=None)
    recommended_retention: Mapped[float | None] = mapped_column(Float, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
