# Two commands for a fresh machine with Python 3.11:  `make run`  and  `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found; set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

## set everything up, then start the clinic kiosk (bundled example case; the models that are installed) and print its address
run: $(STAMP)
	$(BIN)/workbench kiosk

## set everything up, then run the whole test suite
test: $(STAMP)
	$(BIN)/python -m pytest -q

## re-measure the benchmarks and refresh docs/BENCHMARKS.md
bench: $(STAMP)
	$(BIN)/python benchmarks/ecg_accuracy.py
	$(BIN)/python benchmarks/ecg_speed.py

clean:
	rm -rf $(VENV) data/example .pytest_cache
