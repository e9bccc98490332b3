# Two commands matter: `make demo` (the main job on embedded defaults) and
# `make test` (installs everything on a fresh machine, then runs all tests).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Test processes: most integration tests wait on services, so two share two cores well.
TEST_WORKERS ?= 2

.PHONY: demo test bench lint system-deps venv clean

$(BIN)/cxpulse: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[local,dev]'
	@touch $@

venv: $(BIN)/cxpulse

system-deps:
	bash deploy/local/install-system-deps.sh

demo: venv
	$(BIN)/cxpulse demo

test: venv system-deps
	$(BIN)/ruff check streams tests
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile

bench: venv
	$(BIN)/cxpulse bench

lint: venv
	$(BIN)/ruff check streams tests
	$(BIN)/ruff format --check streams tests

clean:
	rm -rf $(VENV) .cxpulse .pytest_cache .ruff_cache
