"""Exercises imported from YAML, simulation runs and the cache of simulator results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from quizapp.models.base import Base, UTCDateTime, utcnow
from quizapp.models.result_packing import pack_result, unpack_result


class Exercise(Base):
    __tablename__ = "exercises"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    difficulty: Mapped[str] = mapped_column(String(10))
    prompt_html: Mapped[str] = mapped_column(Text)
    explanation_html: Mapped[str] = mapped_column(Text)
    network: Mapped[dict[str, Any]] = mapped_column(JSON)
    choices: Mapped[dict[str, list[dict[str, Any]]]] = mapped_column(JSON)
    goals: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    feedback_html: Mapped[dict[str, str]] = mapped_column(JSON)
    hints_html: Mapped[list[str]] = mapped_column(JSON)
    question_slugs: Mapped[list[str]] = mapped_column(JSON)
    # Former slugs; their URLs redirect here.
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    source_path: Mapped[str] = mapped_column(String(500))
    content_hash: Mapped[str] = mapped_column(String(64))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SimResult(Base):
    """A finished simulation, keyed by its normalised config (seed included) and the simulator
    version: stored once however many runs show it. The result is kept packed (columns,
    deflated; see result_packing), read and written through `result` as a plain dict."""

    __tablename__ = "sim_results"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    simulator_version: Mapped[str] = mapped_column(String(20))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    packed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def result(self) -> dict[str, Any]:
        return unpack_result(self.packed)

    @result.setter
    def result(self, value: dict[str, Any]) -> None:
        self.packed = pack_result(value)


RUN_STATUSES = ("queued", "running", "done", "failed")


class SimRun(Base):
    """One request to simulate: from an exercise (with the learner's choices) or the lab."""

    __tablename__ = "sim_runs"
    __table_args__ = (Index("ix_sim_runs_user_created", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), default=None
    )
    exercise_id: Mapped[int | None] = mapped_column(ForeignKey("exercises.id"), default=None)
    choices: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    cache_key: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    error: Mapped[str | None] = mapped_column(Text, default=None)
    prediction: Mapped[str | None] = mapped_column(String(10), default=None)
    prediction_correct: Mapped[bool | None] = mapped_column(Boolean, default=None)
    passed: Mapped[bool | None] = mapped_column(Boolean, default=None)
    from_cache: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Who will finish a queued run (jobs/owners.py) and when it was last handed to them: a
    # run whose owner process is gone is handed to another one (services/simulations.py).
    owner: Mapped[str | None] = mapped_column(String(120), default=None)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
