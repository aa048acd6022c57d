"""The question bank as stored: topics and questions, with markdown rendered at import."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from quizapp.models.base import Base, UTCDateTime, utcnow

question_topics = Table(
    "question_topics",
    Base.metadata,
    Column("question_id", ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True),
)


class Topic(Base):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)

    questions: Mapped[list[Question]] = relationship(
        secondary=question_topics, back_populates="topics"
    )


class Question(Base):
    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    difficulty: Mapped[str] = mapped_column(String(10), index=True)
    question_md: Mapped[str] = mapped_column(Text)
    question_html: Mapped[str] = mapped_column(Text)
    answer_md: Mapped[str] = mapped_column(Text)
    answer_html: Mapped[str] = mapped_column(Text)
    explanation_md: Mapped[str] = mapped_column(Text)
    explanation_html: Mapped[str] = mapped_column(Text)
    # Lists kept as JSON: they are read whole with the question and never queried into.
    references: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    related_slugs: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Former slugs; their URLs redirect here.
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    exercise_slugs: Mapped[list[str]] = mapped_column(JSON, default=list)
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # {"params", "derived"} of a question with per-learner variants; None without params.
    # The *_md texts then hold `{{ }}` templates, the *_html the reference variant.
    variant_spec: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    source_path: Mapped[str] = mapped_column(String(500))
    content_hash: Mapped[str] = mapped_column(String(64))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    topics: Mapped[list[Topic]] = relationship(
        secondary=question_topics, back_populates="questions", order_by=Topic.position
    )

    @property
    def has_diagram(self) -> bool:
        """Whether a text of the card holds a mermaid diagram (its page then needs mermaid.js)."""
        texts = (self.question_html, self.answer_html, self.explanation_html)
        return any('class="mermaid"' in (text or "") for text in texts)

    @property
    def shows_math_at_once(self) -> bool:
        """Whether math is on screen before anything is revealed (question text or checks)."""
        return "<math" in (self.question_html or "") or "<math" in json.dumps(self.checks)

    @property
    def is_retired(self) -> bool:
        return self.retired_at is not None
