"""The Celery backend with a real worker process and the real Redis (CI sets the URL)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from quizapp.extensions import db
from quizapp.jobs.backends import backend_for
from quizapp.models import Attempt, SimResult, SimRun
from quizapp.services import accounts, simulations
from quizapp.services.content_import import import_content
from tests.conftest import CONTENT_DIR, REDIS_URL, REPO_ROOT, make_app

pytestmark = pytest.mark.skipif(
    not REDIS_URL, reason="QUIZAPP_TEST_REDIS_URL is not set (.ci/run sets it)"
)


def _flush(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


@pytest.fixture
def celery_setup(tmp_path):
    """An app on a SQLite file and a Celery worker process sharing it, on a clean Redis db."""
    _flush(REDIS_URL)
    database = f"sqlite:///{tmp_path / 'celery.sqlite'}"
    settings = {"QUIZAPP_JOBS": "celery", "REDIS_URL": REDIS_URL, "QUIZAPP_SIM_TIMEOUT": 30.0}
    app = make_app(database, **settings)
    with app.app_context():
        import_content(CONTENT_DIR)
    env = os.environ | {
        "DATABASE_URL": database,
        "REDIS_URL": REDIS_URL,
        "QUIZAPP_JOBS": "celery",
        "QUIZAPP_SIM_TIMEOUT": "30",
    }
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed in teardown
    worker = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "quizapp.jobs.celery_worker",
            "worker",
            "--concurrency",
            "1",
            "--pool",
            "prefork",
            "--loglevel",
            "warning",
            "--without-gossip",
            "--without-mingle",
        ],  # fmt: skip
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield app
    worker.terminate()
    try:
        worker.wait(20)
    except subprocess.TimeoutExpired:
        worker.kill()
    log.close()
    _flush(REDIS_URL)


def _wait_for(app, run_id: str, seconds: float = 90.0) -> SimRun:
    deadline = time.time() + seconds
    while time.time() < deadline:
        with app.app_context():
            run = db.session.get(SimRun, run_id)
            if run.status in ("done", "failed"):
                db.session.expunge(run)
                return run
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} did not finish within {seconds} s")


def test_lab_run_goes_through_a_real_celery_worker(celery_setup):
    app = celery_setup
    with app.test_request_context():
        run = simulations.start_lab_run(None, {"kind": "mlp", "depth": 25, "activation": "sigmoid"})
        run_id = run.id
    finished = _wait_for(app, run_id)
    assert finished.status == "done", finished.error
    with app.app_context():
        view = simulations.get_run(run_id, None)
        assert view.result["verdict"] == "vanishing"
        assert db.session.get(SimResult, finished.cache_key) is not None
        healthy, detail = backend_for(app).health()
        assert healthy and "1 worker" in detail


def test_exercise_run_on_celery_is_graded_and_recorded_as_an_attempt(celery_setup):
    app = celery_setup
    with app.app_context():
        user = accounts.register_user("celery-learner", "Celery worker test 42")
        user_id = user.id
    with app.test_request_context():
        user = db.session.get(type(user), user_id)
        run = simulations.start_exercise_run(
            user, "tanh-depth-30-init", {"init": "xavier_normal"}, "healthy"
        )
        run_id = run.id
    finished = _wait_for(app, run_id)
    assert finished.status == "done", finished.error
    assert finished.passed is True
    assert finished.prediction_correct is True
    with app.app_context():
        attempts = db.session.query(Attempt).filter_by(user_id=user_id, kind="exercise").all()
        assert [a.exercise_slug for a in attempts] == ["tanh-depth-30-init"]


def test_a_phase_diagram_fills_in_through_a_real_celery_worker(celery_setup):
    """Batches of cells go to the worker as jobs; the worker stores the cells and the line."""
    from quizapp.services import phase

    app = celery_setup
    with app.test_request_context():
        view = phase.start_phase("relu-he-line", 3)
        deadline = time.time() + 120
        while not (view.complete and view.theory) and time.time() < deadline:
            view = phase.wait_for_progress(view.key, len(view.cells), 5)
        assert view.complete and len(view.cells) == 9
        assert view.theory, "the χ₁ line was not computed"
        assert view.cells[8].verdict == "exploding"  # std 0.6, depth 50: χ₁ = 11.5


def test_a_schedule_fit_runs_on_a_real_celery_worker(celery_setup):
    from quizapp.models import ScheduleFit
    from quizapp.services.schedule_fits import start_fit
    from tests.conftest import add_review_history, synthetic_reviews

    app = celery_setup
    with app.app_context():
        user = accounts.register_user("celery-fitter", "Celery fitting test 42")
        # No review durations: the retention simulation is left out to keep the test short.
        raw = [(c, ms, r, None) for c, ms, r, _ in synthetic_reviews(900, seed=5, cards_per_day=1)]
        add_review_history(user, raw)
        user_id = user.id
    with app.test_request_context():
        fit_id = start_fit(db.session.get(type(user), user_id)).id
    deadline = time.time() + 300
    while time.time() < deadline:
        with app.app_context():
            fit = db.session.get(ScheduleFit, fit_id)
            if fit.status in ("done", "failed"):
                break
        time.sleep(0.5)
    assert fit.status == "done", fit.error
    assert len(fit.parameters) == 21 and fit.log_loss_after <= fit.log_loss_before
