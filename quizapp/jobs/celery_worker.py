"""Entry point of a Celery simulation worker: `celery -A quizapp.jobs.celery_worker worker`.

Like wsgi.py, it builds the app from the environment (DATABASE_URL, REDIS_URL, ...).
"""

from __future__ import annotations

from celery.exceptions import SoftTimeLimitExceeded

from quizapp import create_app
from quizapp.config import ConfigurationError, refuse_to_start
from quizapp.jobs import JobOutcome
from quizapp.jobs.celery_backend import TASK_NAME, make_celery
from quizapp.jobs.kinds import JOB_KINDS, run_job

try:
    flask_app = create_app()
except ConfigurationError as error:  # e.g. a weak SECRET_KEY in production: one line, as wsgi.py
    refuse_to_start(error)
celery = make_celery(flask_app.config)


@celery.task(name=TASK_NAME)
def simulate_task(run_id: str, config: dict) -> str:
    """Run one simulation and record its outcome (cache, grade, attempt) in the database."""
    from quizapp.services.simulations import complete_run
    from quizapp.sim import SimConfigError, simulate

    try:
        outcome = JobOutcome("done", result=simulate(config))
    except SimConfigError as error:
        outcome = JobOutcome("invalid", message=str(error))
    except SoftTimeLimitExceeded:
        timeout = flask_app.config["QUIZAPP_SIM_TIMEOUT"]
        outcome = JobOutcome(
            "timeout",
            message=f"The simulation took longer than {timeout:g} s and was stopped.",
        )
    except Exception as error:  # reported to the learner, never retried: it would fail again
        outcome = JobOutcome("failed", message=f"The simulation failed: {error}")
    complete_run(flask_app, run_id, outcome)
    return outcome.status


@celery.task(name=JOB_KINDS["phase_cells"].celery_task)
def phase_cells_task(job_id: str, payload: dict) -> str:
    """Run a batch of a phase diagram's cells and store them (services/phase.py)."""
    from quizapp.services.phase import record_batch

    try:
        status, result = run_job("phase_cells", payload)
    except SoftTimeLimitExceeded:
        status, result = "timeout", "The batch took too long and was stopped."
    if status == "done":
        outcome = JobOutcome("done", result=result)
    else:  # reported in the log; the sweep's feeder moves on
        outcome = JobOutcome("failed", message=str(result))
    record_batch(flask_app, job_id, outcome)
    return outcome.status


@celery.task(name=JOB_KINDS["fit_schedule"].celery_task)
def fit_schedule_task(fit_id: str, payload: dict) -> str:
    """Fit a learner's FSRS parameters and record the outcome (a schedule fit) in the database."""
    from quizapp.services.schedule_fits import complete_fit

    try:
        status, result = run_job("fit_schedule", payload)
    except SoftTimeLimitExceeded:
        status, result = "timeout", "The fit took too long and was stopped."
    if status == "done":
        outcome = JobOutcome("done", result=result)
    else:
        outcome = JobOutcome(status, message=result)
    complete_fit(flask_app, fit_id, outcome)
    return outcome.status
