"""A bounded pool of simulation worker processes with a per-job time limit.

Each worker process imports torch once and runs one job at a time. A supervisor thread
per worker hands it jobs from a bounded queue; a job over its time limit, or a worker that
dies, is reported to the caller and the worker is replaced, so one bad job never takes the
web process (or the other jobs) down.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from quizapp.jobs import JobOutcome, OnComplete, QueueFull
from quizapp.jobs.completion import BOARD
from quizapp.jobs.kinds import JOB_KINDS

log = logging.getLogger(__name__)

STARTUP_TIMEOUT = 120.0  # seconds for a fresh worker to import torch
HANDOFF_WAIT = 0.005  # at most this long a submitter waits for an idle supervisor to take a job
# The worker died after its last job and before acknowledging this one: the job never ran.
NOT_REACHED = JobOutcome("crashed", message="The simulation worker stopped before the job began.")


@dataclass
class _Job:
    run_id: str
    config: dict[str, Any]
    on_complete: OnComplete
    kind: str = "simulate"
    timeout: float | None = None  # None: the pool's own time limit
    taken: threading.Event = field(default_factory=threading.Event)  # sent to a worker


class SimulationPool:
    """Runs simulations in `workers` processes; at most `queue_limit` jobs wait for a worker."""

    def __init__(
        self,
        workers: int = 2,
        queue_limit: int = 16,
        timeout: float = 20.0,
        memory_mb: int | None = None,
    ) -> None:
        self.workers = max(1, workers)
        self.memory_mb = memory_mb  # each worker's cap beyond its own start-up (worker.py)
        self.queue_limit = max(1, queue_limit)
        self.timeout = timeout
        self._jobs: queue.Queue[_Job | None] = queue.Queue(maxsize=self.queue_limit)
        # spawn, not fork: a forked child would inherit the web process's threads and sockets.
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._busy = 0
        self._closed = False
        self.completed = 0
        self.restarts = 0
        self.acknowledged = 0  # jobs a worker confirmed it received (it has started them)
        self._processes: dict[str, Any] = {}  # supervisor thread name -> worker process
        # Outcomes are recorded (database writes) off the supervisors, which move straight on
        # to the next job.
        self._recorder = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sim-recorder")

    # -- public -----------------------------------------------------------------------------

    def submit(
        self,
        run_id: str,
        config: dict[str, Any],
        on_complete: OnComplete,
        kind: str = "simulate",
        timeout: float | None = None,
    ) -> None:
        """Queue a job of `kind` (see jobs.kinds); QueueFull when `queue_limit` jobs wait."""
        self._start()
        job = _Job(run_id, config, on_complete, kind, timeout)
        idle = self._busy + self._jobs.qsize() < len(self._threads)
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            raise QueueFull(retry_after=self._retry_after()) from None
        if idle:
            # Give an idle supervisor the GIL until it has taken the job, instead of making it
            # wait out the interpreter's switch interval (5 ms) while this thread goes on.
            job.taken.wait(HANDOFF_WAIT)

    def has_capacity(self) -> bool:
        return not self._jobs.full()

    def health(self) -> tuple[bool, str]:
        alive = sum(thread.is_alive() for thread in self._threads)
        return True, (
            f"local pool: {self.workers} workers ({alive} started), {self._busy} busy, "
            f"{self._jobs.qsize()}/{self.queue_limit} queued"
        )

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (operators and fault tests use them)."""
        return [p.pid for p in list(self._processes.values()) if p is not None and p.is_alive()]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            threads = len(self._threads)
        # Outside the lock: with a full queue, put() waits for a supervisor to take a job,
        # and a supervisor needs the lock to finish the one it is running.
        for _ in range(threads):
            self._jobs.put(None)

    # -- internals --------------------------------------------------------------------------

    def _retry_after(self) -> int:
        """Seconds until a place is likely free: a quarter of a time limit per queued round."""
        return max(1, round(self.timeout * self._jobs.qsize() / (4 * self.workers)))

    def _start(self) -> None:
        with self._lock:
            if self._threads or self._closed:
                return
            for number in range(self.workers):
                thread = threading.Thread(
                    target=self._supervise, name=f"sim-worker-{number}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _spawn(self):
        from quizapp.jobs.worker import serve_simulations

        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=serve_simulations, args=(child, self.memory_mb), daemon=True
        )
        process.start()
        child.close()
        if not parent.poll(STARTUP_TIMEOUT):
            process.kill()
            raise RuntimeError("a simulation worker did not start")
        parent.recv()  # ("ready", pid)
        return process, parent

    def _supervise(self) -> None:
        process = connection = None
        while True:
            job = self._jobs.get()
            if job is None:
                break
            with self._lock:
                self._busy += 1
            try:
                if process is None or not process.is_alive():
                    process, connection = self._spawn()
                    self._processes[threading.current_thread().name] = process
                outcome, healthy = self._run(process, connection, job)
                if not healthy:
                    process.kill()
                    process.join(5)
                    process = connection = None
                    self.restarts += 1
                if outcome is NOT_REACHED:
                    process, connection, outcome = self._run_on_fresh_worker(job)
            except Exception as error:  # never let the supervisor die silently
                log.exception("simulation job %s could not run", job.run_id)
                outcome = JobOutcome("failed", message=f"The simulation could not start: {error}")
                process = connection = None
            finally:
                with self._lock:
                    self._busy -= 1
            self.completed += 1
            self._announce(job, outcome)
            self._recorder.submit(self._record, job, outcome)
        if process is not None:
            with contextlib.suppress(OSError):
                connection.send(None)
            process.join(5)

    def _run_on_fresh_worker(self, job: _Job):
        """The one retry of a job whose worker died before the job reached it: nothing of the
        job ran, so it cannot be what killed the worker. Returns (process, connection,
        outcome); the process is None if this worker died too."""
        log.warning("simulation worker died before job %s reached it: retrying once", job.run_id)
        process, connection = self._spawn()
        self._processes[threading.current_thread().name] = process
        outcome, healthy = self._run(process, connection, job)
        if not healthy:
            process.kill()
            process.join(5)
            process = connection = None
            self.restarts += 1
        if outcome is NOT_REACHED:
            outcome = JobOutcome("crashed", message=NOT_REACHED.message)
        return process, connection, outcome

    @staticmethod
    def _announce(job: _Job, outcome: JobOutcome) -> None:
        """Hand the outcome to a request waiting for it, from this thread, before it is stored
        (one thread hop less than through the recorder: the chart needs only the result)."""
        kind = JOB_KINDS.get(job.kind)
        if kind is not None and kind.announce:
            BOARD.publish(job.run_id, outcome)

    @staticmethod
    def _record(job: _Job, outcome: JobOutcome) -> None:
        try:
            job.on_complete(job.run_id, outcome)
        except Exception:
            log.exception("recording the outcome of simulation job %s failed", job.run_id)

    def _run(self, process, connection, job: _Job) -> tuple[JobOutcome, bool]:
        """Send one job; returns the outcome and whether the worker can take another."""
        reached = False
        timeout = job.timeout or self.timeout
        deadline = time.monotonic() + timeout
        try:
            connection.send((job.kind, job.config))
            job.taken.set()  # the submitter may go on (submit)
            while True:
                if not connection.poll(max(0.0, deadline - time.monotonic())):
                    message = JOB_KINDS[job.kind].timed_out(timeout)
                    return JobOutcome("timeout", message=message), False
                status, payload = connection.recv()
                if status != "received":
                    break
                reached = True
                self.acknowledged += 1
        except (EOFError, OSError, BrokenPipeError):
            if not reached:
                return NOT_REACHED, False
            return (
                JobOutcome("crashed", message="The simulation worker stopped unexpectedly."),
                False,
            )
        if status == "done":
            return JobOutcome("done", result=payload), True
        if status == "out_of_memory":
            # A fresh worker gives back what the allocator kept from the failed job.
            return JobOutcome("failed", message=str(payload)), False
        return JobOutcome(status, message=str(payload)), True


_pools: dict[tuple[int, int, float, int | None], SimulationPool] = {}
_pools_lock = threading.Lock()


def shared_pool(
    workers: int, queue_limit: int, timeout: float, memory_mb: int | None = None
) -> SimulationPool:
    """One pool per setting in a process, shared by every app (tests create many apps)."""
    key = (workers, queue_limit, timeout, memory_mb)
    with _pools_lock:
        if key not in _pools:
            _pools[key] = SimulationPool(workers, queue_limit, timeout, memory_mb)
        return _pools[key]
