"""Deployment package and the production inference wrapper.

The runtime modules (``wrapper``, ``backends``, ``preprocess``, ``manifest``,
and ``qpbench.data.params``) import only the standard library and numpy at
module level; they are copied byte for byte into every deployment package as
the ``qpdeploy`` package, so the wrapper a deployment runs is the one tested
here. ``package`` and ``revalidate`` build and check packages and need qpbench.

This file is copied too: it must not import anything.
"""
