# pgmkts: `make run` starts the server with demo data, `make test` runs the whole suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test venv sysdeps lint bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# PostgreSQL 15 (server: correctness oracle; client: psql/pgbench) from Debian when absent.
sysdeps:
	@./scripts/ensure-sysdeps.sh

run: venv
	test -f mkts.yml || $(BIN)/pgmkts init --config mkts.yml
	$(BIN)/pgmkts start --config mkts.yml --demo

test: venv sysdeps
	$(BIN)/ruff check pgmkts tests bench
	$(BIN)/python -m pytest -q --timeout=600 tests

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy pgmkts

bench: venv
	$(BIN)/pip install -q -e '.[test,bench]'
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache
