"""Which kernels each variant's heavy operators ran with, and how the harness agrees with the
runtime's own tool on the same artifact (see qpbench/measure/kernels.py, agreement.py); both
measured in the variant's worker."""

from __future__ import annotations

import pytest

from qpbench.measure.isolation import NotApplicable
from qpbench.suite.isolated import in_worker


def test_kernels(qp_measured, qp_record):
    try:
        (result,) = in_worker(lambda: qp_measured.results("kernels"), qp_record)
    except NotApplicable as exc:
        pytest.skip(str(exc))
    qp_record(result)
    assert result.fallback_convs == 0, (
        f"silent fallback: {result.fallback_convs} of {result.conv_total} convolutions in fp32 "
        f"in a variant that claims {result.expected}")


@pytest.mark.qp_after_screen
def test_tool_agreement(qp_measured, qp_record):
    """OpenVINO variants beside benchmark_app, ONNX Runtime ones beside a bare session loop,
    PyTorch ones beside their module called bare: the harness must add nothing to a call."""
    try:
        (result,) = in_worker(lambda: qp_measured.results("tool_agreement"), qp_record)
    except NotApplicable as exc:
        pytest.skip(str(exc))
    qp_record(result)
