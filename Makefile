# The two commands a newcomer needs: `make demo` and `make test`. Both build the environment first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH_VENV  := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
PYTEST_WORKERS ?= 2

.PHONY: demo test lint typecheck unit tools bench env clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

env: $(STAMP)

demo: $(STAMP)
	$(BIN)/driftloop demo

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) tools
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup

# Two tests drive real programs from Debian: the report test opens a page in Chromium (through Playwright; never
# `playwright install`), the serving load test sends requests with wrk. Installed here when this is a Debian
# machine run as root; elsewhere those tests say how to get them, and skip (CI fails them instead).
tools:
	@for package in chromium wrk; do \
		command -v $$package >/dev/null || { test "$$(id -u)" = 0 && command -v apt-get >/dev/null \
			&& DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$package >/dev/null 2>&1; } || true; \
	done

# Benchmarks run our code and the reference tools side by side; the reference tools live only here.
$(BENCH_STAMP): pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e . "mlflow>=3,<4" "pandas<3" "evidently>=0.7,<0.8"
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python benchmarks/tracking.py
	$(BENCH_VENV)/bin/python benchmarks/server_logging.py
	$(BENCH_VENV)/bin/python benchmarks/ingest.py
	$(BENCH_VENV)/bin/python benchmarks/model_load.py
	$(BENCH_VENV)/bin/python benchmarks/tuning.py
	$(BENCH_VENV)/bin/python benchmarks/serving.py
	$(BENCH_VENV)/bin/python benchmarks/monitoring_drift.py
	$(BENCH_VENV)/bin/python benchmarks/monitoring_streams.py
	$(BENCH_VENV)/bin/python benchmarks/loop.py
	$(BENCH_VENV)/bin/python benchmarks/incident_rows.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) .driftloop .driftloop-demo driftloop-loop-report.html .pytest_cache .mypy_cache .ruff_cache
