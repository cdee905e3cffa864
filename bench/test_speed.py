"""Interleaved A/B speed of every selected variant against eager (see qpbench/suite/speed.py)."""

from qpbench.suite.speed import test_speed_ratio  # noqa: F401
