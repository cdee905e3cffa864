"""The benchmark suite as importable test functions.

``bench/`` imports them, and so can your own project: a test module with

    from qpbench.suite.latency import test_latency  # noqa: F401

next to a conftest.py that overrides the ``qp_workload`` fixture runs the same
measurements on your model (see examples/own_model/).
"""
