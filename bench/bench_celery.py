"""Simulation throughput on the Celery backend with 1 and 2 worker processes (needs Redis).

Run: .venv/bin/python bench/bench_celery.py   (REDIS_URL, default redis://127.0.0.1:6379/12)
Each round starts a real `celery worker --concurrency N`, pushes the same number of distinct
(uncached) lab runs and times until all are recorded in the database. Baseline: the same
configs through bare `simulate()` in one process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12")
RUNS = int(os.environ.get("BENCH_CELERY_RUNS", "40"))
CONFIG = {"kind": "mlp", "depth": 60, "width": 256, "batch_size": 128}  # ~50 ms each


def configs(offset: int) -> list[dict]:
    return [dict(CONFIG, seed=offset + n) for n in range(RUNS)]


def round_trip(concurrency: int, offset: int) -> float:
    import redis

    from quizapp import create_app
    from quizapp.extensions import db
    from quizapp.models import SimRun
    from quizapp.services.simulations import start_lab_run

    redis.Redis.from_url(REDIS_URL).flushdb()
    database = f"sqlite:///{tempfile.mkdtemp()}/celery-bench.sqlite"
    settings = {"SQLALCHEMY_DATABASE_URI": database, "QUIZAPP_JOBS": "celery",
                "REDIS_URL": REDIS_URL, "QUIZAPP_SIM_QUEUE_LIMIT": RUNS + 10}  # fmt: skip
    app = create_app(settings)
    with app.app_context():
        db.create_all()
    env = os.environ | {"DATABASE_URL": database, "REDIS_URL": REDIS_URL, "QUIZAPP_JOBS": "celery"}
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "quizapp.jobs.celery_worker",
         "worker", "--concurrency", str(concurrency), "--loglevel", "error",
         "--without-gossip", "--without-mingle"],  # fmt: skip
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        with app.test_request_context():  # warm-up: each worker process imports torch once
            warm = [
                start_lab_run(None, dict(CONFIG, seed=10**6 + n)).id for n in range(concurrency)
            ]
        wait_for(app, warm)
        started = time.perf_counter()
        with app.test_request_context():
            ids = [start_lab_run(None, config).id for config in configs(offset)]
        wait_for(app, ids)
        elapsed = time.perf_counter() - started
        with app.app_context():
            failed = db.session.query(SimRun).filter(SimRun.status != "done").count()
        if failed:
            print(f"  {failed} runs did not finish cleanly")
        return RUNS / elapsed
    finally:
        worker.terminate()
        worker.wait(30)


def wait_for(app, ids: list[str], seconds: float = 300) -> None:
    from quizapp.extensions import db
    from quizapp.models import SimRun

    deadline = time.time() + seconds
    while time.time() < deadline:
        with app.app_context():
            pending = (
                db.session.query(SimRun)
                .filter(SimRun.id.in_(ids), SimRun.status.in_(("queued", "running")))
                .count()
            )
        if not pending:
            return
        time.sleep(0.05)
    raise SystemExit("runs did not finish in time")


def main() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as error:
        print(f"skipped: no Redis at {REDIS_URL} ({error})")
        return
    from quizapp.sim import simulate

    simulate(dict(CONFIG, seed=10**7))  # import torch, warm up
    started = time.perf_counter()
    for config in configs(10**5):
        simulate(config)
    bare = RUNS / (time.perf_counter() - started)
    one = round_trip(1, 0)
    two = round_trip(2, 10**4)
    print(f"Celery simulation throughput, {RUNS} uncached runs of {CONFIG}")
    print(f"  bare simulate(), one process        {bare:7.1f} runs/s")
    print(f"  Celery, 1 worker process           {one:7.1f} runs/s")
    print(f"  Celery, 2 worker processes         {two:7.1f} runs/s   (x{two / one:.2f} of 1)")
    scales = two / one >= 1.4
    print(f"  {'PASS' if scales else 'FAIL'}  throughput scales with workers (2 vs 1 >= 1.4x)")


if __name__ == "__main__":
    main()
