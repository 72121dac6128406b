# Brigade — developer entry points. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCALES := bot/locales
export BRIGADE_TEST_POSTGRES_URL ?=

.PHONY: run test test-clock lint migrate demo messages bench bench-quick clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Start the bot (SQLite by default; configure with .env, see .env.example).
run: $(STAMP)
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
demo: $(STAMP)
	$(BIN)/python -m testkit.demo

## Apply database migrations without starting the bot.
migrate: $(STAMP)
	$(BIN)/python -m bot migrate

## Re-extract translatable strings and merge them into every catalog.
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _ --no-location --sort-output \
		--project=Brigade --copyright-holder="Brigade contributors" -o $(LOCALES)/brigade.pot .
	$(BIN)/pybabel update -D brigade -i $(LOCALES)/brigade.pot -d $(LOCALES) --ignore-obsolete -w 100

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
