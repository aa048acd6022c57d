"""Simulation memory is bounded for real: each worker may grow by its share of the host's
simulation memory (QUIZAPP_SIM_MEMORY_MB over web workers x simulation workers) and no
more; a job past it fails with a clear message and a fresh worker takes the next job."""

from __future__ import annotations

import time

import pytest

from quizapp.config import default_sim_memory_mb
from quizapp.jobs import JobOutcome
from quizapp.jobs.backends import worker_memory_mb
from quizapp.jobs.pool import SimulationPool
from quizapp.jobs.worker import OUT_OF_MEMORY

WAIT = 120.0  # seconds: bounds on waiting for workers (they import torch), never asserted on
TINY = {"kind": "mlp", "depth": 3, "width": 4, "batch_size": 8}
# Accepted by the validator (about 430 MiB of its 512: 19 M parameters at 16 bytes), but
# more than the 100 MiB share below: its weights and gradients alone take 150 MiB.
HUGE = {"kind": "mlp", "depth": 20, "width": 1024, "batch_size": 1}


def wait_for(outcomes: dict, run_id: str) -> JobOutcome:
    deadline = time.monotonic() + WAIT
    while run_id not in outcomes:
        assert time.monotonic() < deadline, f"gave up waiting for {run_id}"
        time.sleep(0.05)
    return outcomes[run_id]


def test_a_job_past_the_workers_memory_share_fails_cleanly_and_the_next_one_runs():
    pool = SimulationPool(workers=1, queue_limit=4, timeout=60.0, memory_mb=100)
    outcomes: dict[str, JobOutcome] = {}
    record = outcomes.__setitem__
    try:
        pool.submit("huge", HUGE, record)
        failed = wait_for(outcomes, "huge")
        assert failed.status == "failed"
        assert failed.message == OUT_OF_MEMORY
        assert pool.restarts == 1  # the worker that ran out was replaced
        pool.submit("tiny", TINY, record)
        assert wait_for(outcomes, "tiny").status == "done"
    finally:
        pool.close()


@pytest.mark.parametrize(
    ("total", "web", "sim", "share"),
    [(4000, 4, 2, 500), (4000, 1, 2, 2000), (1000, 8, 1, 125), (100, 16, 2, 64)],
)
def test_the_hosts_simulation_memory_is_shared_by_every_simulation_process(total, web, sim, share):
    config = {
        "QUIZAPP_SIM_MEMORY_MB": total,
        "QUIZAPP_WEB_WORKERS": web,
        "QUIZAPP_SIM_WORKERS": sim,
    }
    assert worker_memory_mb(config) == share


def test_the_default_is_a_quarter_of_the_machines_memory():
    import os

    total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 1024**2
    assert abs(default_sim_memory_mb() - total_mb // 4) <= 1


def test_gunicorn_tells_the_app_its_worker_count(monkeypatch, tmp_path):
    from conftest import make_app

    monkeypatch.setenv("QUIZAPP_WEB_WORKERS", "4")
    monkeypatch.setenv("QUIZAPP_SIM_MEMORY_MB", "2000")
    app = make_app(f"sqlite:///{tmp_path / 'share.sqlite'}", QUIZAPP_SIM_WORKERS=1)
    assert worker_memory_mb(app.config) == 500
