# socialcrm: `make run` serves the app, `make test` checks it. See README.md.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check --quiet

.PHONY: run test install install-test lint format migrate demo clean bench-ingest bench-nothing-lost bench-triage bench-inbox bench-live bench-worker-sigterm bench-postgres-restart bench-sla bench-reports

run: install migrate demo ## Serve the app with the demo data (Ctrl-C stops everything)
	$(PY) manage.py serve --demo-stream 0.2

test: install-test ## Lint, check, and run the whole test suite
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) manage.py check --fail-level WARNING
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) -m pytest $(PYTEST_ARGS)

install: $(VENV)/.runtime-installed node_modules/.installed

install-test: install $(VENV)/.test-installed

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "socialcrm needs Python 3.11, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: requirements.txt $(VENV)/bin/python
	$(PIP) install -r requirements.txt
	@touch $@

$(VENV)/.test-installed: requirements-test.txt $(VENV)/.runtime-installed
	$(PIP) install -r requirements-test.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

migrate: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0

demo: migrate ## Load the demo brand (idempotent)
	$(PY) manage.py load_demo

bench-ingest: install-test ## Ingest throughput and latency on PostgreSQL + Redis (see tests/bench/README.md)
	$(PY) tests/bench/ingest.py

bench-nothing-lost: install-test ## kill -9 the worker mid-ingest; nothing lost
	$(PY) tests/bench/nothing_lost.py

bench-triage: install-test ## Triage CPU per message in batches of 1,000, and the preview API with 1,000 items
	$(PY) tests/bench/triage.py

bench-inbox: install-test ## Inbox list, conversation and customer pages: server time at 10,000 and 1,000,000 messages
	$(PY) tests/bench/inbox_pages.py

bench-live: install-test ## Live events: 202 -> row fragment on 100 agent sockets at 50 mentions/s, and a bare websockets floor
	$(PY) tests/bench/live.py

bench-worker-sigterm: install-test ## SIGTERM / SIGTERM twice / SIGQUIT to the worker mid-batch; every mention triaged once
	$(PY) tests/bench/worker_sigterm.py

bench-postgres-restart: install-test ## Restart a PostgreSQL of its own (fast, immediate) mid-ingest; clean 503s, each mention stored once
	$(PY) tests/bench/postgres_restart.py

bench-sla: install-test ## SLA breaches: due time -> breach event with beat and a worker, 2,000 due over 2 minutes (p99 <= 30 s)
	$(PY) tests/bench/sla_alerts.py

bench-reports: install-test ## Reports over 10,000,000 messages in two years: 90-day pages p95 <= 500 ms, 2-year daily CSV <= 2 s
	$(PY) tests/bench/reports.py

lint: install-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install-test
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean:
	rm -rf $(VENV) node_modules staticfiles var db.sqlite3 db.sqlite3-wal db.sqlite3-shm
