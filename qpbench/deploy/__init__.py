"""Deployment packages: build one for a variant of a run, check it, re-validate it.

The code a package serves (the wrapper, backends, preprocessing) is the
runtime layer, ``qpbench.runtime``, copied into the package as ``qpdeploy``.
"""
