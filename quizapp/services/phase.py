"""Phase diagrams: start a sweep on the job backend, record its cells, read it back.

A sweep is cut into batches (one job each, many small networks per job) and fed to the
backend a few at a time, so a sweep never fills the queue that single lab runs share; each
finished batch is stored at once (cells fill in as they finish) and submits the next one.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from quizapp.extensions import db
from quizapp.jobs import JobOutcome, QueueFull
from quizapp.jobs.backends import backend_for
from quizapp.jobs.completion import PROGRESS, wait_deadline
from quizapp.models import PhaseCell, PhaseSweep
from quizapp.models.base import utcnow
from quizapp.services.errors import InvalidInput, NotFound
from quizapp.sim import SIMULATOR_VERSION
from quizapp.sim.phase import (
    DEFAULT_SIZE,
    MAX_SIZE,
    MIN_SIZE,
    PHASE_PRESETS,
    THEORY_CURVES,
    PhasePreset,
    phase_cells,
    phase_grid,
)

log = logging.getLogger(__name__)

BATCH_CELLS = 20
IN_FLIGHT_PER_WORKER = 2  # batches queued per worker: enough to keep it busy, no more
DATABASE_RECHECK = 0.25
MAX_WAIT = 25.0

_active: set[str] = set()  # sweeps this process is driving
_active_lock = threading.Lock()


@dataclass(frozen=True)
class PhaseView:
    key: str
    preset: PhasePreset
    size: int
    xs: list[float]
    ys: list[float]
    cells: dict[int, PhaseCell]
    theory: list[list[float]] | None = None

    @property
    def total(self) -> int:
        return len(self.xs) * len(self.ys)

    @property
    def complete(self) -> bool:
        return len(self.cells) >= self.total


def get_preset(name: str) -> PhasePreset:
    if name not in PHASE_PRESETS:
        raise InvalidInput(
            f"preset: unknown {name[:40]!r} (one of {', '.join(PHASE_PRESETS)})", field="preset"
        )
    return PHASE_PRESETS[name]


def check_size(size: Any) -> int:
    try:
        size = int(size) if size not in (None, "") else DEFAULT_SIZE
    except (TypeError, ValueError):
        raise InvalidInput("size must be a whole number", field="size") from None
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise InvalidInput(f"size must be between {MIN_SIZE} and {MAX_SIZE}", field="size")
    return size


def sweep_key(preset: PhasePreset, size: int) -> str:
    return hashlib.sha256(f"{SIMULATOR_VERSION}|{preset.name}|{size}".encode()).hexdigest()


def start_phase(preset_name: str, size: Any) -> PhaseView:
    """The sweep for this preset and size; starts computing whatever is missing."""
    preset, size = get_preset(preset_name), check_size(size)
    key = sweep_key(preset, size)
    xs, ys = phase_grid(preset, size)
    if db.session.get(PhaseSweep, key) is None:
        db.session.add(
            PhaseSweep(
                key=key,
                preset=preset.name,
                size=size,
                simulator_version=SIMULATOR_VERSION,
                total=len(xs) * len(ys),
                created_at=utcnow(),
            )
        )
        try:
            db.session.commit()
        except IntegrityError:  # someone asked for the same sweep at the same moment
            db.session.rollback()
    view = read_phase(key)
    if not view.complete or (preset.theory in THEORY_CURVES and view.theory is None):
        _drive(current_app._get_current_object(), view)
    return view


def read_phase(key: str) -> PhaseView:
    sweep = db.session.get(PhaseSweep, key) if len(key) <= 64 else None
    if sweep is None or sweep.preset not in PHASE_PRESETS:
        raise NotFound("No such phase diagram.")
    preset = PHASE_PRESETS[sweep.preset]
    xs, ys = phase_grid(preset, sweep.size)
    cells = {
        cell.index: cell
        for cell in db.session.scalars(select(PhaseCell).where(PhaseCell.sweep_key == key))
    }
    return PhaseView(key, preset, sweep.size, xs, ys, cells, sweep.theory)


def wait_for_progress(key: str, seen: int, timeout: float) -> PhaseView:
    """The sweep once more than `seen` cells are finished (or it is complete), long-polling."""
    deadline = wait_deadline(timeout, MAX_WAIT)
    view = read_phase(key)
    while len(view.cells) <= seen and not view.complete:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        db.session.rollback()  # release the connection while waiting
        PROGRESS.wait(key, seen, min(left, DATABASE_RECHECK))
        view = read_phase(key)
    return view


def _drive(app: Flask, view: PhaseView) -> None:
    """Feed the missing cells to the backend, a few batches at a time, once per process."""
    with _active_lock:
        if view.key in _active:
            return
        _active.add(view.key)
    todo = [
        (index, config)
        for index, config in phase_cells(view.preset, view.size)
        if index not in view.cells
    ]
    batches = [todo[i : i + BATCH_CELLS] for i in range(0, len(todo), BATCH_CELLS)]
    missing_theory = view.preset.theory in THEORY_CURVES and view.theory is None
    theory = view.preset.name if missing_theory else None
    if theory and not batches:
        batches = [[]]  # the theory line needs a job even when every cell is stored
    feeder = threading.Thread(
        target=_feed, args=(app, view.key, batches, theory), name="phase-feeder", daemon=True
    )
    feeder.start()


def _feed(app: Flask, key: str, batches: list, theory: str | None) -> None:
    """Keep a few batches in flight until all are sent, watching the stored cells.

    Works the same for every backend: the local pool stores a batch's cells in this process
    (and wakes this thread at once); a Celery worker stores them in the database, read here.
    """
    backend = backend_for(app)
    window = max(1, int(app.config["QUIZAPP_SIM_WORKERS"]) * IN_FLIGHT_PER_WORKER)
    try:
        with app.app_context():
            start = finished_count(key)
            sent = 0  # cells sent so far
            done = 0
            idle_since = time.monotonic()
            while batches or done < sent:
                in_flight = math.ceil((sent - done) / BATCH_CELLS)
                while batches and in_flight < window:
                    batch = batches.pop(0)
                    payload = {"cells": batch, "theory": theory}
                    theory = None
                    if not _submit(app, backend, key, payload):
                        log.error("phase sweep %s: the queue stayed full", key)
                        return
                    sent += len(batch)
                    in_flight += 1 if batch else 0
                db.session.rollback()  # end the read transaction: fresh counts next time
                PROGRESS.wait(key, 0, DATABASE_RECHECK)
                now_done = finished_count(key) - start
                if now_done > done:
                    done, idle_since = now_done, time.monotonic()
                elif time.monotonic() - idle_since > FEED_GIVE_UP:
                    log.error("phase sweep %s: no cell finished for %d s", key, FEED_GIVE_UP)
                    return
    finally:
        with _active_lock:
            _active.discard(key)


FEED_GIVE_UP = 120  # seconds without a finished cell before a feeder stops


def _submit(app: Flask, backend, key: str, payload: dict) -> bool:
    for _ in range(50):
        try:
            backend.submit(
                f"phase:{key}",
                payload,
                lambda job_id, outcome: record_batch(app, job_id, outcome),
                kind="phase_cells",
            )
            return True
        except QueueFull:
            time.sleep(0.1)
    return False


def record_batch(app: Flask, job_id: str, outcome: JobOutcome) -> None:
    """Store a finished batch of cells (from the local pool or a Celery worker)."""
    key = job_id.removeprefix("phase:")
    if not outcome.ok:
        log.error("phase sweep %s: a batch ended %s: %s", key, outcome.status, outcome.message)
        PROGRESS.bump(key)
        return
    result = outcome.result or {}
    record_cells(app, key, result.get("cells", []), result.get("theory"))


def record_cells(
    app: Flask, key: str, cells: list[dict[str, Any]], theory: list | None = None
) -> None:
    """Store finished cells (a cell already stored is left as it is) and wake the waiters."""
    with app.app_context():
        try:
            if theory is not None:
                sweep = db.session.get(PhaseSweep, key)
                if sweep is not None:
                    sweep.theory = theory
            known = set(
                db.session.scalars(select(PhaseCell.index).where(PhaseCell.sweep_key == key))
            )
            for cell in cells:
                if cell["index"] in known:
                    continue
                db.session.add(
                    PhaseCell(
                        sweep_key=key,
                        index=cell["index"],
                        log10_ratio=cell.get("log10_ratio"),
                        verdict=cell["verdict"],
                        chi1=cell.get("chi1"),
                    )
                )
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
        finally:
            db.session.remove()
    PROGRESS.bump(key)


def finished_count(key: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(PhaseCell).where(PhaseCell.sweep_key == key)
    )
