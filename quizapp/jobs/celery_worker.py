"""Entry point of a Celery simulation worker: `celery -A quizapp.jobs.celery_worker worker`.

Like wsgi.py, it builds the app from the environment (DATABASE_URL, REDIS_URL, ...). It runs
one task per job kind (jobs/kinds.py): the job, in this process, then the kind's recorder.
"""

from __future__ import annotations

from celery.exceptions import SoftTimeLimitExceeded

from quizapp import create_app
from quizapp.config import ConfigurationError, refuse_to_start
from quizapp.jobs import JobOutcome
from quizapp.jobs.celery_backend import make_celery
from quizapp.jobs.kinds import JOB_KINDS, run_job

try:
    flask_app = create_app()
except ConfigurationError as error:  # e.g. a weak SECRET_KEY in production: one line, as wsgi.py
    refuse_to_start(error)
celery = make_celery(flask_app.config)


def _register(kind_name: str) -> None:
    kind = JOB_KINDS[kind_name]

    @celery.task(name=kind.celery_task)
    def run_and_record(job_id: str, payload: dict) -> str:
        try:
            status, result = run_job(kind_name, payload)
        except SoftTimeLimitExceeded:
            status, result = "timeout", kind.timed_out(flask_app.config[kind.timeout_setting])
        if status == "done":
            outcome = JobOutcome("done", result=result)
        else:  # refused input, a failure or the time limit: told to the job's owner
            outcome = JobOutcome(status, message=str(result))
        kind.record(flask_app, job_id, outcome)
        return outcome.status


for _kind_name in JOB_KINDS:
    _register(_kind_name)
