"""Settings from environment variables, read when the app is created (never at import)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

DEFAULT_SECRET_KEY = "dev-secret-key-change-me"
# Sessions, remember-me cookies and CSRF tokens are only as strong as this key: anyone who
# guesses it can sign a cookie that names any session. 32 characters is 128+ bits of hex.
MIN_SECRET_KEY_LENGTH = 32
MIN_SECRET_KEY_DISTINCT_CHARACTERS = 8
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class ConfigurationError(RuntimeError):
    """A setting is missing or unsafe for the chosen environment."""


def refuse_to_start(error: ConfigurationError, exit_code: int = 1) -> NoReturn:
    """Stop a process that cannot run with these settings: one line an operator can act on
    (gunicorn, `flask`, a Celery worker alike), never a traceback that would bury it."""
    print(f"quizapp: refusing to start: {error}", file=sys.stderr, flush=True)
    raise SystemExit(exit_code)


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


def secret_key_problem(secret: str) -> str | None:
    """Why `secret` is unfit to sign production cookies, or None when it is fit."""
    if not secret.strip():
        return "is empty"
    if secret == DEFAULT_SECRET_KEY:
        return "is the development default"
    if len(secret) < MIN_SECRET_KEY_LENGTH:
        return f"has {len(secret)} characters, fewer than {MIN_SECRET_KEY_LENGTH}"
    if len(set(secret)) < MIN_SECRET_KEY_DISTINCT_CHARACTERS:
        return "repeats too few characters to be random"
    return None


def limiter_storage_uri(production: bool) -> str:
    """Where rate-limit counters live: RATELIMIT_STORAGE_URI, else Redis (REDIS_URL) in
    production and process memory elsewhere. Refuses per-process memory in production unless
    the server runs exactly one process (QUIZAPP_WEB_WORKERS=1, which gunicorn.conf.py sets
    from its worker count): each gunicorn worker would count on its own, multiplying every
    limit by the number of workers."""
    default = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL) if production else "memory://"
    uri = os.environ.get("RATELIMIT_STORAGE_URI") or default
    workers = os.environ.get("QUIZAPP_WEB_WORKERS", "")
    limits_on = os.environ.get("QUIZAPP_RATELIMIT", "1") != "0"
    if production and limits_on and uri.startswith("memory://") and workers != "1":
        count = f"{workers} web workers" if workers else "an unknown number of web workers"
        raise ConfigurationError(
            f"RATELIMIT_STORAGE_URI=memory:// with {count}: each process would count rate "
            "limits on its own; use a shared store (unset it to use REDIS_URL, or "
            "redis://host:6379/1), or run one worker (GUNICORN_WORKERS=1)"
        )
    return uri


def default_sim_memory_mb() -> int:
    """A quarter of this machine's memory: the web processes, the database and the page
    cache keep the rest."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # no sysconf: assume a small 4 GiB host
        total = 4 * 1024**3
    return max(256, total // 4 // 1024**2)


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdecimal() or int(raw) < 1:
        raise ConfigurationError(f"{name} must be a whole number above 0, not {raw[:20]!r}")
    return int(raw)


def trusted_proxies() -> int:
    """How many proxies in front of the app may set X-Forwarded-For/-Proto (QUIZAPP_TRUST_PROXY).

    0 unless set, in production too: trusting the header from anyone lets any client claim any
    address and step around every per-address limit.
    """
    raw = os.environ.get("QUIZAPP_TRUST_PROXY", "0").strip() or "0"
    if not raw.isdecimal() or int(raw) > 5:
        raise ConfigurationError(
            f"QUIZAPP_TRUST_PROXY must be the number of proxies in front of the app (0-5), "
            f"not {raw[:20]!r}"
        )
    return int(raw)


def load_settings(instance_path: str) -> dict[str, Any]:
    """Collect every setting from the environment into a Flask config mapping."""
    env = os.environ.get("QUIZAPP_ENV", "development")
    production = env == "production"
    secret = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
    problem = secret_key_problem(secret) if production else None
    if problem:
        raise ConfigurationError(
            f"SECRET_KEY {problem}: QUIZAPP_ENV=production needs at least "
            f"{MIN_SECRET_KEY_LENGTH} random characters, e.g. SECRET_KEY=$(openssl rand -hex 32)"
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
        "QUIZAPP_TRUST_PROXY": trusted_proxies(),
        # CSRF is checked in one before_request hook (web/auth.py); token-auth API calls skip it.
        "WTF_CSRF_CHECK_DEFAULT": False,
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_ENABLED": os.environ.get("QUIZAPP_CSRF", "1") != "0",
        "RATELIMIT_ENABLED": os.environ.get("QUIZAPP_RATELIMIT", "1") != "0",
        # Off when a proxy in front compresses responses already.
        "QUIZAPP_COMPRESS": os.environ.get("QUIZAPP_COMPRESS", "1") != "0",
        # gzip first among what the browser accepts: pages are compressed per response,
        # and gzip cost a third of brotli's CPU here for about the same bytes on small pages.
        "COMPRESS_ALGORITHM": ["gzip", "br", "zstd", "deflate"],
        "RATELIMIT_STORAGE_URI": limiter_storage_uri(production),
        "RATELIMIT_HEADERS_ENABLED": True,
        # A shared store (Redis) is reached over the network: a short timeout, so an outage
        # answers 503 quickly instead of holding a web worker.
        "RATELIMIT_STORAGE_OPTIONS": {
            "socket_timeout": 2,
            "socket_connect_timeout": 2,
            "wrap_exceptions": True,  # one StorageError type, answered 503 (web/errors.py)
        },
        "REDIS_URL": os.environ.get("REDIS_URL", DEFAULT_REDIS_URL),
        # Simulation runs one may start, cached or not (Flask-Limiter notation, ";" between).
        "QUIZAPP_RUN_LIMIT_PER_ACCOUNT": os.environ.get(
            "QUIZAPP_RUN_LIMIT_PER_ACCOUNT", "20 per minute; 300 per hour"
        ),
        # Days an anonymous run is kept (`flask runs prune`, run daily in production).
        "QUIZAPP_RUN_RETENTION_DAYS": int(os.environ.get("QUIZAPP_RUN_RETENTION_DAYS", "30")),
        # Higher: a classroom shares one address behind its router.
        "QUIZAPP_RUN_LIMIT_PER_ADDRESS": os.environ.get(
            "QUIZAPP_RUN_LIMIT_PER_ADDRESS", "60 per minute; 1000 per hour"
        ),
        "QUIZAPP_JOBS": os.environ.get("QUIZAPP_JOBS", "local"),
        "QUIZAPP_LOG_REQUESTS": os.environ.get("QUIZAPP_LOG_REQUESTS", "1" if production else "0")
        == "1",
        "QUIZAPP_SIM_WORKERS": int(os.environ.get("QUIZAPP_SIM_WORKERS", "2")),
        "QUIZAPP_SIM_QUEUE_LIMIT": int(os.environ.get("QUIZAPP_SIM_QUEUE_LIMIT", "16")),
        "QUIZAPP_SIM_TIMEOUT": float(os.environ.get("QUIZAPP_SIM_TIMEOUT", "20")),
        # Fitting FSRS parameters to a long history takes far longer than a simulation.
        "QUIZAPP_FIT_TIMEOUT": float(os.environ.get("QUIZAPP_FIT_TIMEOUT", "300")),
        # Memory every simulation process of this host may use together, beyond what each
        # needs to start (MiB); shared out over web workers x simulation workers.
        "QUIZAPP_SIM_MEMORY_MB": _positive_int("QUIZAPP_SIM_MEMORY_MB", default_sim_memory_mb()),
        "QUIZAPP_WEB_WORKERS": _positive_int("QUIZAPP_WEB_WORKERS", 1),
        "API_TITLE": "quizapp API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
    }
