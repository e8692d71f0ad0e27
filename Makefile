# streamkeeper: `make serve` runs the server, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv serve test bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

serve: venv
	$(BIN)/streamkeeper serve

test: venv
	$(BIN)/python -m pytest -n 2 -q

bench: venv
	$(BIN)/python -m bench --scale

clean:
	rm -rf $(VENV) data .pytest_cache .hypothesis
