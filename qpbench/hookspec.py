"""qpbench's own hooks. Implement them in a conftest.py or a plugin.

The scoring (``pytest_qpbench_make_scoring``) is resolved before the first test.
At the end of a run qpbench finishes in one direction: it scores the results, builds the typed run record
(``qpbench.record.RunRecord``: ``pytest_qpbench_generate_record``, with the
fingerprint from ``pytest_qpbench_generate_fingerprint`` and
``pytest_qpbench_update_fingerprint``), compares it with the baseline, lets
``pytest_qpbench_update_record`` add to it, writes it, and last calls
``pytest_qpbench_verdict`` with the record as written.
Under pytest-xdist the fingerprint hooks run on each worker (each host's machine),
the record hooks on the controller.

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

    ``scoring`` is the one built from options and ini keys. Called once, before the first test
    (after collection, so a conftest below the command-line paths is seen): the screen, the
    tests' targets, the journal and the verdict all use what it returns.
    """


@_spec(firstresult=True)
def pytest_qpbench_generate_fingerprint(config):
    """Return the machine's fingerprint dict (the record's "fingerprint"), or None to leave it to qpbench.

    qpbench's own (``qpbench.system.fingerprint()``) runs last. Baselines compare
    absolute figures only between runs whose fingerprints match.
    """


@_spec
def pytest_qpbench_update_fingerprint(config, fingerprint):
    """Add to or change the ``fingerprint`` dict in place, e.g. a machine's rack or a driver version."""


@_spec(firstresult=True)
def pytest_qpbench_generate_record(config, verdict, results, fingerprint, errors):
    """Return the run's ``qpbench.record.RunRecord``, or None to leave it to qpbench.

    ``verdict`` is the scored ``Verdict``, ``results`` the typed results it judged,
    ``fingerprint`` the machine's (after the fingerprint hooks), ``errors`` the
    failed measurements by variant. qpbench's own runs last. The comparison with
    a baseline is added to the record after this hook.
    """


@_spec
def pytest_qpbench_update_record(config, record):
    """Add your own data to the run's ``RunRecord`` just before it is written.

    The record is complete then: verdict, gate, and, with ``--qp-compare``, the
    comparison. It is frozen, except ``record.extra``, a dict for what you add
    (JSON values; written under "extra" in the run's JSON, ``latest.json``, the
    reports' source and a saved baseline)::

        def pytest_qpbench_update_record(config, record):
            record.extra["ticket"] = "OPS-42"
    """


@_spec
def pytest_qpbench_verdict(config, verdict, record):
    """Called last, with the final ``Verdict`` and the ``RunRecord`` as written.

    The record holds the comparison with the baseline when there is one. Changing
    it here changes no file: use ``pytest_qpbench_update_record`` for that.
    """
