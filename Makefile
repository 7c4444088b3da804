# hallq — the two set-up commands are `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint system-deps demo clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

## run: start the server on config.yaml with the embedded store; prints the page URLs
run: $(STAMP)
	$(VENV)/bin/hallq serve --config config.yaml

## test: the whole test suite against real Redis, a real server and a real browser,
## then the core and server tests again on far-away dates (scripts/date-proof.sh)
test: $(STAMP) system-deps
	$(VENV)/bin/pytest $(PYTEST_ARGS)
	PYTEST=$(VENV)/bin/pytest bash scripts/date-proof.sh

system-deps:
	bash scripts/system-deps.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy queue_server displays scheduler simulation bench

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
