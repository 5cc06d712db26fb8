# Two commands on a fresh machine:
#   make demo   - simulated floor → KPI engine → wallboard and /metrics on :9464, alerts on the console
#   make test   - installs everything the suite needs, then runs all of it
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: demo test setup system lint bench reliability clean

demo: $(VENV)/.installed
	$(VENV)/bin/ccpulse demo

test: setup
	$(PY) -m ruff check .
	scripts/run-suite.sh $(PY)

setup: $(VENV)/.installed system

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# the distribution was called "ccpulse" before it moved to one import namespace
	$(PY) -m pip uninstall --quiet --yes ccpulse 2>/dev/null || true
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Real servers for the integration tests (promtool, redis-server, alertmanager, PostgreSQL,
# headless Chromium, Kafka).
system:
	scripts/install-system-deps.sh
	scripts/kafka.sh

# Full benchmarks (minutes); results go into BENCHMARKS.md. `python -m bench --short` is CI's.
bench: $(VENV)/.installed
	$(PY) -m bench

# The reliability suite at length (about 20 min): 5 runs of each fault, longer kill series,
# 3,000 hypothesis examples, 500,000 fuzzer runs; prints the faults x runs x differences table.
reliability: setup
	rm -f .cache/reliability/results.jsonl
	CCPULSE_RELIABILITY_RUNS=5 CCPULSE_HYPOTHESIS_EXAMPLES=3000 CCPULSE_FUZZ_RUNS=500000 \
		$(PY) -m pytest -m "slow or not slow" tests/reliability
	$(PY) -m tests.reliability.summary

lint: $(VENV)/.installed
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
