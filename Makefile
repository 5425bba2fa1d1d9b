# Everything a fresh machine (Python + pip) needs: the virtualenv, the package and its test tools.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv test unit e2e postgres demo bench bench-slots clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv
	$(BIN)/uv pip install -q --python $(BIN)/python -e ".[test]"
	touch $(STAMP)

# The whole suite, end-to-end tests on a real Airflow deployment included (tests/e2e); the two-triggerer
# test needs PostgreSQL, which `postgres` installs (apt, as root) with its drivers.
test: venv postgres
	$(BIN)/python -m pytest -q -p no:cacheprovider

unit: venv
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not e2e"

# api-server, scheduler (LocalExecutor), dag-processor and triggerer on loopback (docs/e2e.md);
# HARNESS_DB=postgres runs them on a throwaway PostgreSQL (needs `make postgres` first).
e2e: venv postgres
	$(BIN)/python -m pytest -q -p no:cacheprovider -m e2e tests/e2e

postgres: venv
	command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql) || \
		echo "PostgreSQL could not be installed: the two-triggerer test will be skipped"
	$(BIN)/uv pip install -q --python $(BIN)/python -e ".[test,postgres]"

# Every example DAG on a real Airflow deployment against the emulators; runs until Ctrl-C
# (DEMO_EXIT=1: exit after one pass). AIRFLOW_CONN_* in the environment point DAGs at real platforms.
demo: venv
	$(BIN)/python -m demo

bench: venv
	$(BIN)/uv pip install -q --python $(BIN)/python -e ".[test,bench]"
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .airflow-home .demo
