"""The loop a simulation worker process runs: import torch once, then simulate job after job."""

from __future__ import annotations

import os
from multiprocessing.connection import Connection


def serve_simulations(connection: Connection) -> None:
    """Receive configs, send back ("done", result) / ("invalid", message) / ("failed", message)."""
    # Loaded here, in the worker, so the parent (web) process never imports torch.
    from quizapp.jobs.kinds import run_job
    from quizapp.sim import (
        SimConfigError,
        engine,  # noqa: F401  (imports torch now, not in the first job's time)
    )

    connection.send(("ready", os.getpid()))
    while True:
        try:
            config = connection.recv()
        except (EOFError, OSError):
            return
        if config is None:
            return
        try:
            reply = ("done", run_job(config))
        except SimConfigError as error:
            reply = ("invalid", str(error))
        except MemoryError:
            reply = ("failed", "The simulation ran out of memory. Use a smaller network.")
        except Exception as error:  # reported to the learner; the worker lives on
            reply = ("failed", f"The simulation failed: {type(error).__name__}: {error}")
        connection.send(reply)
