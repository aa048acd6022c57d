"""Nothing in flight is lost when the web process dies: runs queued in its simulation pool
are requeued by the next process (gunicorn.conf.py's post_worker_init), and finish.

gunicorn (production mode, the local pool) is killed with SIGKILL, simulation processes and
all, while one run is running and another waits behind it; a new gunicorn on the same
database finishes both. Simulations are deterministic, so running one again is safe.

Where the test runner (or a supervisor) is a subreaper, the killed worker stays an unreaped
zombie with its pid and start time: it must count as gone all the same (jobs/owners.py;
tests/integration/test_run_recovery.py shows that case without gunicorn).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from conftest import GunicornServer, production_env, run_flask
from sqlalchemy import create_engine, text

WAIT = 180.0  # seconds: a bound on workers importing torch and simulating, never asserted on
# About a second of work: still running when the server is killed right after submitting.
BUSY = {"kind": "mlp", "depth": 20, "width": 128, "batch_size": 64, "train_steps": 300}
TINY = {"kind": "mlp", "depth": 3, "width": 4, "batch_size": 8, "seed": 5}


def _api(url: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url + path, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _statuses(database_url: str) -> dict[str, str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return dict(connection.execute(text("SELECT id, status FROM sim_runs")).all())
    finally:
        engine.dispose()


def test_runs_in_flight_when_the_server_dies_finish_after_a_restart(tmp_path):
    database = f"sqlite:///{tmp_path / 'restart.sqlite'}"
    env = production_env(database, QUIZAPP_RATELIMIT="0", QUIZAPP_SIM_TIMEOUT="60")
    run_flask(env, "db", "upgrade")

    first = GunicornServer(env, tmp_path / "first.log", workers=1).start()
    try:
        running = _api(first.url, "/api/v1/lab/runs", {"config": BUSY})["id"]
        waiting = _api(first.url, "/api/v1/lab/runs", {"config": TINY})["id"]
    finally:
        first.kill()
    assert _statuses(database) == {running: "queued", waiting: "queued"}

    second = GunicornServer(env, tmp_path / "second.log", workers=1)
    with second:
        deadline = time.monotonic() + WAIT
        while set(_statuses(database).values()) != {"done"}:
            assert time.monotonic() < deadline, (_statuses(database), second.log[-3000:])
            time.sleep(0.5)
        for run_id in (running, waiting):
            body = _api(second.url, f"/api/v1/runs/{run_id}")
            assert body["status"] == "done" and body["result"]["verdict"], body
        assert "requeued 2 simulation run(s)" in second.log
