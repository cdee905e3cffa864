"""Throughput measurements of every selected variant (see qpbench/suite/throughput.py)."""

from qpbench.suite.throughput import test_throughput  # noqa: F401
