"""Latency measurements of every selected variant (see qpbench/suite/latency.py)."""

from qpbench.suite.latency import test_latency  # noqa: F401
