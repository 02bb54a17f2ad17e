# Quick start: `make demo` runs the example project against the embedded emulator,
# `make test` runs the whole test suite. Both build their own virtual environment.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The example project against the embedded emulator (data kept in examples/.reconciler/):
# validate, plan (saved), apply exactly that plan, show that nothing is left to do, list the state.
demo: $(STAMP)
	$(BIN)/reconciler validate examples
	$(BIN)/reconciler plan --project examples --out examples/.reconciler/demo-plan.json
	$(BIN)/reconciler apply --project examples --plan examples/.reconciler/demo-plan.json
	$(BIN)/reconciler plan --project examples --detailed-exitcode
	$(BIN)/reconciler state list --project examples

# Two workers; a worker that runs out of tests takes some of the other's (worksteal).
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist worksteal $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache examples/.reconciler
