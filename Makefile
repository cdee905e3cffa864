# Two commands do everything on a fresh machine:
#   make bench   set up .venv, then run `pytest bench/` on the default workload
#   make test    set up .venv, then run the project's tests (what CI runs)
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup bench test browser clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements/ci.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/ci.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

bench: setup
	$(VENV)/bin/pytest bench/ $(PYTEST_ARGS)

test: setup browser
	$(VENV)/bin/pytest tests/ $(PYTEST_ARGS)

# The HTML report test renders the page in headless Chromium (Debian's package).
# Installed when missing and apt-get can run as root; otherwise that one test skips,
# except under CI=true, where it must run.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
	      { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; }; } || \
	  echo "chromium is not installed: the HTML screenshot test will skip (apt-get install chromium)"


clean:
	rm -rf $(VENV) .benchmarks results/runs results/latest.json
