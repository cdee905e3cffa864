"""Memory measurements of every selected variant (see qpbench/suite/memory.py)."""

from qpbench.suite.memory import test_peak_memory  # noqa: F401
