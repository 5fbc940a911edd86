# The two commands of the README:
#   make run    build everything, open the dashboard, prepare the demo sky
#   make test   lint and the whole test suite (what .ci/run calls)
# While editing, `make test-fast` skips the slow tests (worker processes, browsers).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-fast prepare install install-dev screenshots

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

prepare: install
	$(BIN)/python -m morph_core prepare

run: install  # the dashboard opens at once; the demo sky prepares in the background
	$(BIN)/python -m morph_core serve

test: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

test-fast: install-dev
	$(BIN)/ruff check .
	$(BIN)/pytest -m "not slow and not network"

screenshots: prepare install-dev
	$(BIN)/python docs/screenshots.py
