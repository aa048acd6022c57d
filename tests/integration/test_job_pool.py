"""The simulation pool with real worker processes: results, crashes and a bounded queue.

The pool is the one an app configured with 1 worker and a queue of 1 uses (`shared_pool`),
so the web tests of a full queue reuse its worker instead of starting another.
"""

from __future__ import annotations

import importlib
import inspect
import os
import queue
import signal
import time

import pytest

from quizapp.jobs import JobOutcome, QueueFull, cache_key
from quizapp.jobs.kinds import JOB_KINDS
from quizapp.jobs.pool import SimulationPool, shared_pool

TINY = {"kind": "mlp", "depth": 4, "width": 8, "batch_size": 16}
# About 4 s of work on one core: a job still running when the test kills its worker.
SLOW = {"kind": "lstm", "width": 256, "seq_len": 500, "batch_size": 24}
# A few tenths of a second: the single worker stays busy while the queue fills.
BUSY = {"kind": "lstm", "width": 128, "seq_len": 250, "batch_size": 32}
WAIT = 60.0  # seconds; a bound on waiting for a job, never a performance assertion


class Outcomes:
    """Collects (run id, outcome) pairs from the pool's threads."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[str, JobOutcome]] = queue.Queue()

    def __call__(self, run_id: str, outcome: JobOutcome) -> None:
        self.queue.put((run_id, outcome))

    def next(self) -> tuple[str, JobOutcome]:
        return self.queue.get(timeout=WAIT)

    def collect(self, count: int) -> dict[str, JobOutcome]:
        return dict(self.next() for _ in range(count))


@pytest.fixture
def pool() -> SimulationPool:
    return shared_pool(1, 1, 20.0)


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def test_shared_pools_are_one_per_setting():
    assert shared_pool(1, 1, 20.0) is shared_pool(1, 1, 20.0)
    assert shared_pool(1, 1, 20.0) is not shared_pool(1, 2, 20.0)


def test_a_job_runs_in_a_worker_process_and_reports_its_result(pool):
    outcomes = Outcomes()
    pool.submit("tiny", dict(TINY, seed=11), outcomes)
    run_id, outcome = outcomes.next()
    assert run_id == "tiny"
    assert outcome.ok and outcome.status == "done"
    assert outcome.result["verdict"] in ("vanishing", "healthy", "exploding")
    assert len(outcome.result["layers"]) == 4
    assert outcome.result["config"]["seed"] == 11
    assert os.getpid() not in pool.worker_pids()
    assert len(pool.worker_pids()) == 1


def test_a_config_the_simulator_refuses_is_reported_and_the_worker_lives_on(pool):
    outcomes = Outcomes()
    pool.submit("warm", TINY, outcomes)
    outcomes.next()
    pids = pool.worker_pids()
    pool.submit("bad", {"kind": "mlp", "depth": 5000}, outcomes)
    _, outcome = outcomes.next()
    assert outcome.status == "invalid"
    assert "depth" in outcome.message and "200" in outcome.message
    assert pool.worker_pids() == pids


def test_a_crashed_worker_is_reported_and_replaced(pool):
    outcomes = Outcomes()
    # Stop the idle worker first, so the next one to appear is the one running the slow job.
    before = pool.worker_pids()
    for pid in before:
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not set(pool.worker_pids()) & set(before), "the idle worker to stop")
    restarts = pool.restarts

    started = pool.acknowledged
    pool.submit("doomed", SLOW, outcomes)
    wait_until(lambda: set(pool.worker_pids()) - set(before), "a worker for the slow job")
    # Killed once the job reached it: a worker killed before that gets the job retried on a
    # fresh worker (tests/faults/test_fault_worker_lost_before_job.py).
    wait_until(lambda: pool.acknowledged > started, "the slow job to reach its worker")
    (victim,) = pool.worker_pids()
    os.kill(victim, signal.SIGKILL)
    run_id, outcome = outcomes.next()
    assert run_id == "doomed"
    assert outcome.status == "crashed"
    assert not outcome.ok
    assert "stopped unexpectedly" in outcome.message
    assert pool.restarts == restarts + 1

    pool.submit("after", dict(TINY, seed=12), outcomes)
    run_id, outcome = outcomes.next()
    assert (run_id, outcome.status) == ("after", "done")
    assert victim not in pool.worker_pids()
    assert len(pool.worker_pids()) == 1


def test_a_full_queue_refuses_jobs_and_loses_none_it_accepted(pool):
    outcomes = Outcomes()
    accepted = []
    with pytest.raises(QueueFull) as full:
        for seed in range(6):  # one job runs, one waits: the third cannot be queued
            pool.submit(f"busy-{seed}", dict(BUSY, seed=seed), outcomes)
            accepted.append(f"busy-{seed}")
    assert full.value.retry_after >= 1
    assert "queue is full" in str(full.value)
    assert 1 <= len(accepted) <= 2
    results = outcomes.collect(len(accepted))
    assert sorted(results) == sorted(accepted)
    assert {outcome.status for outcome in results.values()} == {"done"}
    # Once the queue drained, it accepts jobs again.
    wait_until(pool.has_capacity, "room in the queue")
    pool.submit("later", TINY, outcomes)
    assert outcomes.next()[1].status == "done"


def test_health_describes_the_pool(pool):
    healthy, text = pool.health()
    assert healthy
    assert "1 workers" in text and "/1 queued" in text


def test_the_cache_key_is_the_config_and_the_simulator_version():
    config = {"kind": "mlp", "depth": 4, "seed": 0}
    assert cache_key(config, "1.0.0") == cache_key(dict(reversed(config.items())), "1.0.0")
    assert cache_key(config, "1.0.0") != cache_key(config, "1.0.1")
    assert cache_key(config, "1.0.0") != cache_key(dict(config, seed=1), "1.0.0")
    assert len(cache_key(config, "1.0.0")) == 64


@pytest.mark.parametrize("name", sorted(JOB_KINDS))
def test_every_job_kind_names_a_recorder_that_exists_and_a_timeout_message(name):
    """The Celery worker makes one task per kind from this table, recording each outcome with
    the kind's recorder: a misspelt one would only show when a job ends there."""
    kind = JOB_KINDS[name]
    module, function = kind.recorder.split(":")
    recorder = getattr(importlib.import_module(module), function)
    assert len(inspect.signature(recorder).parameters) == 3  # (app, job id, outcome)
    assert "2.5 s" in kind.timed_out(2.5)
