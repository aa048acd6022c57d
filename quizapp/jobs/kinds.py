"""What a worker can be asked to compute: a registry keyed by the payload's "job" field.

A plain simulation config (it has no "job" field: the schema refuses unknown fields) is one
simulation; other payloads name their kind, e.g. a batch of phase-diagram cells, so many
small networks run in one job and one process. Imports torch only when a job runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _phase_cells(payload: dict[str, Any]) -> Any:
    from quizapp.sim.phase import run_phase_cells

    return run_phase_cells(payload)


JOB_KINDS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "phase_cells": _phase_cells,
}


def run_job(payload: dict[str, Any]) -> Any:
    """Run one job payload in this (worker) process."""
    kind = payload.get("job") if isinstance(payload, dict) else None
    if kind in JOB_KINDS:
        return JOB_KINDS[kind](payload)
    from quizapp.sim import simulate

    return simulate(payload)
