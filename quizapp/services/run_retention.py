"""Stored runs and results stop growing without bound: anonymous runs are kept for a
retention period, and a result no run shows any more (nor any exercise choice) goes too.

Signed-in learners' runs stay: they are their history (dashboard, export) and go with the
account. `flask runs prune` runs this; production schedules it (docs: a daily cron line).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from quizapp.extensions import db
from quizapp.jobs import cache_key
from quizapp.models import SimResult, SimRun
from quizapp.models.base import utcnow
from quizapp.services.simulations import exercise_configs
from quizapp.sim import SIMULATOR_VERSION


@dataclass(frozen=True)
class PruneReport:
    runs_deleted: int
    results_deleted: int
    cutoff: datetime


def prune_runs(retention: timedelta, now: datetime | None = None) -> PruneReport:
    """Delete anonymous runs older than `retention`, then results older than it that no run
    uses and no exercise offers; one transaction."""
    if retention < timedelta(0):
        raise ValueError("the retention period cannot be negative")
    cutoff = (now or utcnow()) - retention
    runs = db.session.execute(
        delete(SimRun).where(SimRun.user_id.is_(None), SimRun.created_at < cutoff)
    ).rowcount
    # An exercise's choices are precomputed (`flask sim warm`) so they answer at once: keep.
    offered = {cache_key(config, SIMULATOR_VERSION) for config in exercise_configs()}
    unused = [
        key
        for key in db.session.scalars(
            select(SimResult.key)
            .where(SimResult.created_at < cutoff)
            .where(SimResult.key.not_in(select(SimRun.cache_key)))
        )
        if key not in offered
    ]
    for start in range(0, len(unused), 500):
        db.session.execute(delete(SimResult).where(SimResult.key.in_(unused[start : start + 500])))
    db.session.commit()
    return PruneReport(runs_deleted=runs, results_deleted=len(unused), cutoff=cutoff)
