"""The loop a worker process runs: import torch once, then run job after job (any job kind)."""

from __future__ import annotations

import os
from multiprocessing.connection import Connection

OUT_OF_MEMORY = "The simulation ran out of memory. Use a smaller network."


def cap_memory(memory_mb: int | None) -> None:
    """Let this worker grow by at most `memory_mb` MiB beyond what a warm worker maps.

    RLIMIT_AS bounds the address space: an allocation past it fails inside torch instead of
    pushing the host into swap or the OOM killer. The base is measured after a first tiny
    simulation, so torch's own start-up (libraries, thread pools) is not counted as the job's.
    """
    if not memory_mb:
        return
    import resource

    from quizapp.sim import simulate

    simulate({"kind": "mlp", "depth": 2, "width": 2, "batch_size": 2})
    with open("/proc/self/status") as status:
        mapped_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    limit = (mapped_kb * 1024) + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _out_of_memory(error: BaseException) -> bool:
    # torch reports a refused allocation as a RuntimeError, Python as MemoryError.
    return isinstance(error, MemoryError) or "can't allocate memory" in str(error)


def serve_simulations(connection: Connection, memory_mb: int | None = None) -> None:
    """Receive (kind, payload), send back ("done", result) / ("invalid", message) /
    ("failed", message) / ("out_of_memory", message); the pool replaces a worker that ran out
    of memory. Kinds are the entries of jobs.kinds.JOB_KINDS."""
    # Loaded here, in the worker, so the parent (web) process never imports torch.
    from quizapp.jobs.kinds import JOB_KINDS
    from quizapp.sim import engine  # noqa: F401  (imports torch now, not in the first job's time)
    from quizapp.sim.theory import prepare_moment_tables

    prepare_moment_tables()  # the theory's tables too, not in the first run of each activation
    cap_memory(memory_mb)
    connection.send(("ready", os.getpid()))
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        kind, payload = message
        connection.send(("received", None))  # the job reached this worker (pool.py retries if not)
        job = JOB_KINDS.get(kind)
        if job is None:
            connection.send(("invalid", f"unknown job kind {kind!r}"))
            continue
        noun = "simulation" if kind == "simulate" else "job"
        try:
            reply = ("done", job.run(payload))
        except job.refusals() as error:
            reply = ("invalid", str(error))
        except Exception as error:  # reported to the learner; the worker lives on
            reply = ("failed", f"The {noun} failed: {type(error).__name__}: {error}")
            if _out_of_memory(error):
                reply = ("out_of_memory", OUT_OF_MEMORY if kind == "simulate" else
                         "The job ran out of memory.")  # fmt: skip
        connection.send(reply)
