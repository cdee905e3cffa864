# Two commands do everything on a fresh machine:
#   make bench   set up .venv, then run `pytest bench/` on the default workload
#   make test    set up .venv, then run the project's tests and its own gate (what CI runs)
# and, for the edit-test loop, make test-fast (the fast tier of the tests, no gate; see below).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup bench test test-fast browser sshd clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements/ci.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/ci.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

bench: setup
	$(VENV)/bin/pytest bench/ $(PYTEST_ARGS)

# First the project gates itself as its users do: a quick run of the compact workload, every
# measurement of every variant (--qp-long-run=all), compared with the baseline saved for this
# CPU (results/baselines/compact-quick-<cpu>.json; a CPU without one warns and passes, as
# --qp-missing-baseline=warn does: `qpbench baseline promote results/latest.json` makes one) and
# held to a readiness score of 80. Its output is kept in SELF_GATE_LOG: the smoke test of
# `pytest bench/` (tests/test_plugin.py) reads that run instead of making the same one again.
# Then the tests in two parts: the fast tier (test-fast below) and the slow tests that time nothing
# (marked builds_only), two at a time; then every other slow test one at a time, with nothing
# beside it, since it reads figures timed on this machine (pyproject.toml, markers).
# -rs lists every skipped test with its reason; under CI=true a skip that hides a whole
# test module fails the run (tests/ci_skips.py).
SELF_GATE ?= --qp-workload=compact --qp-profile=quick --qp-long-run=all --qp-compare='compact-quick-{cpu}' \
	--qp-fail-on-regression --qp-fail-under=80
SELF_GATE_LOG ?= results/self-gate.log
# The tests that time nothing run on two pytest-xdist workers, a module's tests on one of them.
PARALLEL ?= -n 2 --dist loadfile
test: setup browser sshd
	@mkdir -p $(dir $(SELF_GATE_LOG))
	set -o pipefail; $(VENV)/bin/pytest bench/ -q $(SELF_GATE) | tee $(SELF_GATE_LOG)
	$(VENV)/bin/pytest tests/ -rs -m "not slow or builds_only" $(PARALLEL) $(PYTEST_ARGS)
	QPBENCH_SMOKE_RUN=$(abspath $(SELF_GATE_LOG)) $(VENV)/bin/pytest tests/ -rs -m "slow and not builds_only" $(PYTEST_ARGS)

# The fast tier, for the edit-test loop: the unit tests and the planted faults that need no
# measuring run. It leaves out every test marked `slow` (pyproject.toml): the inner bench runs
# on the tiny model (the plugin, gate, report, crash, hooks and long-run tests), the planted
# faults in worker processes (stress, memory, isolation), real builds of the runtimes' artifacts
# (ONNX, OpenVINO, AOTInductor, packages), the ssh hosts, and the self-gate. `make test` runs them.
test-fast: setup
	$(VENV)/bin/pytest tests/ -q -m "not slow" -p no:cacheprovider $(PARALLEL) $(PYTEST_ARGS)

# The HTML report test renders the page in headless Chromium (Debian's package).
# Installed when missing and apt-get can run as root; otherwise that one test skips,
# except under CI=true, where it must run.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
	      { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; }; } || \
	  echo "chromium is not installed: the HTML screenshot test will skip (apt-get install chromium)"

# The several-hosts test runs `--dist each` over ssh gateways to an sshd it starts on 127.0.0.1
# (Debian's openssh-server). Installed as chromium is; without it that test skips, except under CI=true.
sshd:
	@test -x /usr/sbin/sshd || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null 2>&1 || \
	      { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null; }; }; } || \
	  echo "openssh-server is not installed: the ssh several-hosts test will skip (apt-get install openssh-server)"


clean:
	rm -rf $(VENV) .benchmarks results/runs results/latest.json
