"""Log-in guessing limits: 5 failed password checks a minute per account and per address.

An attempt is counted before its password is verified, with one atomic increment per key in
the rate-limit store (Redis in production, shared by every gunicorn worker), and given back
when the password was right: a learner who signs in is never counted, and 50 guesses sent
at once can never have more than 5 checked. Counting failures after the response (what
Flask-Limiter's deduct_when does) let every parallel guess through before the first failure
was counted.
"""

from __future__ import annotations

import math
import time

from flask import request
from werkzeug.exceptions import TooManyRequests

from quizapp.extensions import limiter

FAILURES_ALLOWED = 5
WINDOW_SECONDS = 60


def _keys(username: str) -> list[str]:
    account = (username or "").strip().lower()[:40]
    return [f"login-failures/account/{account}", f"login-failures/address/{request.remote_addr}"]


def _give_back(keys: list[str]) -> None:
    storage = limiter.storage
    for key in keys:
        # Below zero only when the window ran out meanwhile: never bank extra attempts.
        if storage.incr(key, WINDOW_SECONDS, amount=-1) < 0:
            storage.incr(key, WINDOW_SECONDS, amount=1)


def claim_password_check(username: str) -> None:
    """Count one password check for the account and the address; 429 if either is spent."""
    if not limiter.enabled:
        return
    storage = limiter.storage
    claimed: list[str] = []
    for key in _keys(username):
        count = storage.incr(key, WINDOW_SECONDS)
        claimed.append(key)
        if count > FAILURES_ALLOWED:
            # Refused attempts are not checks: they give their count back at once, and the
            # window keeps the end set by its first failure.
            _give_back(claimed)
            retry_after = max(1, math.ceil(storage.get_expiry(key) - time.time()))
            # The generic 429 message: it must not tell a guesser which limit was hit.
            raise TooManyRequests(retry_after=retry_after)


def password_check_passed(username: str) -> None:
    """A right password is not a failed guess: give its count back."""
    if limiter.enabled:
        _give_back(_keys(username))
