"""Hypothesis profiles for the fuzz tests: "ci" (CI=true: bounded and reproducible) and "dev".

Imported by every fuzz module; HYPOTHESIS_PROFILE=name picks another registered profile.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# CI runs each property this many times (scaled per property by `examples`); the budget of
# all fuzzing in CI, Schemathesis included, is about 2 minutes of the whole suite's 15. Each
# property still gets every shape it names (e.g. the API's malformed values, sent to every
# operation whatever the count); "dev" runs twice as many, "long" is for a deep search.
settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,
    database=None,
    derandomize=True,  # a CI failure is reproducible by re-running the same commit
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("long", parent=settings.get_profile("dev"), max_examples=5_000)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


def examples(factor: float = 1.0) -> int:
    """The profile's number of examples scaled for one property (cheap ones run more)."""
    return max(10, int(settings.default.max_examples * factor))
