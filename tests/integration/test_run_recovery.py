"""Runs whose owner process is gone are run again when they are read; runs of a live owner,
or of Celery, are left to it. Owners are "host/pid/start time" (jobs/owners.py)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import make_app

from quizapp.extensions import db
from quizapp.jobs import owners
from quizapp.jobs.backends import backend_for
from quizapp.models import SimRun
from quizapp.models.base import utcnow
from quizapp.services.simulations import get_run, requeue_orphaned_runs
from quizapp.sim import validate_config

WAIT = 120.0  # seconds: a bound on a worker importing torch, never asserted on
TINY = validate_config({"kind": "mlp", "depth": 3, "width": 4, "batch_size": 8, "seed": 3})
POOL = {"QUIZAPP_SIM_WORKERS": 1, "QUIZAPP_SIM_QUEUE_LIMIT": 4}
_pools = itertools.count()


PRINT_OWNER = [
    sys.executable,
    "-c",
    "from quizapp.jobs.owners import this_process as t; print(t())",
]


def dead_owner() -> str:
    """The owner token of a process that has exited."""
    done = subprocess.run(PRINT_OWNER, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def pool_app(tmp_path):
    # A pool per test (the settings are a pool's identity), closed at the end of the test.
    timeout = 33.0 + next(_pools) / 100
    app = make_app(f"sqlite:///{tmp_path / 'recovery.sqlite'}", QUIZAPP_SIM_TIMEOUT=timeout, **POOL)
    yield app
    with app.app_context():
        if "quizapp_jobs" in app.extensions:
            backend_for(app).close()
        db.engine.dispose()


def queued_run(owner: str | None) -> str:
    run = SimRun(
        id=uuid.uuid4().hex,
        config=TINY,
        cache_key="k" * 64,
        status="queued",
        owner=owner,
        created_at=utcnow(),
        submitted_at=utcnow(),
    )
    db.session.add(run)
    db.session.commit()
    return run.id


def wait_until_done(run_id: str) -> SimRun:
    deadline = time.monotonic() + WAIT
    while (run := db.session.get(SimRun, run_id)).status != "done":
        assert time.monotonic() < deadline, run.status
        time.sleep(0.1)
        db.session.expire_all()
    return run


def test_owner_tokens_tell_a_live_process_from_a_gone_one():
    assert not owners.owner_is_gone(owners.this_process())
    assert owners.owner_is_gone(dead_owner())
    assert not owners.owner_is_gone(owners.CELERY)
    assert not owners.owner_is_gone("another-host/1/123")  # cannot be checked from here


def test_an_owner_that_ended_but_was_never_reaped_is_gone():
    """A killed gunicorn worker is an orphan; when its new parent (a subreaper: a supervisor,
    a test runner, a container's init) does not reap it, it stays a zombie with its pid and
    start time. Its runs must be requeued all the same."""
    child = subprocess.Popen(PRINT_OWNER, stdout=subprocess.PIPE, text=True)
    try:
        owner = child.stdout.read().strip()
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # ended, left unreaped
        assert Path(f"/proc/{child.pid}").exists()
        assert owners.owner_is_gone(owner)
    finally:
        child.stdout.close()
        child.wait()


def test_reading_a_run_whose_owner_is_gone_requeues_it(pool_app):
    with pool_app.app_context():
        run_id = queued_run(dead_owner())
        view = get_run(run_id, None)
        assert view.pending and view.run.owner == owners.this_process()
        assert wait_until_done(run_id).status == "done"


def test_a_live_owners_runs_are_left_to_it(pool_app):
    with pool_app.app_context():
        mine = queued_run(owners.this_process())
        celery = queued_run(owners.CELERY)
        assert requeue_orphaned_runs(pool_app) == 0
        assert get_run(mine, None).run.owner == owners.this_process()
        assert get_run(celery, None).run.owner == owners.CELERY
        assert "quizapp_jobs" not in pool_app.extensions  # nothing was submitted


def test_start_up_requeues_the_runs_of_gone_and_unknown_owners(pool_app):
    with pool_app.app_context():
        gone, unknown = queued_run(dead_owner()), queued_run(None)
    assert requeue_orphaned_runs(pool_app) == 2
    assert requeue_orphaned_runs(pool_app) == 0  # claimed once, by one process
    with pool_app.app_context():
        assert wait_until_done(gone).status == wait_until_done(unknown).status == "done"
