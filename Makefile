# The two commands a newcomer needs: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test install install-dev browser lint clean

# Checks and type analysis load the settings with the demo's throwaway configuration;
# pytest sets its own (pyproject.toml).
CHECK_ENV := MESOCLINIC_DEBUG=1 MESOCLINIC_DATA_DIR=$(CURDIR)/var/check

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "mesoclinic needs Python 3.11 or newer; install it and run again (PYTHON=python3.11 make ...).")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Debian's Chromium drives the browser tests (Playwright cannot download its own here).
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's chromium for the browser tests..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "The browser tests need Chromium at /usr/bin/chromium: run 'sudo apt-get install chromium' and then 'make test' again."; \
	    exit 1; \
	  fi; \
	fi

demo: install
	MESOCLINIC_DATA_DIR=$${MESOCLINIC_DATA_DIR:-$(CURDIR)/var/demo} $(BIN)/mesoclinic demo

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(CHECK_ENV) $(BIN)/mypy mesoclinic

test: install-dev browser lint
	$(CHECK_ENV) $(BIN)/mesoclinic check --fail-level WARNING
	$(CHECK_ENV) $(BIN)/mesoclinic makemigrations --check --dry-run
	$(BIN)/pytest

clean:
	rm -rf $(VENV) var artifacts
