"""Settings from environment variables, read when the app is created (never at import)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DEFAULT_SECRET_KEY = "dev-secret-key-change-me"


class ConfigurationError(RuntimeError):
    """A setting is missing or unsafe for the chosen environment."""


def _database_url(instance_path: str) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        # Heroku-style URLs name the old driver; SQLAlchemy 2 wants psycopg 3.
        if url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url[len("postgres://") :]
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        return url
    Path(instance_path).mkdir(parents=True, exist_ok=True)
    return "sqlite:///" + str(Path(instance_path) / "quizapp.sqlite")


def load_settings(instance_path: str) -> dict[str, Any]:
    """Collect every setting from the environment into a Flask config mapping."""
    env = os.environ.get("QUIZAPP_ENV", "development")
    production = env == "production"
    secret = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
    if production and secret == DEFAULT_SECRET_KEY:
        raise ConfigurationError(
            "SECRET_KEY must be set to a long random value when QUIZAPP_ENV=production"
        )
    # Behind TLS in production; QUIZAPP_SECURE_COOKIES=0 serves plain http on loopback (load test).
    secure_cookies = os.environ.get("QUIZAPP_SECURE_COOKIES", "1" if production else "0") == "1"
    return {
        "QUIZAPP_ENV": env,
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "QUIZAPP_CONTENT_DIR": os.environ.get("QUIZAPP_CONTENT_DIR", "content"),
        "QUIZAPP_CONTENT_VERSION_TTL": float(
            os.environ.get("QUIZAPP_CONTENT_VERSION_TTL", "1" if production else "0")
        ),
        "QUIZAPP_PAGE_SIZE": int(os.environ.get("QUIZAPP_PAGE_SIZE", "24")),
        "MAX_CONTENT_LENGTH": 64 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure_cookies,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": secure_cookies,
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        "QUIZAPP_TRUST_PROXY": os.environ.get("QUIZAPP_TRUST_PROXY", "1" if production else "0")
        == "1",
        # CSRF is checked in one before_request hook (web/auth.py); token-auth API calls skip it.
        "WTF_CSRF_CHECK_DEFAULT": False,
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_ENABLED": os.environ.get("QUIZAPP_CSRF", "1") != "0",
        "RATELIMIT_ENABLED": os.environ.get("QUIZAPP_RATELIMIT", "1") != "0",
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "QUIZAPP_JOBS": os.environ.get("QUIZAPP_JOBS", "local"),
        "QUIZAPP_LOG_REQUESTS": os.environ.get("QUIZAPP_LOG_REQUESTS", "1" if production else "0")
        == "1",
        "QUIZAPP_SIM_WORKERS": int(os.environ.get("QUIZAPP_SIM_WORKERS", "2")),
        "QUIZAPP_SIM_QUEUE_LIMIT": int(os.environ.get("QUIZAPP_SIM_QUEUE_LIMIT", "16")),
        "QUIZAPP_SIM_TIMEOUT": float(os.environ.get("QUIZAPP_SIM_TIMEOUT", "20")),
        # Fitting FSRS parameters to a long history takes far longer than a simulation.
        "QUIZAPP_FIT_TIMEOUT": float(os.environ.get("QUIZAPP_FIT_TIMEOUT", "300")),
        "API_TITLE": "quizapp API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
    }
