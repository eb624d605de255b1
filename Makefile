# Two commands matter: `make demo` (install + the 1000-task claims batch) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint clean

$(BIN)/dicec: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch is pinned to the CPU build (2.13.0) in pyproject; never a CUDA build here.
	$(BIN)/pip install -q -e '.[dev]'
	touch $(BIN)/dicec

install: $(BIN)/dicec

demo: install
	$(BIN)/dicec demo

test: install lint
	$(BIN)/dicec checkpoints build >/dev/null
	$(BIN)/pytest -q

# The layers (import contracts in pyproject.toml) and the style rules are part of the tests.
lint: install
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf var .pytest_cache
