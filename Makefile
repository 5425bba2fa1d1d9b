# Everything a fresh machine (Python + pip) needs: the virtualenv, the package and its test tools.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv bytecode test unit e2e postgres celery demo bench bench-batch-mapped bench-slots bench-progress clean lint fmt package-check dev test-matrix e2e-oldest
.PHONY: browser screenshots

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv
	$(BIN)/uv pip install -q --python $(BIN)/python -e ".[test]"
	touch $(STAMP)

# The whole suite, end-to-end tests on a real Airflow deployment included (tests/e2e); the two-triggerer
# test needs PostgreSQL, which `postgres` installs (apt, as root) with its drivers.
test: venv postgres celery browser bytecode
	$(BIN)/python -m pytest -q -p no:cacheprovider

unit: venv
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not e2e"

# api-server, scheduler (LocalExecutor), dag-processor and triggerer on loopback (docs/e2e.md);
# HARNESS_DB=postgres runs them on a throwaway PostgreSQL (needs `make postgres` first).
e2e: venv postgres celery browser bytecode
	$(BIN)/python -m pytest -q -p no:cacheprovider -m e2e tests/e2e

# The unit, hook and dag.test() layers on Airflow 3.0.6, 3.1.8 and 3.2.2 (`make test` covers the newest),
# side by side, each in a cached .venv-3.X; one summary line per version (.ci/matrix; README "Airflow versions").
test-matrix: venv
	PYTHON=$(PYTHON) .ci/matrix

# The end-to-end tests on the oldest supported Airflow (3.0.6), in the matrix's .venv-3.0; not in .ci/run.
e2e-oldest: venv
	PYTHON=$(PYTHON) MATRIX_MARK=e2e MATRIX_PYTEST_ARGS=tests/e2e .ci/matrix 3.0.6

postgres: venv
	command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql) || \
		echo "PostgreSQL could not be installed: the two-triggerer test will be skipped"
	$(BIN)/uv pip install -q --python $(BIN)/python -e ".[test,postgres]"

# uv installs no bytecode, and where PYTHONDONTWRITEBYTECODE is set (it is on these machines) no interpreter
# writes any: each component of an end-to-end deployment and each `airflow` command compiled Airflow from
# source, ~5 s of CPU apiece. The package itself (installed editable) too, as a wheel install would: a
# triggerer imports a trigger's module on its event loop, 2x slower from source. Compiled once here;
# compileall skips what is up to date, and a stale .pyc is never used (Python checks the source's mtime).
bytecode: venv
	$(BIN)/python -m compileall -qq -j 0 airflow_workflow_providers \
		$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') || \
		echo "some files did not compile: they are read from source"

# The CeleryExecutor e2e deployment (tests/e2e/test_celery.py): Debian's redis-server (apt, as root) as its
# broker and the [celery] extra; PostgreSQL (above) is its metadata DB and result backend.
celery: venv postgres
	command -v redis-server >/dev/null || \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server) || \
		echo "redis-server could not be installed: the Celery tests will be skipped"
	$(BIN)/uv pip install -q --python $(BIN)/python -e ".[test,postgres,celery]"

# The browser test (tests/e2e/test_ui.py): playwright from PyPI driving Debian's chromium (apt, as root);
# playwright's own browser download is not used. Without them that test is skipped, saying why.
browser: venv
	$(BIN)/uv pip install -q --python $(BIN)/python "playwright>=1.40" || \
		echo "playwright could not be installed: the browser test will be skipped"
	test -x /usr/bin/chromium || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) || \
		echo "chromium could not be installed: the browser test will be skipped"

# The README's screenshots (docs/*.png), taken by the browser test on a real deployment
screenshots: browser
	UPDATE_SCREENSHOTS=1 $(BIN)/python -m pytest -q -p no:cacheprovider -m e2e tests/e2e/test_ui.py

# Every example DAG on a real Airflow deployment against the emulators; runs until Ctrl-C
# (DEMO_EXIT=1: exit after one pass). AIRFLOW_CONN_* in the environment point DAGs at real platforms.
demo: venv bytecode
	$(BIN)/python -m demo

bench: venv
	$(BIN)/uv pip install -q --python $(BIN)/python -e ".[test,bench]"
	$(BIN)/python -m benchmarks $(BENCH_ARGS)
	$(BIN)/python -m benchmarks.batch $(BATCH_BENCH_ARGS)

# The same 1,000 items as one batch task and as dynamically mapped tasks on a real deployment (~30 min).
bench-batch-mapped: venv
	$(BIN)/python -m benchmarks.batch_mapped $(BATCH_BENCH_ARGS)

# ruff, the formatting check and mypy on the engine and the platform API descriptions
lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# fixes import order and formats the tree (what `lint` checks)
fmt: dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# sdist + wheel, twine check, then the wheel alone in a clean virtualenv: every module imports, Airflow
# lists the provider, every example DAG parses (~1 min with a warm uv cache)
package-check: dev
	.ci/package-check $(BIN)/python

dev: venv
	$(BIN)/uv pip install -q --python $(BIN)/python -e ".[test,dev]"

bench-progress: venv  # live progress (Dify event streams) vs polling only, 1000 runs: a few minutes
	$(BIN)/uv pip install -q --python $(BIN)/python -e ".[test,bench]"
	$(BIN)/python -m benchmarks.progress $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .venv-3.* .matrix .airflow-home .demo
