"""What learners tell authors: problem reports on cards and exercises, with the author's reply."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from quizapp.models.base import Base, UTCDateTime, utcnow

REPORT_CATEGORIES = {
    "wrong_answer": "The answer or a key is wrong",
    "unclear": "Unclear or ambiguous",
    "typo": "Typo or formatting",
    "other": "Something else",
}
REPORT_STATUSES = {"open": "Open", "fixed": "Fixed", "wont_fix": "Won't fix"}


class ProblemReport(Base):
    __tablename__ = "problem_reports"
    __table_args__ = (
        Index("ix_problem_reports_status_created", "status", "created_at"),
        Index("ix_problem_reports_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # Exactly one of the two is set: the card or the exercise the report is about.
    question_id: Mapped[int | None] = mapped_column(ForeignKey("questions.id"), default=None)
    exercise_id: Mapped[int | None] = mapped_column(ForeignKey("exercises.id"), default=None)
    category: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="open")
    reply: Mapped[str | None] = mapped_column(Text, default=None)
    replied_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StatSnapshot(Base):
    """Item statistics as last computed, with the newest attempt they include.

    Aggregating every attempt costs seconds at 100,000 attempts; like Moodle's quiz
    statistics, the author pages read the last snapshot and recompute it when attempts
    have arrived and it is older than a minute, or on request."""

    __tablename__ = "stat_snapshots"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    attempt_watermark: Mapped[int] = mapped_column(Integer)
    attempt_count: Mapped[int] = mapped_column(Integer)
    payload: Mapped[Any] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
