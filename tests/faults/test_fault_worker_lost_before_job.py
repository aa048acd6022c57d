"""A simulation worker that dies just before a job reaches it does not fail that job: the
job never ran, so the pool runs it once more on a fresh worker. A worker that dies while
running a job still fails it (test_fault_simulation_pool.py): that job may be the cause.

The worker is stopped (SIGSTOP) so it cannot read the job the pool hands it, then killed:
exactly a worker that died with the job on its way to it.
"""

from __future__ import annotations

import os
import signal
import threading
import time

from quizapp.jobs import JobOutcome
from quizapp.jobs.pool import SimulationPool

WAIT = 120.0  # seconds: bounds on waiting for workers (they import torch), never asserted on
TINY = {"kind": "mlp", "depth": 3, "width": 4, "batch_size": 8}


def wait_for(condition, what: str):
    deadline = time.monotonic() + WAIT
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)
    return result


class Outcomes:
    def __init__(self) -> None:
        self.received: dict[str, JobOutcome] = {}
        self.lock = threading.Lock()

    def __call__(self, run_id: str, outcome: JobOutcome) -> None:
        with self.lock:
            self.received[run_id] = outcome


def test_a_job_whose_worker_died_before_it_arrived_runs_on_a_fresh_worker():
    pool = SimulationPool(workers=1, queue_limit=4, timeout=60.0)
    outcomes = Outcomes()
    try:
        pool.submit("warm-up", TINY, outcomes)
        wait_for(lambda: "warm-up" in outcomes.received, "the first job")
        (worker,) = pool.worker_pids()
        os.kill(worker, signal.SIGSTOP)  # alive, but it will never read the next job
        pool.submit("unlucky", dict(TINY, seed=7), outcomes)
        wait_for(lambda: pool._busy == 1, "the pool to hand the job over")
        os.kill(worker, signal.SIGKILL)
        outcome = wait_for(lambda: outcomes.received.get("unlucky"), "the retried job")
        assert outcome.status == "done", outcome
        assert outcome.result["config"]["seed"] == 7
        assert worker not in pool.worker_pids()
        # And the pool goes on as before.
        pool.submit("after", TINY, outcomes)
        assert wait_for(lambda: outcomes.received.get("after"), "the next job").status == "done"
    finally:
        pool.close()
