"""qpbench's own hooks. Implement them in a conftest.py or a plugin.

Example, adding a variant (the builder must be a module-level function so a
fresh process can import it for the memory measurement)::

    from qpbench.variants import VariantSpec, build_eager

    def build_half_threads(ctx):
        variant = build_eager(ctx)
        variant.threads = 1
        return variant

    def pytest_qpbench_register_variants(registry):
        registry.register(VariantSpec("one-thread", "eager on one thread", build_half_threads))
"""

import pluggy

_spec = pluggy.HookspecMarker("pytest")


@_spec
def pytest_qpbench_register_variants(registry):
    """Add variants: call ``registry.register(VariantSpec(...))``.

    Called once per run, after all conftest files are loaded and before the
    selected variant names are checked.
    """


@_spec(firstresult=True)
def pytest_qpbench_make_scoring(config, scoring):
    """Return a replacement ``qpbench.config.ScoringConfig`` (e.g. other weights), or None.

    ``scoring`` is the one built from options and ini keys.
    """


@_spec
def pytest_qpbench_verdict(config, verdict, record):
    """Called with the final ``Verdict`` and the run's record dict before it is written."""
