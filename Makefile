# modqa: two commands on a fresh machine (Python 3.11+ and make):
#   make run    set up .venv, generate demo data, ingest it, run the main job
#   make test   set up .venv and run every test (library, CLI, notebooks via nbval)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
WORKERS ?= 2

.PHONY: help run test lint format nbval lab setup demo-data ingest batch bench clean-outputs typecheck docs test-fast

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

setup: $(STAMP) ## create .venv and install the package with its test tools

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (modqa)" >/dev/null
	@touch $(STAMP)

demo-data: setup ## generate the demo data (with planted truths) into data/raw
	$(BIN)/modqa demo-data

ingest: setup ## validate data/raw and publish it to data/processed
	$(BIN)/modqa ingest

# One run id for the three families, so outputs/<run-id>/index.html links every report.
ifndef RUN_ID
RUN_ID := $(shell date -u +%Y%m%dT%H%M%SZ)
endif
run: demo-data ingest ## generate demo data, ingest it, run every report
	$(BIN)/modqa summary
	$(BIN)/modqa batch --by vendor --workers $(WORKERS) --run-id $(RUN_ID)
	$(BIN)/modqa batch --by market --workers $(WORKERS) --run-id $(RUN_ID)
	$(BIN)/modqa batch --by consolidated --run-id $(RUN_ID)
	$(BIN)/modqa demo-data --transparency --out data/raw/transparency && $(BIN)/modqa ingest --raw data/raw/transparency --processed data/processed/transparency && $(BIN)/modqa transparency --period 2026-08-31:2026-09-27 --processed data/processed/transparency --run-id $(RUN_ID)
	@echo "Reports: outputs/$(RUN_ID)/index.html"

test: setup lint typecheck docs ## lint, type check and build the docs, then every test (library, CLI, notebooks via nbval)
	$(BIN)/python -m pytest -n $(WORKERS) --durations=10 tests
	$(MAKE) --no-print-directory nbval

# Every notebook must execute cleanly (nbval-lax) on a small, fast demo data set.
NBVAL_DATA := .nbval
nbval: setup ## execute every notebook on small demo data
	rm -rf $(NBVAL_DATA)
	$(BIN)/modqa demo-data --out $(NBVAL_DATA)/raw --decisions 40000 > /dev/null
	$(BIN)/modqa ingest --raw $(NBVAL_DATA)/raw --processed $(NBVAL_DATA)/processed > /dev/null
	MODQA_HEADLESS=1 MODQA_PROCESSED_DIR=$(CURDIR)/$(NBVAL_DATA)/processed MODQA_OUTPUTS_DIR=$(CURDIR)/$(NBVAL_DATA)/outputs \
	  $(BIN)/python -m pytest --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg -n $(WORKERS) --dist loadfile notebooks

lint: setup ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Saves of notebooks/*.ipynb drop their outputs (modqa_lib/run/lab.py), so exploring leaves git clean;
# --allow-root lets it run in containers that run as root.
lab: setup ## open JupyterLab on the notebooks (saves keep the tracked notebooks output-free)
	$(BIN)/jupyter lab --config=$(CURDIR)/.jupyter/jupyter_server_config.py --allow-root \
	  --ServerApp.ip=127.0.0.1 notebooks

bench: setup ## run the benchmarks (prints figures)
	$(BIN)/python bench/run_all.py

clean-outputs: ## remove report outputs and the processed data
	rm -rf outputs/*/ data/processed/*.parquet data/processed/manifest.json data/processed/.current data/processed/.previous data/processed/.versions data/processed/.staging-*

typecheck: setup ## mypy on the contract, data and stats layers (config in pyproject.toml)
	$(BIN)/mypy

# -E: a fresh build each time, so every warning shows again; -W: warnings are errors
docs: setup ## build the API reference (Sphinx + numpydoc) into docs/_build/html; a broken docstring fails
	$(BIN)/python docs/gen_api.py
	$(BIN)/sphinx-build -b html -E -W --keep-going -q -d docs/_build/doctrees docs docs/_build/html

test-fast: setup ## the tests not marked slow (the quick loop; make test runs them all)
	$(BIN)/python -m pytest -n $(WORKERS) -m "not slow" --durations=10 tests
