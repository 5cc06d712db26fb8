# Two commands on a fresh machine:
#   make demo   - simulated floor → KPI engine → /metrics on :9464 + alerts on the console
#   make test   - installs everything the suite needs, then runs all of it
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: demo test setup system lint bench clean

demo: $(VENV)/.installed
	$(VENV)/bin/ccpulse demo

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest

setup: $(VENV)/.installed system

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Real servers for the integration tests (promtool, redis-server, alertmanager, Kafka).
system:
	scripts/install-system-deps.sh
	scripts/kafka.sh

# Full benchmarks (minutes); results go into BENCHMARKS.md. `python -m bench --short` is CI's.
bench: $(VENV)/.installed
	$(PY) -m bench

lint: $(VENV)/.installed
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
