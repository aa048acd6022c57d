"""Flask's signed-cookie sessions, with the signing serializer built once per key set.

Flask builds a new serializer on every request, for opening the session (even when the
request has no cookie) and again for saving it: ~8 µs each here, a few per cent of a kept
page. The serializer holds no per-request state, so one per (secret key, fallbacks) serves
every request; a changed key (tests set it on a running app) builds a new one.
"""

from __future__ import annotations

import threading

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class KeptSerializerSessionInterface(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._serializers: dict[tuple, URLSafeTimedSerializer | None] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        serializer = self._serializers.get(keys)
        if serializer is None and app.secret_key:
            serializer = super().get_signing_serializer(app)
            with self._lock:
                if len(self._serializers) > 8:  # keys changed again and again: start over
                    self._serializers.clear()
                self._serializers[keys] = serializer
        return serializer


def init_session_cookie(app: Flask) -> None:
    app.session_interface = KeptSerializerSessionInterface()
