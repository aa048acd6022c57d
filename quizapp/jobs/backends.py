"""The job backend of an app, chosen by QUIZAPP_JOBS: a registry, not an if-chain."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from quizapp.jobs import JobBackend


def _local_backend(config: dict[str, Any]) -> JobBackend:
    from quizapp.jobs.pool import shared_pool

    return shared_pool(
        config["QUIZAPP_SIM_WORKERS"],
        config["QUIZAPP_SIM_QUEUE_LIMIT"],
        config["QUIZAPP_SIM_TIMEOUT"],
        worker_memory_mb(config),
    )


def worker_memory_mb(config: dict[str, Any]) -> int:
    """Each simulation process's share of the host's simulation memory: the total
    (QUIZAPP_SIM_MEMORY_MB) over every pool worker of every web process on the host, so it
    holds whatever the number of gunicorn workers (gunicorn.conf.py tells the app)."""
    processes = max(1, config["QUIZAPP_WEB_WORKERS"]) * max(1, config["QUIZAPP_SIM_WORKERS"])
    return max(64, config["QUIZAPP_SIM_MEMORY_MB"] // processes)


def _celery_backend(config: dict[str, Any]) -> JobBackend:
    from quizapp.jobs.celery_backend import CeleryBackend

    return CeleryBackend(config)


BACKENDS: dict[str, Callable[[dict[str, Any]], JobBackend]] = {
    "local": _local_backend,
    "celery": _celery_backend,
}


def backend_for(app) -> JobBackend:
    """The app's job backend, made on first use (so creating an app starts no process)."""
    backend = app.extensions.get("quizapp_jobs")
    if backend is None:
        name = app.config["QUIZAPP_JOBS"]
        if name not in BACKENDS:
            raise RuntimeError(f"QUIZAPP_JOBS must be one of {', '.join(BACKENDS)}, not {name!r}")
        backend = app.extensions["quizapp_jobs"] = BACKENDS[name](app.config)
    return backend
