"""qpbench: prove a PyTorch model is ready to ship on CPUs.

Optimized variants of a model, measured by pytest-benchmark tests in
``bench/``, rolled into a deployment-readiness score by a pytest plugin.
Importing this package is cheap: torch is imported only by the modules that
need it.
"""

__version__ = "0.1.0"
