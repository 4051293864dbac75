# The README's two commands: `make demo` and `make test`. Each sets up .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow lint format setup clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch/torchvision pinned exactly in pyproject.toml: other versions download gigabytes
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/ccount demo --out demo_out

test: $(STAMP)
	$(BIN)/ruff check detector tests scripts
	$(BIN)/ruff format --check detector tests scripts
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

format: $(STAMP)
	$(BIN)/ruff format detector tests scripts
	$(BIN)/ruff check --fix detector tests scripts

clean:
	rm -rf $(VENV) demo_out .pytest_cache .ruff_cache
