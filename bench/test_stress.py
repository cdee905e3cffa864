"""Leak and latency-degradation trends of every selected variant (see qpbench/suite/stress.py)."""

from qpbench.suite.stress import test_stress  # noqa: F401
