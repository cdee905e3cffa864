"""Hooks for qpbench's own test run (the fixtures live in the repository's conftest.py)."""

from tests.ci_skips import pytest_configure  # noqa: F401  (skip report; module-wide skips fail under CI)
