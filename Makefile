# streamkeeper: `make serve` runs the server, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv serve test bench clean chromium jq axe nginx

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

serve: venv
	$(BIN)/streamkeeper serve

test: venv chromium jq axe nginx
	$(BIN)/python -m pytest -n 3 --dist loadgroup -q

# Debian package $(1) for $(2), when the command $(3) is missing: installed as root with apt
# (apt-get update only if the first try fails); otherwise a message saying $(4).
define apt_tool
	@if ! command -v $(3) >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $(1) for $(2)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(1) >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(1) >/dev/null; } || \
	    echo "could not install $(1): $(4)"; \
	  else \
	    echo "no $(3) and not root with apt: $(4)"; \
	  fi; \
	fi
endef

# The console's browser tests drive Debian's Chromium (Playwright cannot download its own here).
chromium:
	$(call apt_tool,chromium,the console's browser tests,/usr/bin/chromium,browser tests will be skipped (and fail with CI=true))

# The README's examples, which tests/test_readme.py runs, read answers with jq.
jq:
	$(call apt_tool,jq,the README's examples,jq,tests/test_readme.py will fail)

# The edge tests (tests/edge/) start Debian's nginx in front of the server (auth_request, secure_link).
nginx:
	$(call apt_tool,nginx,the edge tests,/usr/sbin/nginx,edge tests will be skipped (and fail with CI=true))

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
