"""The fastest ready variants timed against each other, to call a tie (see qpbench/suite/head_to_head.py)."""

from qpbench.suite.head_to_head import test_head_to_head  # noqa: F401
