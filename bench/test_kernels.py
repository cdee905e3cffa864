"""Kernel verification and agreement with the runtimes' own tools (see qpbench/suite/kernels.py)."""

from qpbench.suite.kernels import test_kernels, test_tool_agreement  # noqa: F401
