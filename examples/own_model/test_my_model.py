"""The whole qpbench suite, run on the workload of this folder's conftest.py."""

from qpbench.suite.accuracy import test_accuracy, test_fidelity  # noqa: F401
from qpbench.suite.latency import test_latency  # noqa: F401
from qpbench.suite.memory import test_peak_memory  # noqa: F401
from qpbench.suite.throughput import test_throughput  # noqa: F401
