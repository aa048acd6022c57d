"""What a worker can run: one entry per job kind, used by the local pool and by Celery.

A kind names the function a worker process calls with the job's JSON payload, the errors
that mean "this input is refused" (reported as `invalid`, never retried), its time limit and
what a learner reads when it is reached, and the service function that records its outcome
(a Celery worker calls it itself; jobs/celery_worker.py makes one task per kind from this
table). A phase diagram's batch of cells is its own kind (many small networks in one job);
torch is imported only when a job runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any


def _simulate(payload: dict[str, Any]) -> Any:
    """One simulation of a config."""
    from quizapp.sim import simulate

    return simulate(payload)


def _phase_cells(payload: dict[str, Any]) -> dict[str, Any]:
    """A batch of a phase diagram's cells, run in this one process (sim/phase.py)."""
    from quizapp.sim.phase import run_phase_cells

    return run_phase_cells(payload)


def _simulation_refusals() -> tuple[type[Exception], ...]:
    from quizapp.sim import SimConfigError

    return (SimConfigError,)


def _fit_schedule(payload: dict[str, Any]) -> dict[str, Any]:
    from quizapp.jobs.schedule_fit import fit_schedule

    return fit_schedule(payload)


def _fit_refusals() -> tuple[type[Exception], ...]:
    from quizapp.jobs.schedule_fit import FitRefused

    return (FitRefused,)


@dataclass(frozen=True)
class JobKind:
    run: Callable[[dict[str, Any]], dict[str, Any]]
    refusals: Callable[[], tuple[type[Exception], ...]]
    timeout_setting: str  # the app setting holding its time limit in seconds
    celery_task: str
    # "module:function" of the service that stores an outcome, called as (app, job id,
    # outcome); named, not imported, because services import this package.
    recorder: str
    # What the job's owner reads when the time limit stops it ({timeout}: seconds).
    timeout_message: str = "The job took longer than {timeout:g} s and was stopped."
    # Announced on the completion board the moment a local worker answers (jobs/completion.py),
    # for a request long-polling the run: single simulations.
    announce: bool = False

    def timed_out(self, timeout: float) -> str:
        return self.timeout_message.format(timeout=timeout)

    def record(self, app: Any, job_id: str, outcome: Any) -> None:
        module, function = self.recorder.split(":")
        getattr(import_module(module), function)(app, job_id, outcome)


JOB_KINDS: dict[str, JobKind] = {
    "simulate": JobKind(
        _simulate,
        _simulation_refusals,
        "QUIZAPP_SIM_TIMEOUT",
        "quizapp.simulate",
        recorder="quizapp.services.simulations:complete_run",
        timeout_message=(
            "The simulation took longer than {timeout:g} s and was stopped. "
            "Try a smaller network or fewer training steps."
        ),
        announce=True,
    ),
    "phase_cells": JobKind(
        _phase_cells,
        _simulation_refusals,
        "QUIZAPP_SIM_TIMEOUT",
        "quizapp.phase_cells",
        recorder="quizapp.services.phase:record_batch",
    ),
    "fit_schedule": JobKind(
        _fit_schedule,
        _fit_refusals,
        "QUIZAPP_FIT_TIMEOUT",
        "quizapp.fit_schedule",
        recorder="quizapp.services.schedule_fits:complete_fit",
    ),
}


def run_job(kind: str, payload: dict[str, Any]) -> tuple[str, Any]:
    """Run one job in this (worker) process: ("done", result) / ("invalid" | "failed", message)."""
    job = JOB_KINDS.get(kind)
    if job is None:
        return "invalid", f"unknown job kind {kind!r}"
    try:
        return "done", job.run(payload)
    except job.refusals() as error:
        return "invalid", str(error)
    except MemoryError:
        return "failed", "The job ran out of memory."
    except Exception as error:  # reported to the caller; the worker lives on
        return "failed", f"The job failed: {type(error).__name__}: {error}"
