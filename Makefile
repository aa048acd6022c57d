# quizapp: `make run` to serve, `make test` to test. Everything lives in .venv.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install run serve author worker test lint format bench benchtools loadtest browser nginx clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch is pinned to the CPU wheel on this machine's disk; a range would fetch a CUDA build.
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

instance:
	@mkdir -p instance

run: install instance
	$(FLASK) db upgrade
	$(FLASK) content import
	$(FLASK) run --host $(HOST) --port $(PORT)

serve: install instance
	@test -n "$$SECRET_KEY" || { echo "Set SECRET_KEY (e.g. export SECRET_KEY=$$(python3 -c 'import secrets; print(secrets.token_hex(32))'))"; exit 1; }
	QUIZAPP_ENV=production $(FLASK) db upgrade
	QUIZAPP_ENV=production $(FLASK) content import
	QUIZAPP_ENV=production $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

# An author's live preview of content/ on http://127.0.0.1:5001 (a scratch database).
author: install
	$(FLASK) content serve --port $${AUTHOR_PORT:-5001}

worker: install
	$(BIN)/celery -A quizapp.jobs.celery_worker worker --concurrency $${WORKERS:-2} --loglevel info

browser:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || \
	  { echo "Installing Debian chromium for browser tests..."; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) || \
	    echo "Could not install chromium: browser tests will be skipped."; }

# Debian's nginx for the test that runs docs/deploy/nginx-quizapp.conf in front of gunicorn.
nginx:
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || \
	  { echo "Installing Debian nginx for the reverse-proxy test..."; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null) || \
	    echo "Could not install nginx: the reverse-proxy test will be skipped (it fails in CI)."; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# One test process per core (pytest-xdist; each keeps to its own PostgreSQL and Redis
# database, tests/conftest.py), a test file's tests together so module fixtures are made once.
# PYTEST_WORKERS=0 runs in this one process.
PYTEST_WORKERS ?= auto
test: install browser nginx lint
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The page-speed bench needs Debian's wrk and chromium, and Lighthouse from bench/node.
benchtools: browser
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null) || \
	  echo "Could not install wrk: the page throughput figures will be missing."
	@test -x bench/node/node_modules/.bin/lighthouse || (cd bench/node && npm ci --no-audit --no-fund --loglevel=error) || \
	  echo "Could not install Lighthouse: its scores will be missing."

bench: install benchtools
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

loadtest: install
	$(BIN)/python bench/loadtest.py

clean:
	rm -rf $(VENV) instance/*.sqlite .pytest_cache
