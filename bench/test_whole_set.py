"""Accuracy and fidelity on the whole evaluation set, for the variants measured in full after the
screen, the recommended one among them (see qpbench/suite/accuracy.py)."""

from qpbench.suite.accuracy import test_whole_set  # noqa: F401
