# streamkeeper: `make serve` runs the server, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv serve test bench clean chromium axe

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

serve: venv
	$(BIN)/streamkeeper serve

test: venv chromium axe
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

# The console's browser tests drive Debian's Chromium (Playwright cannot download its own here).
# As root with apt it is installed when missing (apt-get update only if the first try fails);
# otherwise those tests skip with a message (and fail with CI=true).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium for the console's browser tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } || \
	    echo "could not install chromium: browser tests will be skipped (and fail with CI=true)"; \
	  else \
	    echo "no /usr/bin/chromium and not root with apt: browser tests will be skipped (and fail with CI=true)"; \
	  fi; \
	fi

# axe-core (accessibility checks of the console's browser tests), pinned, from the npm registry into the venv.
AXE_VERSION := 4.14.1
AXE := $(VENV)/axe/node_modules/axe-core/axe.min.js
axe: $(AXE)

$(AXE):
	npm install --silent --no-save --no-audit --no-fund --prefix $(VENV)/axe axe-core@$(AXE_VERSION)

bench: venv
	$(BIN)/python -m bench --scale

clean:
	rm -rf $(VENV) data .pytest_cache .hypothesis
