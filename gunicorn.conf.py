"""gunicorn settings for `make serve` (QUIZAPP_ENV=production). Override with GUNICORN_* vars."""

import multiprocessing
import os
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
# Workers are recycled now and then against slow leaks. Not every 2,000 requests: a fast
# page is served ~1,000 times a second, and each new worker pays ~1 s of imports plus its
# first renders (make bench measured the catalog at a fraction of its speed that way).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "50000"))
max_requests_jitter = max_requests // 10
accesslog = None  # the app writes one JSON line per request itself, with its request id
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def _refuse_unsafe_settings() -> None:
    """Check the app's settings once, in the master, before any worker starts: an unsafe
    production setting stops gunicorn with one line instead of a traceback per worker."""
    from quizapp.config import ConfigurationError, load_settings, refuse_to_start

    try:
        load_settings(str(Path(__file__).resolve().parent / "instance"))
    except ConfigurationError as error:
        refuse_to_start(error)


# The settings know how many processes serve the app (rate limits kept in one process's
# memory are refused with more than one); on_starting corrects it if `-w` overrode `workers`.
os.environ["QUIZAPP_WEB_WORKERS"] = str(workers)
_refuse_unsafe_settings()


def on_starting(server):
    """Before any worker starts: tell the app how many processes serve it, and refuse to start
    (one line, no traceback) when they would each count rate limits in their own memory."""
    os.environ["QUIZAPP_WEB_WORKERS"] = str(server.cfg.workers)
    if os.environ.get("QUIZAPP_ENV") != "production":
        return
    from quizapp.config import ConfigurationError, limiter_storage_uri, refuse_to_start

    try:
        limiter_storage_uri(production=True)
    except ConfigurationError as error:
        refuse_to_start(error)


def post_worker_init(worker):
    """A new worker (after a restart, a crash, or gunicorn recycling one) runs again the
    simulation runs whose web process is gone: they lived in that process's pool."""
    from quizapp.services.simulations import requeue_orphaned_runs

    try:
        requeued = requeue_orphaned_runs(worker.wsgi)
    except Exception:  # the database may not be up yet: the runs are requeued when read
        worker.log.exception("could not requeue simulation runs lost with their process")
    else:
        if requeued:
            worker.log.info("requeued %d simulation run(s) lost with their process", requeued)
