# entrabridge: the two commands a newcomer needs are `make dev` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install setup browsers dev test lint infra-check bench clean

# What running the system needs (dev, bench); the tests need the browsers as well.
install: $(VENV_STAMP) $(NODE_STAMP)

setup: install browsers

# The page tests drive Debian's Chromium (Playwright never downloads a browser here) and
# Debian's Firefox ESR (over WebDriver BiDi with puppeteer-core from npm: no download).
# CI is a clean machine where we are root; elsewhere install the packages yourself.
browsers:
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
		else echo "Chromium is missing: sudo apt-get install chromium" >&2; exit 1; fi; }
	@command -v firefox-esr >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq firefox-esr >/dev/null; \
		else echo "Firefox ESR is missing: sudo apt-get install firefox-esr" >&2; exit 1; fi; }

$(VENV_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

infra-check: install
	bash infra/check.sh

test: setup lint infra-check
	$(PY) -m pytest $(PYTEST_ARGS)

dev: install
	$(PY) -m devtools.dev

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) node_modules .local .pytest_cache .mypy_cache .ruff_cache
