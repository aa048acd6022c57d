"""The gradient-flow simulator: the only package that imports torch, and only lazily.

`validate_config`, `SimConfigError`, `LIMITS`, `SIMULATOR_VERSION` and `format_result_table`
are pure Python; `simulate` imports torch on its first call.
"""

from __future__ import annotations

from quizapp.sim.config import LIMITS, SIMULATOR_VERSION, SimConfigError, validate_config
from quizapp.sim.report import format_result_table

__all__ = [
    "LIMITS",
    "SIMULATOR_VERSION",
    "SimConfigError",
    "format_result_table",
    "simulate",
    "validate_config",
]


def simulate(config: dict) -> dict:
    """Run one gradient-flow simulation and return a JSON-serialisable result dict.

    Raises SimConfigError (a ValueError) for a bad config, before any tensor is made.
    """
    validate_config(config)  # fail fast without importing torch
    from quizapp.sim.engine import simulate as run

    return run(config)
