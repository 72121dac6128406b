# Brigade — developer entry points. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two stamps, one venv: what the bot needs to run (run, demo, migrate), then the test and lint
# tools on top (test, lint, bench, messages). `make run` on a fresh clone installs no test tool.
RUNTIME := $(VENV)/.runtime
STAMP := $(VENV)/.installed
LOCALES := bot/locales
export BRIGADE_TEST_POSTGRES_URL ?=

.PHONY: run test test-clock lint migrate demo messages bench bench-quick clean python-check

# Every target checks the Python first: too old, or not the one .venv was built with, gets one
# sentence saying what to do (scripts/check_python.py) instead of a failure further down.
python-check:
	@$(PYTHON) scripts/check_python.py $(VENV)

$(RUNTIME): pyproject.toml | python-check
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(RUNTIME)

$(STAMP): $(RUNTIME)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Start the bot (SQLite by default; configure with .env, see .env.example).
run: $(RUNTIME)
	$(BIN)/python -m bot

## Run the whole test suite (PostgreSQL tests too when BRIGADE_TEST_POSTGRES_URL is set).
test: $(STAMP)
	$(BIN)/python -m pytest

## The whole suite with the wall clock moved 550 days ahead, then back (libfaketime, Debian
## package `faketime`; asyncio's monotonic clock left alone): no test may depend on the date.
test-clock: $(STAMP)
	FAKETIME_DONT_FAKE_MONOTONIC=1 faketime '+550 days' $(BIN)/python -m pytest -q
	FAKETIME_DONT_FAKE_MONOTONIC=1 faketime '-550 days' $(BIN)/python -m pytest -q

## Static checks CI runs.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## Benchmarks, run on demand (figures in docs/benchmarks.md); `make bench-quick` to smoke-test them.
bench: $(STAMP)
	$(BIN)/python -m bench all

bench-quick: $(STAMP)
	$(BIN)/python -m bench all --quick

## Offline demo: the real bot against a fake Telegram, a seeded town, a printed transcript.
demo: $(RUNTIME)
	$(BIN)/python -m testkit.demo

## Apply database migrations without starting the bot.
migrate: $(RUNTIME)
	$(BIN)/python -m bot migrate

## Re-extract translatable strings and merge them into every catalog.
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _ --no-location --sort-output \
		--project=Brigade --copyright-holder="Brigade contributors" -o $(LOCALES)/brigade.pot .
	$(BIN)/pybabel update -D brigade -i $(LOCALES)/brigade.pot -d $(LOCALES) --ignore-obsolete -w 100

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
