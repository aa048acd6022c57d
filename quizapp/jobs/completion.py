"""Pushing a run's completion to the request waiting for it, instead of a fixed poll.

The local pool finishes jobs in the web process, so a waiting request is woken the moment
the worker's answer arrives: the pool `publish`es the outcome before the database write (a lab
chart needs only the result), `mark_recorded` once the outcome is stored (an exercise's
grade needs the database). Runs finished elsewhere (a Celery worker, another gunicorn
process) are not announced here; waiters also look at the database on a short interval.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from quizapp.jobs import JobOutcome

KEEP = 512  # finished runs remembered for late waiters


def wait_deadline(timeout: float, longest: float) -> float:
    """The time.monotonic() at which a long-poll of `timeout` seconds (0 to `longest`) ends.

    NaN ("?wait=nan" reads as a float) waits 0: max(nan, 0.0) is nan, a deadline never
    reached, which held the request in a database-polling loop until the job finished.
    """
    seconds = 0.0 if math.isnan(timeout) else min(max(timeout, 0.0), longest)
    return time.monotonic() + seconds


@dataclass
class Announcement:
    outcome: JobOutcome
    recorded: bool = False


class CompletionBoard:
    """Outcomes of recently finished runs, and a condition to wait for the next one."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._finished: OrderedDict[str, Announcement] = OrderedDict()

    def publish(self, run_id: str, outcome: JobOutcome) -> None:
        with self._changed:
            self._finished[run_id] = Announcement(outcome)
            while len(self._finished) > KEEP:
                self._finished.popitem(last=False)
            self._changed.notify_all()

    def mark_recorded(self, run_id: str) -> None:
        with self._changed:
            announcement = self._finished.get(run_id)
            if announcement is not None:
                announcement.recorded = True
            self._changed.notify_all()

    def wait(self, run_id: str, timeout: float, recorded: bool = False) -> Announcement | None:
        """The run's announcement once published (and recorded if asked), or None after
        `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = self._finished.get(run_id)
                if found is not None and (found.recorded or not recorded):
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)


BOARD = CompletionBoard()


class ProgressBoard:
    """Counters of finished pieces per key (a phase diagram's cells) to wait on."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._counts: OrderedDict[str, int] = OrderedDict()

    def bump(self, key: str) -> None:
        with self._changed:
            self._counts[key] = self._counts.pop(key, 0) + 1
            while len(self._counts) > KEEP:
                self._counts.popitem(last=False)
            self._changed.notify_all()

    def wait(self, key: str, seen_bumps: int, timeout: float) -> None:
        """Return at the next bump of `key` after this call, or after `timeout` seconds."""
        with self._changed:
            start = self._counts.get(key, 0)
            self._changed.wait_for(lambda: self._counts.get(key, 0) != start, timeout)


PROGRESS = ProgressBoard()
