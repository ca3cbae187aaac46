# Two commands: `make demo` runs the demo CRM with the plugin; `make test` runs the test suite.
# Each sets up what it needs on a fresh machine.

PYTHON ?= python3
# pytest-xdist processes for `make test`: one per core of the 2-core machines the suite runs on.
TEST_PROCESSES ?= 2
# `make bench BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test` runs the benches on PostgreSQL too;
# BENCH_REDIS_URL=redis://127.0.0.1:6379/0 adds the shared limiter and cross-process wake-ups.
BENCH_DATABASE_URL ?=
BENCH_REDIS_URL ?=
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
HOST ?= 127.0.0.1
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO := $(BIN)/flask --app crm_plugin.demo

.PHONY: demo test chromium bench fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[test,demo]"
	touch $@

# Debian's chromium: kaleido draws charts with it, the browser tests drive it.
chromium:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; }

demo: $(VENV)/.installed chromium
	$(DEMO) crm-plugin db upgrade
	$(DEMO) demo seed
	HOST=$(HOST) PORT=$(PORT) $(DEMO) demo serve

test: $(VENV)/.installed chromium
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(BIN)/python bench/broadcast.py
	$(BIN)/python bench/notification_latency.py
	$(BIN)/python bench/multibot.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/joblists.py
	$(BIN)/python bench/request_cost.py
	@if [ -n "$(BENCH_DATABASE_URL)" ]; then \
		$(BIN)/python bench/multibot.py --database-url "$(BENCH_DATABASE_URL)" $(if $(BENCH_REDIS_URL),--redis-url "$(BENCH_REDIS_URL)") && \
		$(BIN)/python bench/notification_latency.py --database-url "$(BENCH_DATABASE_URL)" && \
		$(BIN)/python bench/ingest.py --database-url "$(BENCH_DATABASE_URL)" && \
		$(BIN)/python bench/ingest.py --database-url "$(BENCH_DATABASE_URL)" --worker external --workers 2 && \
		$(BIN)/python bench/joblists.py --database-url "$(BENCH_DATABASE_URL)" && \
		$(BIN)/python bench/request_cost.py --database-url "$(BENCH_DATABASE_URL)"; fi
	@if [ -n "$(BENCH_REDIS_URL)" ]; then \
		$(BIN)/python bench/notification_latency.py --mode external --redis-url "$(BENCH_REDIS_URL)"; fi
	$(BIN)/python bench/admin_log.py
	$(BIN)/python bench/stats.py
	$(BIN)/python bench/stats_send.py

# 10,000 generated requests per webhook target and per admin target; prints the count of 5xx (target: 0).
fuzz: $(VENV)/.installed
	$(BIN)/python bench/fuzz.py
	$(BIN)/python bench/fuzz_admin.py

clean:
	rm -rf $(VENV) build dist *.egg-info instance
