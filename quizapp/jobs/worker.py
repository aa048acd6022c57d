"""The loop a worker process runs: import torch once, then run job after job (any job kind)."""

from __future__ import annotations

import os
from multiprocessing.connection import Connection


def serve_simulations(connection: Connection) -> None:
    """Receive (kind, payload), send back ("done", result) / ("invalid" | "failed", message)."""
    # Loaded here, in the worker, so the parent (web) process never imports torch.
    from quizapp.jobs.kinds import run_job
    from quizapp.sim import engine  # noqa: F401  (imports torch now, not in the first job's time)

    connection.send(("ready", os.getpid()))
    while True:
        try:
            config = connection.recv()
        except (EOFError, OSError):
            return
        if config is None:
            return
        kind, payload = config
        status, reply = run_job(kind, payload)
        if status == "failed" and kind == "simulate":
            reply = reply.replace("The job", "The simulation")
            if "out of memory" in reply:
                reply = "The simulation ran out of memory. Use a smaller network."
        connection.send((status, reply))
