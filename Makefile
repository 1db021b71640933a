# livemod — the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
KAFKA := deploy/kafka/kafka.sh

.PHONY: install kafka-up kafka-down demo test bench lint clean

$(BIN)/livemod: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

install: $(BIN)/livemod

kafka-up:
	bash $(KAFKA) up

kafka-down:
	bash $(KAFKA) down

demo: install
	bash deploy/demo.sh

# The test session starts its own broker (session fixture) when none answers, and stops it after.
test: install
	bash $(KAFKA) fetch
	bash deploy/prometheus/install.sh
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: install
	$(BIN)/pip install -q -e '.[test,bench]'
	$(BIN)/python bench/detector_speed.py
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .livemod-data
