"""Shared steps of the bench tests that measure in fresh worker processes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from qpbench.measure.isolation import WorkerFailed

T = TypeVar("T")


def builder_or_skip(qp_session: Any, variant: Any) -> str:
    builder = qp_session.variants.registry.get(variant.name).builder_path
    if builder is None:
        pytest.skip(f"variant {variant.name!r} has no importable builder: a fresh process cannot rebuild it")
    return builder


def in_worker(measure: Callable[[], T], qp_record: Callable[[Any], None]) -> T:
    """Run a worker-based measurement; a crashed or hung worker is recorded with its
    reason and fails this test only (the variant becomes a critical issue)."""
    try:
        return measure()
    except WorkerFailed as exc:
        failed = exc
    qp_record(failed.failure)
    pytest.fail(str(failed), pytrace=False)
