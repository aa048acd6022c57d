"""gunicorn settings for `make serve` (QUIZAPP_ENV=production). Override with GUNICORN_* vars."""

import multiprocessing
import os

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
