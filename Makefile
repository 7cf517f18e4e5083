# pgmkts: `make run` starts the server with demo data, `make test` runs the whole suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test venv sysdeps lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The server alone (make run).
$(VENV)/.base: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

# Test and benchmark dependencies: the real clients (psycopg, asyncpg, pymarketstore, ADBC,
# connectorx, SQLAlchemy, pandas) and the systems the benchmarks compare against.
$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $(VENV)/.base $@

venv: $(VENV)/.base

# PostgreSQL 15 (oracle, psql, pgbench), pgjdbc, psqlODBC, Go pgx/lib/pq and node-postgres, when absent.
sysdeps:
	@./scripts/ensure-sysdeps.sh

run: $(VENV)/.base
	test -f mkts.yml || $(BIN)/pgmkts init --config mkts.yml
	$(BIN)/pgmkts start --config mkts.yml --demo

test: $(VENV)/.test sysdeps
	$(BIN)/ruff check pgmkts tests bench
	$(BIN)/python -m pytest -q --timeout=600 tests

lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/mypy pgmkts

bench: $(VENV)/.test sysdeps
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache
