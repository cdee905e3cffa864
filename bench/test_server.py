"""MLPerf LoadGen scenarios for every selected variant (see qpbench/suite/server.py)."""

from qpbench.suite.server import test_loadgen_scenarios  # noqa: F401
