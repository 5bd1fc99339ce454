# modqa: two commands on a fresh machine (Python 3.11+ and make):
#   make run    set up .venv, generate demo data, ingest it, run the main job
#   make test   set up .venv and run every test (library, CLI, notebooks via nbval)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
WORKERS ?= 2

.PHONY: run test lab setup demo-data ingest batch bench clean-outputs

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (modqa)" >/dev/null
	@touch $(STAMP)

demo-data: setup
	$(BIN)/modqa demo-data

ingest: setup
	$(BIN)/modqa ingest

run: demo-data ingest
	$(BIN)/modqa summary
	$(BIN)/modqa batch --by vendor --workers $(WORKERS)
	$(BIN)/modqa batch --by market --workers $(WORKERS)

test: setup
	$(BIN)/python -m pytest -n $(WORKERS) tests
	$(BIN)/python -m pytest --nbval-lax --sanitize-with tests/nbval_sanitize.cfg -p no:randomly notebooks

lab: setup
	$(BIN)/jupyter lab notebooks

bench: setup
	$(BIN)/python bench/run_all.py

clean-outputs:
	rm -rf outputs/*/ data/processed/*.parquet
