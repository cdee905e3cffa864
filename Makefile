# Two commands do everything on a fresh machine:
#   make bench   set up .venv, then run `pytest bench/` on the default workload
#   make test    set up .venv, then run the project's tests (what CI runs)
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup bench test clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements/ci.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/ci.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

bench: setup
	$(VENV)/bin/pytest bench/ $(PYTEST_ARGS)

test: setup
	$(VENV)/bin/pytest tests/ $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .benchmarks results/runs results/latest.json
