"""`flask runs prune`: anonymous runs past the retention period go, and the results nothing
uses any more; learners' runs, recent runs and exercise results stay."""

from __future__ import annotations

from datetime import timedelta

from conftest import add_user, write_exercise
from sqlalchemy import func, select

from quizapp.extensions import db
from quizapp.jobs import cache_key
from quizapp.models import SimResult, SimRun
from quizapp.models.base import utcnow
from quizapp.services.content_import import import_content
from quizapp.services.simulations import exercise_configs
from quizapp.sim import SIMULATOR_VERSION, validate_config

RESULT = {"verdict": "healthy", "layers": [{"index": 0, "backward_signal": 1.0}]}


def _config(seed: int) -> dict:
    return validate_config({"kind": "mlp", "depth": 3, "width": 4, "seed": seed})


def _store_result(config: dict, age: timedelta) -> str:
    key = cache_key(config, SIMULATOR_VERSION)
    if db.session.get(SimResult, key) is None:
        stored = SimResult(
            key=key,
            simulator_version=SIMULATOR_VERSION,
            config=config,
            created_at=utcnow() - age,
        )
        stored.result = RESULT
        db.session.add(stored)
        db.session.commit()
    return key


def _store_run(seed: int, age: timedelta, user_id: int | None = None) -> str:
    config = _config(seed)
    key = _store_result(config, age)
    db.session.add(
        SimRun(
            id=f"{seed:02d}-{age.days:04d}-{user_id or 0}".ljust(32, "x"),
            user_id=user_id,
            config=config,
            cache_key=key,
            status="done",
            created_at=utcnow() - age,
        )
    )
    db.session.commit()
    return key


def _result_keys() -> set[str]:
    return set(db.session.scalars(select(SimResult.key)))


def test_prune_deletes_old_anonymous_runs_and_the_results_nobody_uses(app, runner):
    learner = add_user(app)
    with app.app_context():
        old_anonymous = _store_run(1, timedelta(days=45))
        shared = _store_run(2, timedelta(days=45))  # old and anonymous, but a learner's too
        _store_run(2, timedelta(days=44), user_id=learner)
        recent_anonymous = _store_run(3, timedelta(days=3))
        learners_old = _store_run(4, timedelta(days=400), user_id=learner)
        orphan_old = _store_result(_config(5), timedelta(days=90))
        orphan_recent = _store_result(_config(6), timedelta(days=1))

    result = runner.invoke(args=["runs", "prune"])
    assert result.exit_code == 0, result.output
    assert "Deleted 2 anonymous run(s) older than 30 day(s) and 2 stored result(s)" in result.output

    with app.app_context():
        runs = db.session.scalars(select(SimRun)).all()
        assert len(runs) == 3
        assert all(run.user_id == learner or run.cache_key == recent_anonymous for run in runs)
        assert _result_keys() == {shared, recent_anonymous, learners_old, orphan_recent}
        assert old_anonymous not in _result_keys() and orphan_old not in _result_keys()

    again = runner.invoke(args=["runs", "prune"])
    assert "Deleted 0 anonymous run(s)" in again.output


def test_prune_keeps_the_precomputed_exercise_results(app, runner, content_dir):
    write_exercise(content_dir)
    with app.app_context():
        import_content(content_dir)
        offered = exercise_configs()
        for config in offered:
            _store_result(config, timedelta(days=365))
    result = runner.invoke(args=["runs", "prune", "--days", "0"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(SimResult))
        assert stored == len(offered) > 0


def test_prune_refuses_a_negative_retention(runner):
    result = runner.invoke(args=["runs", "prune", "--days", "-1"])
    assert result.exit_code == 2
    assert "x>=0" in result.output
