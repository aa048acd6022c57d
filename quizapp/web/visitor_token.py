"""A first-time visitor's CSRF token and the session cookie that holds it, made in one step.

A kept form page (the log-in and sign-up forms, the lab, an exercise) is served to every
visitor without a cookie, and each needs a token of their own, bound to a new session, so a
log-in CSRF stays impossible: a forged POST carries no session (or one the attacker cannot
plant) and is refused. Flask-WTF's `generate_csrf` and Flask's session save make that token
and cookie through itsdangerous' general serializers, built anew on each call: ~0.15 ms, as
much again as the rest of serving the kept page.

`mint` makes the same two values directly: the form token exactly as Flask-WTF makes it
(itsdangerous' URL-safe timed signature, salt "wtf-csrf-token") and the cookie exactly as
Flask's session interface writes `{"csrf_token": raw}` (salt "cookie-session", HMAC key
derivation). Validation is untouched: Flask opens the cookie and Flask-WTF checks the token
with their own code, and tests/web/test_page_delivery.py checks both read what is made here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time

from flask import Flask
from werkzeug.http import dump_cookie

CSRF_SALT = b"wtf-csrf-token"  # Flask-WTF's, in generate_csrf and validate_csrf


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _timestamped(payload: bytes, key: bytes) -> bytes:
    """itsdangerous' TimestampSigner.sign (SHA-1, "." between the parts) with a derived key."""
    stamp = int(time.time())
    stamped = payload + b"." + _b64(stamp.to_bytes(8, "big").lstrip(b"\x00"))
    return stamped + b"." + _b64(hmac.digest(key, stamped, "sha1"))


# What the mint depends on: the secrets, Flask-WTF's field and the session cookie's settings.
SETTINGS = (
    "WTF_CSRF_SECRET_KEY",
    "WTF_CSRF_FIELD_NAME",
    "SESSION_COOKIE_NAME",
    "SESSION_COOKIE_DOMAIN",
    "SESSION_COOKIE_PATH",
    "APPLICATION_ROOT",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "SESSION_COOKIE_PARTITIONED",
)
_VALUE = "quizapp-cookie-value"  # URL-safe like a signed value: never quoted


class TokenMint:
    """The derived signing keys of one app's secrets and its cookie's attributes, computed
    once."""

    def __init__(self, app: Flask) -> None:
        secret = app.secret_key if isinstance(app.secret_key, bytes) else app.secret_key.encode()
        csrf_secret = app.config.get("WTF_CSRF_SECRET_KEY") or secret
        if isinstance(csrf_secret, str):
            csrf_secret = csrf_secret.encode()
        # The session key Flask-WTF keeps the raw token under.
        self.field = app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token").encode()
        # itsdangerous' "django-concat" derivation (a Signer's default), and "hmac" (Flask's).
        self.csrf_key = hashlib.sha1(CSRF_SALT + b"signer" + csrf_secret).digest()
        interface = app.session_interface
        session_salt = interface.salt.encode()  # type: ignore[attr-defined]
        self.session_key = hmac.digest(secret, session_salt, "sha1")
        # The Set-Cookie header Flask's session save writes (a new session is not permanent),
        # around the value: a signed value is URL-safe, so werkzeug never quotes it.
        header = dump_cookie(
            interface.get_cookie_name(app),
            _VALUE,
            domain=interface.get_cookie_domain(app),
            path=interface.get_cookie_path(app),
            secure=interface.get_cookie_secure(app),
            httponly=interface.get_cookie_httponly(app),
            samesite=interface.get_cookie_samesite(app),
            partitioned=interface.get_cookie_partitioned(app),
        )
        self.cookie_before, _, self.cookie_after = header.partition(_VALUE)

    def mint(self) -> tuple[str, str]:
        """(the form's token, the Set-Cookie header of its session) for one new visitor."""
        raw = hashlib.sha1(os.urandom(64)).hexdigest().encode()  # as Flask-WTF makes it
        token = _timestamped(_b64(b'"' + raw + b'"'), self.csrf_key)
        session = b'{"' + self.field + b'":"' + raw + b'"}'  # Flask's compact JSON
        cookie = _timestamped(_b64(session), self.session_key)
        return token.decode(), self.cookie_before + cookie.decode() + self.cookie_after


def mint_for(app: Flask) -> tuple[str, str]:
    """A fresh (token, Set-Cookie header) with `app`'s current secrets and cookie settings."""
    key = (app.secret_key, *(app.config.get(name) for name in SETTINGS))
    kept = app.extensions.get("quizapp_token_mint")
    if kept is None or kept[0] != key:
        kept = app.extensions["quizapp_token_mint"] = (key, TokenMint(app))
    return kept[1].mint()
