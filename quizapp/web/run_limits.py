"""How many simulation runs one account and one address may submit, cached runs included.

A cached run costs no simulation but still a stored run and a database round trip, so a
script replaying one cached config is throttled like one sending new ones. Limits are moving
windows counted atomically in the rate-limit store before the run is started (Redis in
production, shared by every gunicorn worker); the answer is 429 with Retry-After.
"""

from __future__ import annotations

import math
import time

from flask import Flask, current_app, has_request_context, request
from limits import parse_many
from werkzeug.exceptions import TooManyRequests

from quizapp.extensions import limiter
from quizapp.services import simulations as sim_service

SCOPE = "sim-runs"


def _refuse_if_over(limits_setting: str, key: str) -> None:
    strategy = limiter.limiter
    for item in parse_many(limits_setting):
        if not strategy.hit(item, SCOPE, key):
            reset_at = strategy.get_window_stats(item, SCOPE, key).reset_time
            retry_after = max(1, math.ceil(reset_at - time.time()))
            raise TooManyRequests(
                f"You have started many simulations ({item}). "
                f"Please wait {retry_after} seconds before the next one.",
                retry_after=retry_after,
            )


def check_run_submission(user) -> None:
    """Count one run for the address and, when signed in, the account; 429 when spent."""
    if not has_request_context() or not limiter.enabled:
        return  # a CLI or a test calling the service directly: nobody to throttle
    config = current_app.config
    _refuse_if_over(config["QUIZAPP_RUN_LIMIT_PER_ADDRESS"], f"address/{request.remote_addr}")
    if user is not None:
        _refuse_if_over(config["QUIZAPP_RUN_LIMIT_PER_ACCOUNT"], f"account/{user.id}")


def register_run_limits(app: Flask) -> None:
    """Check every run submission of this app against the run limits."""
    parse_many(app.config["QUIZAPP_RUN_LIMIT_PER_ADDRESS"])  # a typo fails at start, not later
    parse_many(app.config["QUIZAPP_RUN_LIMIT_PER_ACCOUNT"])
    sim_service.register_submission_check(check_run_submission)
