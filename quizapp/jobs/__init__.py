"""Running simulations off the request thread: a local process pool or a Celery queue.

Both backends take a job (run id, normalised config) and, when it ends, call the
completion callback with a `JobOutcome`. The web process never imports torch: only the
worker processes do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class JobOutcome:
    """How a job ended: `status` is done, invalid, failed, timeout or crashed."""

    status: str
    result: dict[str, Any] | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "done"


OnComplete = Callable[[str, JobOutcome], None]


class QueueFull(Exception):
    """No room for another job right now; the caller should answer 503 with Retry-After."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("the simulation queue is full")
        self.retry_after = retry_after


class JobBackend(Protocol):
    def submit(
        self,
        run_id: str,
        config: dict[str, Any],
        on_complete: OnComplete,
        kind: str = "simulate",
        timeout: float | None = None,
    ) -> None: ...

    def has_capacity(self) -> bool: ...

    def health(self) -> tuple[bool, str]: ...


def cache_key(config: dict[str, Any], simulator_version: str) -> str:
    """The identity of a simulation: its normalised config (seed included) and the version."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{simulator_version}|{canonical}".encode()).hexdigest()
