# Everything a fresh machine (Python + pip) needs: the virtualenv, the package and its test tools.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv test unit demo bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv
	$(BIN)/uv pip install -q --python $(BIN)/python -e ".[test]"
	touch $(STAMP)

test: venv
	$(BIN)/python -m pytest -q -p no:cacheprovider

demo: venv
	$(BIN)/python -m demo

bench: venv
	$(BIN)/uv pip install -q --python $(BIN)/python -e ".[test,bench]"
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .airflow-home .demo
