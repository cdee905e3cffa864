"""Accuracy measurements of every selected variant (see qpbench/suite/accuracy.py)."""

from qpbench.suite.accuracy import test_accuracy, test_fidelity  # noqa: F401
