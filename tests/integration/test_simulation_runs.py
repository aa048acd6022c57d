"""Simulation runs end to end through the real process pool: grading, attempts, the cache.

The exercise is a tiny network (width 8, depth 12, batch 16) so each simulation takes
milliseconds; starting the pool's workers (they import torch) is the slow part, and every
test here shares one pool by using the same settings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from datetime import timedelta

import pytest
from conftest import REPO_ROOT, make_app, write_exercise
from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.jobs import JobOutcome
from quizapp.jobs.backends import backend_for
from quizapp.models import Attempt, Question, ReviewCard, SimResult, SimRun, User
from quizapp.models.base import utcnow
from quizapp.services.content_import import import_content
from quizapp.services.errors import Gone, InvalidInput, NotFound
from quizapp.services.simulations import (
    complete_run,
    get_run,
    intuition,
    start_exercise_run,
    start_lab_run,
)

WAIT = 60.0  # seconds: a bound on waiting for the pool, not a performance assertion
TINY_LAB = {"kind": "mlp", "depth": 4, "width": 8, "batch_size": 16}
# Several seconds of work for one core, within the simulator's budget.
# Within the memory budget, and still far slower than the 0.5 s limit of the timeout test.
SLOW_LAB = {"kind": "lstm", "width": 192, "seq_len": 500, "batch_size": 32}


@pytest.fixture
def bank(any_db_app, content_dir):
    """Questions alpha and beta and the exercise tanh-init, imported; inside an app context."""
    write_exercise(content_dir)
    with any_db_app.app_context():
        import_content(content_dir)
        yield any_db_app


def new_user(username: str = "learner") -> User:
    user = User(username=username, username_key=username.lower(), password_hash="unused")
    db.session.add(user)
    db.session.commit()
    return user


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def finished(run_id: str, user: User | None = None):
    """Poll like a browser would until the run is done or failed."""
    deadline = time.monotonic() + WAIT
    while True:
        db.session.expire_all()  # the pool's thread commits in its own session
        view = get_run(run_id, user)
        if not view.pending:
            return view
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} still {view.run.status} after {WAIT:g} s")
        time.sleep(0.05)


def question_id(slug: str) -> int:
    return db.session.scalar(select(Question.id).where(Question.slug == slug))


# Exercise runs


def test_a_passing_run_is_graded_and_counts_as_an_attempt(bank):
    user = new_user()
    run = start_exercise_run(user, "tanh-init", {"init": "xavier_normal"}, "healthy")
    assert run.status == "queued"
    assert run.from_cache is False
    view = finished(run.id, user)
    assert view.run.status == "done", view.run.error
    assert view.run.passed is True
    assert [goal.passed for goal in view.goals] == [True, True]
    assert view.goals[0].value == "healthy"
    assert view.run.prediction_correct is True
    assert view.result["verdict"] == "healthy"
    assert len(view.result["layers"]) == 12
    feedback = view.exercise.feedback_html
    assert view.feedback_html == [feedback["healthy"], feedback["pass"]]  # verdict's, then pass

    attempt = db.session.scalar(select(Attempt).where(Attempt.user_id == user.id))
    assert attempt.kind == "exercise"
    assert attempt.exercise_slug == "tanh-init"
    assert attempt.question_id == question_id("alpha")
    assert attempt.correct is True and attempt.score == 1.0
    assert attempt.response == {"init": "xavier_normal"}
    card = db.session.scalar(
        select(ReviewCard).where(
            ReviewCard.user_id == user.id, ReviewCard.question_id == question_id("alpha")
        )
    )
    assert card is not None and card.reviews == 1
    assert count(SimResult, SimResult.key == run.cache_key) == 1


def test_a_failing_run_shows_which_goal_failed_and_the_verdicts_feedback(bank):
    user = new_user()
    run = start_exercise_run(user, "tanh-init", {"init": "default"}, "healthy")
    view = finished(run.id, user)
    assert view.run.status == "done"
    assert view.run.passed is False
    assert view.goals[0].passed is False
    assert view.goals[0].value == "vanishing"
    assert view.run.prediction_correct is False
    assert view.feedback_html == [
        view.exercise.feedback_html["vanishing"],
        view.exercise.feedback_html["fail"],
    ]
    attempt = db.session.scalar(select(Attempt).where(Attempt.user_id == user.id))
    assert attempt.correct is False and attempt.score == 0.0
    assert intuition(user) == (0, 1)


def test_an_identical_second_run_is_answered_from_the_cache(bank):
    user = new_user()
    first = start_exercise_run(user, "tanh-init", {"init": "xavier_normal"}, None)
    assert finished(first.id, user).run.status == "done"
    pool = backend_for(bank)
    jobs_before, results_before = pool.completed, count(SimResult)

    second = start_exercise_run(user, "tanh-init", {"init": "xavier_normal"}, "vanishing")
    assert second.status == "done"  # at once: no polling
    assert second.from_cache is True
    assert second.passed is True
    assert second.prediction_correct is False
    assert second.cache_key == first.cache_key
    assert pool.completed == jobs_before  # no job was sent
    assert count(SimResult) == results_before
    # Both runs count: the learner did try twice.
    assert count(Attempt, Attempt.user_id == user.id) == 2
    view = get_run(second.id, user)
    assert view.result == get_run(first.id, user).result
    assert intuition(user) == (0, 1)  # the first run made no prediction


def test_an_anonymous_run_is_graded_but_stores_no_attempt(bank):
    run = start_exercise_run(None, "tanh-init", {"init": "normal"}, "")
    view = finished(run.id)
    assert view.run.status == "done"
    assert view.run.passed is False
    assert view.run.prediction is None and view.run.prediction_correct is None
    assert count(Attempt) == 0
    assert count(ReviewCard) == 0
    # Anyone with the link may see an anonymous run.
    assert get_run(run.id, new_user("someone")).run.id == run.id


def test_concurrent_runs_all_finish_and_none_is_lost(bank):
    users = [new_user(f"learner{n}") for n in range(3)]
    runs = [
        start_exercise_run(user, "tanh-init", {"init": init}, "vanishing")
        for user in users
        for init in ("default", "xavier_normal", "normal")
    ]
    runs += [start_lab_run(None, dict(TINY_LAB, seed=seed)) for seed in range(20, 26)]
    ids = [(run.id, run.user_id) for run in runs]
    views = [finished(run_id, db.session.get(User, uid) if uid else None) for run_id, uid in ids]
    assert [view.run.status for view in views] == ["done"] * len(runs)
    # The same choice by three learners is one cached result.
    assert count(SimResult) == 3 + 6
    for user in users:
        assert count(Attempt, Attempt.user_id == user.id) == 3
        assert intuition(user) == (2, 3)


def test_a_result_already_cached_by_a_parallel_run_is_kept_once(bank):
    # Two identical runs queued before either finishes: both are graded, one result stored.
    runs = [start_lab_run(None, dict(TINY_LAB, seed=77)) for _ in range(2)]
    assert [run.from_cache for run in runs] == [False, False]
    views = [finished(run.id) for run in runs]
    assert [view.run.status for view in views] == ["done", "done"]
    assert count(SimResult, SimResult.key == runs[0].cache_key) == 1


def test_a_lab_run_has_a_result_but_no_grade(bank):
    run = start_lab_run(None, dict(TINY_LAB, activation="tanh", init="xavier_normal"))
    view = finished(run.id)
    assert view.run.status == "done"
    assert view.run.passed is None
    assert view.goals == [] and view.exercise is None
    assert view.result["config"]["init"] == "xavier_normal"
    assert view.run.config["width"] == 8 and view.run.config["seed"] == 0  # normalised


# Refusals: nothing is stored


def test_a_choice_outside_the_space_is_refused_naming_the_choice(bank):
    with pytest.raises(InvalidInput) as caught:
        start_exercise_run(None, "tanh-init", {"init": "he_normal"})
    assert caught.value.field == "choices.init"
    assert "init" in caught.value.message and "he_normal" in caught.value.message
    with pytest.raises(InvalidInput) as caught:
        start_exercise_run(None, "tanh-init", {})
    assert caught.value.field == "choices.init"
    with pytest.raises(InvalidInput) as caught:
        start_exercise_run(None, "tanh-init", {"init": "default", "depth": 3})
    assert caught.value.field == "choices.depth"
    with pytest.raises(InvalidInput) as caught:
        start_exercise_run(None, "tanh-init", {"init": "default"}, "probably fine")
    assert caught.value.field == "prediction"
    assert count(SimRun) == 0


def test_a_lab_config_outside_the_limits_says_what_to_reduce(bank):
    with pytest.raises(InvalidInput) as caught:
        start_lab_run(None, {"kind": "mlp", "depth": 5000})
    assert caught.value.field == "depth"
    assert "reduce it to 200 or less" in caught.value.message
    with pytest.raises(InvalidInput) as caught:
        start_lab_run(None, {"kind": "lstm", "width": 1024, "seq_len": 500, "batch_size": 512})
    assert "reduce" in caught.value.message
    with pytest.raises(InvalidInput) as caught:
        start_lab_run(None, {"kind": "mlp", "colour": "blue"})
    assert caught.value.field == "colour"
    assert count(SimRun) == 0


def test_unknown_and_retired_exercises(bank, content_dir):
    with pytest.raises(NotFound):
        start_exercise_run(None, "no-such-exercise", {"init": "default"})
    (content_dir / "exercises" / "tanh-init.yaml").unlink()
    import_content(content_dir)
    with pytest.raises(Gone):
        start_exercise_run(None, "tanh-init", {"init": "default"})


def test_another_learners_run_is_not_found(bank):
    owner, other = new_user("owner"), new_user("other")
    run = start_lab_run(owner, dict(TINY_LAB, seed=5))
    finished(run.id, owner)
    for viewer in (other, None):
        with pytest.raises(NotFound):
            get_run(run.id, viewer)
    for unknown in ("0" * 32, "x" * 33, ""):
        with pytest.raises(NotFound):
            get_run(unknown, owner)


def test_a_run_that_never_finished_is_reported_as_lost(bank):
    user = new_user()
    run = SimRun(id="f" * 32, user_id=user.id, config=TINY_LAB, cache_key="k" * 64)
    run.created_at = utcnow() - timedelta(hours=1)
    db.session.add(run)
    db.session.commit()
    view = get_run(run.id, user)
    assert view.run.status == "failed"
    assert "lost" in view.run.error
    # A late completion does not resurrect it.
    complete_run(bank, run.id, JobOutcome("done", result={"verdict": "healthy"}))
    db.session.expire_all()
    assert get_run(run.id, user).run.status == "failed"


def test_an_outcome_that_arrives_before_its_run_is_stored_is_recorded_once_it_is(bank):
    """Jobs are submitted before their run's row is written; a worker that finishes first
    (a Celery worker records in the database itself) waits for the row instead of dropping
    the result."""
    import threading

    run = SimRun(id="e" * 32, config=TINY_LAB, cache_key="c" * 64, created_at=utcnow())

    def store_later() -> None:
        time.sleep(0.2)
        with bank.app_context():
            db.session.add(run)
            db.session.commit()

    writer = threading.Thread(target=store_later)
    writer.start()
    complete_run(bank, "e" * 32, JobOutcome("done", result={"verdict": "healthy"}))
    writer.join()
    db.session.expire_all()
    assert db.session.get(SimRun, "e" * 32).status == "done"
    assert db.session.get(SimResult, "c" * 64).result == {"verdict": "healthy"}


# Time limit


def test_a_run_over_the_time_limit_fails_and_the_pool_goes_on(tmp_path):
    app = make_app(
        f"sqlite:///{tmp_path / 'timeout.sqlite'}", QUIZAPP_SIM_WORKERS=1, QUIZAPP_SIM_TIMEOUT=0.5
    )
    with app.app_context():
        pool = backend_for(app)
        assert pool.timeout == 0.5
        restarts = pool.restarts
        run = start_lab_run(None, SLOW_LAB)
        view = finished(run.id)
        assert view.run.status == "failed"
        assert "longer than 0.5 s" in view.run.error
        assert "smaller network" in view.run.error
        assert view.result is None
        assert count(SimResult) == 0
        assert pool.restarts == restarts + 1
        # A fresh worker takes the next job; starting it does not count against the limit.
        after = start_lab_run(None, dict(TINY_LAB, seed=3))
        assert finished(after.id).run.status == "done"
        db.session.remove()
        db.engine.dispose()


# The cache can be filled ahead of time


def test_sim_warm_fills_the_cache_and_then_has_nothing_to_do(app, content_dir):
    write_exercise(content_dir)
    with app.app_context():
        import_content(content_dir)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["sim", "warm"])
    assert result.exit_code == 0, result.output
    assert "3 computed, 0 already cached" in result.output
    with app.app_context():
        assert count(SimResult) == 3
        run = start_exercise_run(None, "tanh-init", {"init": "normal"})
        assert run.status == "done" and run.from_cache is True
    result = runner.invoke(args=["sim", "warm"])
    assert result.exit_code == 0, result.output
    assert "0 computed, 3 already cached" in result.output
    with app.app_context():
        assert count(SimResult) == 3


# The web process never imports torch

TORCH_CHECK = textwrap.dedent(
    """\
    import json
    import sys
    import time

    from quizapp import create_app
    from quizapp.extensions import db


    def main(database):
        app = create_app({
            "TESTING": True, "SECRET_KEY": "x", "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False, "SQLALCHEMY_DATABASE_URI": database,
            "QUIZAPP_JOBS": "local", "QUIZAPP_SIM_WORKERS": 1,
        })
        with app.app_context():
            db.create_all()
        client = app.test_client()
        config = {"kind": "mlp", "depth": 4, "width": 8, "batch_size": 16}
        run = client.post("/api/v1/lab/runs", json={"config": config}).get_json()
        deadline = time.monotonic() + 60
        while run["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.05)
            run = client.get(f"/api/v1/runs/{run['id']}").get_json()
        page = client.get(f"/runs/{run['id']}")
        print(json.dumps({
            "status": run["status"],
            "verdict": (run["result"] or {}).get("verdict"),
            "page": page.status_code,
            "torch": "torch" in sys.modules,
        }))


    if __name__ == "__main__":
        main(sys.argv[1])
    """
)


def test_the_web_process_never_imports_torch(tmp_path):
    script = tmp_path / "torch_check.py"
    script.write_text(TORCH_CHECK)
    finished_process = subprocess.run(
        [sys.executable, str(script), f"sqlite:///{tmp_path / 'web.sqlite'}"],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished_process.returncode == 0, finished_process.stderr
    report = json.loads(finished_process.stdout.strip().splitlines()[-1])
    assert report["status"] == "done", report
    assert report["verdict"] in ("vanishing", "healthy", "exploding")
    assert report["page"] == 200
    assert report["torch"] is False
