"""The gradient lab as an instrument: waiting for a run, history, permalinks, overlays."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from quizapp.extensions import db
from quizapp.jobs import JobOutcome, cache_key
from quizapp.jobs.completion import BOARD, wait_deadline
from quizapp.models import SimResult, SimRun, User
from quizapp.services.errors import InvalidInput
from quizapp.services.simulations import RunView, get_run, start_lab_run
from quizapp.sim import SIMULATOR_VERSION, SimConfigError, validate_config
from quizapp.sim.fields import minimal_config

# How often a waiter also reads the database: a run recorded by another process (a Celery
# worker, another gunicorn worker) is not announced on this process's board.
DATABASE_RECHECK = 0.05
MAX_WAIT = 25.0
MAX_OVERLAY = 4
OVERLAY_WAIT = 5.0


def wait_for_run(run_id: str, user: User | None, timeout: float) -> RunView:
    """The run once it has finished, or as it is after `timeout` seconds (long-polling).

    A lab run answers as soon as the worker's result arrives; an exercise run once its
    grade is stored.
    """
    view = get_run(run_id, user)
    deadline = wait_deadline(timeout, MAX_WAIT)
    while view.pending:
        left = deadline - time.monotonic()
        if left <= 0:
            return view
        graded = view.run.exercise_id is not None
        # Give the connection back while waiting: many waiters must not starve the pool the
        # recorder needs to store the very outcomes they wait for. The run stays loaded.
        db.session.expunge(view.run)
        db.session.rollback()
        found = BOARD.wait(run_id, min(left, DATABASE_RECHECK), recorded=graded)
        if found is not None and not graded:
            return _published_view(view, found.outcome)
        view = get_run(run_id, user)
    return view


def _published_view(view: RunView, outcome: JobOutcome) -> RunView:
    """A view of the outcome in memory; the run row itself is updated by the recorder."""
    run = view.run  # detached: this copy's status is never flushed over the recorder's
    run.status = "done" if outcome.ok else "failed"
    run.error = None if outcome.ok else (outcome.message or "The simulation failed.")
    return RunView(run, None, outcome.result if outcome.ok else None, [], [])


def normalised_lab_config(values: dict[str, Any]) -> dict[str, Any]:
    try:
        return validate_config(values)
    except SimConfigError as error:
        raise InvalidInput(str(error), field=error.field) from None


def share_query(config: dict[str, Any]) -> dict[str, Any]:
    """The permalink's query: the shortest config meaning the same (defaults left out)."""
    return minimal_config(config)


def shared_result(values: dict[str, Any]) -> RunView:
    """A configuration's result for anyone: from the cache, or a new anonymous run.

    The run is anonymous so the person opening the link can see it; nothing of the learner
    who shared it is stored or shown.
    """
    config = normalised_lab_config(values)
    cached = cached_view(config)
    if cached is not None:
        return cached
    run = start_lab_run(None, config)
    return get_run(run.id, None)


def lab_history(user: User, limit: int = 20) -> list[tuple[SimRun, str | None]]:
    """The learner's recent lab runs, newest first, each with its verdict when finished."""
    runs = list(
        db.session.scalars(
            select(SimRun)
            .where(SimRun.user_id == user.id, SimRun.exercise_id.is_(None))
            .order_by(SimRun.created_at.desc())
            .limit(limit)
        )
    )
    keys = {run.cache_key for run in runs if run.status == "done"}
    verdicts = {
        row.key: (row.result or {}).get("verdict")
        for row in db.session.scalars(select(SimResult).where(SimResult.key.in_(keys)))
    } if keys else {}  # fmt: skip
    return [(run, verdicts.get(run.cache_key)) for run in runs]


def overlay_views(run_ids: list[str], user: User | None) -> list[RunView]:
    """Up to four finished runs to draw on one chart (each must be visible to `user`)."""
    ids = [run_id for run_id in dict.fromkeys(run_ids) if run_id]
    if len(ids) < 1:
        raise InvalidInput("Choose one to four runs to overlay.", field="run")
    if len(ids) > MAX_OVERLAY:
        raise InvalidInput(f"At most {MAX_OVERLAY} runs can be overlaid.", field="run")
    return [_run_or_result(item, user) for item in ids]


def _run_or_result(item: str, user: User | None) -> RunView:
    """A run visible to `user`, or a cached result named by its id (a result is public)."""
    if len(item) == 32 and db.session.get(SimRun, item) is None:
        result = db.session.scalar(select(SimResult).where(SimResult.key.startswith(item)))
        if result is not None:
            return cached_view(result.config)
    # A run just shown in the lab may be a moment from being stored: wait for it briefly.
    return wait_for_run(item, user, OVERLAY_WAIT)


def cached_view(config: dict[str, Any]) -> RunView | None:
    """The result of a normalised config if it is in the cache (no run is recorded)."""
    key = cache_key(config, SIMULATOR_VERSION)
    cached = db.session.get(SimResult, key)
    if cached is None:
        return None
    run = SimRun(id=key[:32], config=config, cache_key=key, status="done", from_cache=True)
    return RunView(run, None, cached.result, [], [])
