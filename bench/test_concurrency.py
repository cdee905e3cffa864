"""Concurrent requests against every selected variant (see qpbench/suite/concurrency.py)."""

from qpbench.suite.concurrency import test_concurrency  # noqa: F401
