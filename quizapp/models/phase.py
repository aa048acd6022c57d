"""Phase diagrams: a sweep (preset, grid size, simulator version) and its finished cells."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from quizapp.models.base import Base, UTCDateTime, utcnow


class PhaseSweep(Base):
    """One grid of simulations; shared by everyone who asks for the same preset and size."""

    __tablename__ = "phase_sweeps"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    preset: Mapped[str] = mapped_column(String(60))
    size: Mapped[int] = mapped_column(Integer)
    simulator_version: Mapped[str] = mapped_column(String(20))
    total: Mapped[int] = mapped_column(Integer)
    # Theory lines computed by the first batch (None: none): along the x axis [[x, χ₁], ...]
    # ("chi1"), or across the grid [[y, x at χ₁ = 1, x at 10⁻³, x at 10³], ...] ("chi1_xy").
    theory: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PhaseCell(Base):
    """A finished cell: insert-only, so batches finishing side by side never conflict."""

    __tablename__ = "phase_cells"

    sweep_key: Mapped[str] = mapped_column(
        ForeignKey("phase_sweeps.key", ondelete="CASCADE"), primary_key=True
    )
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    log10_ratio: Mapped[float | None] = mapped_column(Float, default=None)
    verdict: Mapped[str] = mapped_column(String(10))
    chi1: Mapped[float | None] = mapped_column(Float, default=None)
