# Every target builds its own virtualenv, so a fresh clone needs only Python 3.11.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# mypy cannot see through the setuptools editable finder that maps api/ bot/
# operator/ onto tradewarden.*, so it reads the same folders through symlinks.
TYPECHECK_ROOT := $(VENV)/typecheck

.PHONY: demo test lint typecheck pytest bench soak chaos-load ccxt-live crds e2e-kind clean

$(STAMP): pyproject.toml operator/toolchain.py
	test -x $(BIN)/python || $(PYTHON) -P -m venv $(VENV)
	$(BIN)/python -P -m pip install --quiet --upgrade pip
	$(BIN)/python -P -m pip install --quiet -e ".[test,sandbox]"
	$(BIN)/python -P -m tradewarden.operator.toolchain install --bin $(BIN)
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tradewarden demo

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check api bot operator tests bench
	$(BIN)/ruff format --check api bot operator tests bench

typecheck: $(STAMP)
	mkdir -p $(TYPECHECK_ROOT)/tradewarden
	for pkg in api bot operator; do ln -sfn $(CURDIR)/$$pkg $(TYPECHECK_ROOT)/tradewarden/$$pkg; done
	MYPYPATH=$(TYPECHECK_ROOT) $(BIN)/mypy --strict -p tradewarden

pytest: $(STAMP)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench

soak: $(STAMP)
	$(BIN)/pytest -m soak --timeout=1800

# The whole chaos catalogue on seeds 1-20 with the machine loaded: two busy loops and four
# runs at once (load average 7-8 on 2 cores); JSON lines, then a summary with the load.
CHAOS_SEEDS ?= 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20
chaos-load: $(STAMP)
	$(BIN)/tradewarden chaos --all --seeds $(CHAOS_SEEDS) --jobs 4 --busy-loops 2 --json

# ccxt's own live test runner (in the ccxt package) against a simulator with a populated
# account, public and private methods, REST then streams; prints a summary of each and fails
# on a failure of the simulator's.
ccxt-live: $(STAMP)
	$(BIN)/python tests/support/ccxt_live.py
	$(BIN)/python tests/support/ccxt_live.py --ws

crds: $(STAMP)
	$(BIN)/tradewarden crds --write

e2e-kind: $(STAMP)
	BIN=$(BIN) tests/ship/kind/e2e.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
