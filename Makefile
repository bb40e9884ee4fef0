# The two commands of the README: `make demo` (train and show the date model) and `make test`.
# Each creates or reuses .venv and installs what it needs; only Python 3 must be present.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast docs install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/s2s-keras demo --output outputs/demo

test: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest -n 2 --dist worksteal --durations=15

test-fast: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest -m "not slow" -n 2 --dist worksteal

docs: $(STAMP)  # the API reference, from the docstrings, in docs/api/
	$(BIN)/python docs/build_api.py docs/api

clean:
	rm -rf $(VENV) outputs .pytest_cache docs/api
