# The two commands of the README: `make demo` runs Pledge, `make test` runs the whole suite.
# Each builds .venv from the pinned requirements.lock on first use (and again when it changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo serve test check bench system-deps lock

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Pledge needs Python 3.11 or later; run with PYTHON=python3.11 (or newer)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

demo: $(STAMP)
	$(BIN)/pledge serve --app examples.issue_mailer.app:app

serve: $(STAMP)
	$(BIN)/pledge serve

system-deps:
	./scripts/system-deps

test: $(STAMP) system-deps
	$(BIN)/python -m pytest

check: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: $(STAMP) system-deps
	$(BIN)/python -m bench

lock:
	$(BIN)/pip freeze --exclude-editable > requirements.lock
