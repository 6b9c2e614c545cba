# Convoy Ops. `make demo` and `make test` install into .venv first when needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The PostgreSQL database `make test-pg` uses (each test gets its own schema in it).
CONVOY_TEST_DATABASE_URL ?= postgresql+psycopg://convoy:convoy@127.0.0.1:5432/convoy_test

.PHONY: install demo test test-pg screenshots lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# pip compiles an installed package's bytecode; an editable install leaves ours to each run
	@# (and where PYTHONDONTWRITEBYTECODE is set, every command compiles it again).
	$(BIN)/python -m compileall -q config models maps flows
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/convoy demo

test: $(STAMP)
	CONVOY_TEST_DATABASE_URL= $(BIN)/pytest -q -p no:cacheprovider

# The tests that use the database again, on PostgreSQL (not the headless-browser map tests;
# the rest run no database code). The whole suite: CONVOY_TEST_DATABASE_URL=… .venv/bin/pytest
test-pg: $(STAMP)
	CONVOY_TEST_DATABASE_URL='$(CONVOY_TEST_DATABASE_URL)' $(BIN)/pytest -q -p no:cacheprovider -m 'db and not browser'

# The page tests, writing their screenshots into docs/screenshots/ (committed, for readers);
# `make test` writes them under var/test-screenshots/ and leaves the working tree as it was.
screenshots: $(STAMP)
	CONVOY_WRITE_SCREENSHOTS=1 CONVOY_TEST_DATABASE_URL= $(BIN)/pytest -q -p no:cacheprovider -m browser

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy config models maps flows scripts

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
