# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint audit schema migrations

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## the server on the embedded default (SQLite, in-process broadcast)
	GQL_DEV_MODE=$${GQL_DEV_MODE:-1} $(BIN)/gql-server serve

test: $(STAMP)  ## the whole test suite (PostgreSQL/Redis when DATABASE_URL/REDIS_URL say so)
	bash .ci/ensure-chromium
	$(BIN)/python -m pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check gql_server tests bench
	$(BIN)/ruff format --check gql_server tests bench

audit: $(STAMP)  ## the pinned set checked against known vulnerabilities (PyPI's advisories)
	$(BIN)/pip-audit --strict --progress-spinner off --no-deps --disable-pip -r constraints.txt

schema: $(STAMP)  ## regenerate schema.graphql after changing the schema
	$(BIN)/gql-server export-schema

migrations: $(STAMP)  ## generate a migration after changing the models
	DATABASE_URL=sqlite://$(CURDIR)/var/makemigrations.sqlite3 $(BIN)/tortoise makemigrations
