"""Simulation faults, through the web: a worker killed mid-run, and a full queue.

Each test has a pool of its own (the pool settings are its identity in a process) and
closes it at the end, so no other test shares a worker these tests kill or fill.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from conftest import make_app

from quizapp.extensions import db
from quizapp.jobs.backends import backend_for

WAIT = 120.0  # seconds: bounds on waiting for workers (they import torch), never asserted on
TINY = {"kind": "mlp", "depth": 3, "width": 4, "batch_size": 8}
# About a second of work: the queue stays full while requests (milliseconds) are sent.
BUSY = {"kind": "mlp", "depth": 20, "width": 128, "batch_size": 64, "train_steps": 300}
# Several seconds of work on one core: long enough to be killed in the middle.
SLOW = {"kind": "lstm", "width": 256, "seq_len": 500, "batch_size": 32}


@pytest.fixture
def pool_app(request, tmp_path):
    settings = request.param
    app = make_app(f"sqlite:///{tmp_path / 'pool.sqlite'}", **settings)
    yield app
    with app.app_context():
        backend_for(app).close()  # its workers finish their (tiny) jobs and exit
        db.engine.dispose()


def wait_for(condition, what: str):
    deadline = time.monotonic() + WAIT
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)
    return result


def run_status(client, run_id: str) -> str:
    return client.get(f"/api/v1/runs/{run_id}").get_json()["status"]


@pytest.mark.parametrize(
    "pool_app",
    [{"QUIZAPP_SIM_WORKERS": 1, "QUIZAPP_SIM_QUEUE_LIMIT": 3, "QUIZAPP_SIM_TIMEOUT": 31.0}],
    indirect=True,
)
def test_a_worker_killed_mid_run_fails_that_run_clearly_and_the_next_run_works(pool_app):
    client = pool_app.test_client()
    started = client.post("/lab/runs", data={k: str(v) for k, v in SLOW.items()})
    assert started.status_code == 302
    run_url = started.headers["Location"]
    run_id = run_url.rsplit("/", 1)[1]
    assert "Simulating" in client.get(run_url).get_data(as_text=True)

    with pool_app.app_context():
        pool = backend_for(pool_app)
        restarts = pool.restarts
        [worker] = wait_for(pool.worker_pids, "the worker to start")
    time.sleep(0.5)  # let it get into the computation
    os.kill(worker, signal.SIGKILL)

    wait_for(lambda: run_status(client, run_id) == "failed", "the run to be marked failed")
    page = client.get(run_url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "The simulation did not finish." in html
    assert "The simulation worker stopped unexpectedly." in html
    assert "Traceback" not in html and "Simulating" not in html
    api = client.get(f"/api/v1/runs/{run_id}").get_json()
    assert api["status"] == "failed" and api["result"] is None
    assert api["error"] == "The simulation worker stopped unexpectedly."

    # A fresh worker takes the next run.
    again = client.post("/api/v1/lab/runs", json={"config": TINY})
    assert again.status_code == 202
    next_id = again.get_json()["id"]
    wait_for(lambda: run_status(client, next_id) in ("done", "failed"), "the next run")
    assert run_status(client, next_id) == "done"
    assert pool.restarts == restarts + 1
    assert worker not in pool.worker_pids()


@pytest.mark.parametrize(
    "pool_app",
    [{"QUIZAPP_SIM_WORKERS": 1, "QUIZAPP_SIM_QUEUE_LIMIT": 1, "QUIZAPP_SIM_TIMEOUT": 32.0}],
    indirect=True,
)
def test_a_full_queue_answers_503_with_retry_after_and_recovers(pool_app):
    client = pool_app.test_client()
    seeds = iter(range(1000))

    def until_refused(submit) -> tuple[list, object]:
        """Submit runs until one is refused (1 worker busy, 1 waiting: the third at most)."""
        accepted = []
        for _ in range(6):
            response = submit(next(seeds))
            if response.status_code == 503:
                return accepted, response
            accepted.append(response)
        raise AssertionError(f"never refused: {[r.status_code for r in accepted]}")

    api_runs, refused = until_refused(
        lambda seed: client.post("/api/v1/lab/runs", json={"config": {**BUSY, "seed": seed}})
    )
    assert {r.status_code for r in api_runs} == {202}
    assert int(refused.headers["Retry-After"]) >= 1
    body = refused.get_json()
    assert body["code"] == 503
    assert "Many simulations are running right now" in body["message"]

    form_runs, page = until_refused(
        lambda seed: client.post("/lab/runs", data={**BUSY, "seed": seed})
    )
    assert {r.status_code for r in form_runs} <= {302}
    assert page.mimetype == "text/html"
    assert int(page.headers["Retry-After"]) >= 1
    assert "Many simulations are running right now" in page.get_data(as_text=True)

    # Once the queued runs have finished there is room again.
    run_ids = [r.get_json()["id"] for r in api_runs]
    run_ids += [r.headers["Location"].rsplit("/", 1)[1] for r in form_runs]
    for run_id in run_ids:
        wait_for(lambda run_id=run_id: run_status(client, run_id) == "done", "queued runs")
    again = client.post("/api/v1/lab/runs", json={"config": {**TINY, "seed": 100}})
    assert again.status_code == 202
