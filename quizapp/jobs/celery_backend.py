"""Simulations on Celery with Redis as broker and result store (QUIZAPP_JOBS=celery).

The web process only sends tasks by name; the worker (`celery -A quizapp.jobs.celery_worker
worker`) runs them, imports torch, and records each outcome in the database itself.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from quizapp.jobs import OnComplete, QueueFull

QUEUE_NAME = "quizapp-simulations"


def make_celery(config: dict[str, Any]) -> Celery:
    """A Celery app for quizapp's settings (broker and result backend on REDIS_URL)."""
    timeout = float(config["QUIZAPP_SIM_TIMEOUT"])
    celery = Celery("quizapp", broker=config["REDIS_URL"], backend=config["REDIS_URL"])
    celery.conf.update(
        task_default_queue=QUEUE_NAME,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=3600,
        # A job killed with its worker is delivered again: simulations are deterministic
        # and recording an outcome twice is a no-op, so that retry is safe.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_soft_time_limit=timeout,
        task_time_limit=timeout + 10,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": int(timeout * 3) + 60},
    )
    return celery


class CeleryBackend:
    """Sends simulation jobs to Celery workers; the queue bound is checked on the broker."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.celery = make_celery(config)
        self.queue_limit = int(config["QUIZAPP_SIM_QUEUE_LIMIT"])
        self.redis_url = config["REDIS_URL"]

    def _redis(self):
        import redis

        return redis.Redis.from_url(self.redis_url, socket_timeout=2)

    def _queued(self) -> int:
        return int(self._redis().llen(QUEUE_NAME))

    def has_capacity(self) -> bool:
        return self._queued() < self.queue_limit

    def submit(
        self,
        run_id: str,
        config: dict[str, Any],
        on_complete: OnComplete,
        kind: str = "simulate",
        timeout: float | None = None,
    ) -> None:
        # The worker records the outcome in the database; `on_complete` is for in-process pools.
        from quizapp.jobs.kinds import JOB_KINDS

        if self._queued() >= self.queue_limit:
            raise QueueFull(retry_after=5)
        limits = {} if timeout is None else {"soft_time_limit": timeout, "time_limit": timeout + 10}
        self.celery.send_task(
            JOB_KINDS[kind].celery_task, args=[run_id, config], queue=QUEUE_NAME, **limits
        )

    def health(self) -> tuple[bool, str]:
        try:
            self._redis().ping()
        except Exception as error:
            return False, f"celery broker unreachable: {type(error).__name__}"
        workers = self.celery.control.ping(timeout=0.5) or []
        return bool(workers), f"celery: {len(workers)} worker(s), {self._queued()} queued"
