"""Progress bars: on stderr for a person at a terminal, silent under CI and in logs."""

from __future__ import annotations

import io

import pytest

from qpbench import progress as progress_mod
from qpbench.progress import enabled, progress


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def tty(monkeypatch):
    """Install a terminal-like stderr; call it in the test body (pytest's capture swaps stderr after setup)."""
    monkeypatch.delenv("CI", raising=False)

    def install() -> FakeTTY:
        stream = FakeTTY()
        monkeypatch.setattr(progress_mod.sys, "stderr", stream)
        return stream

    return install


def test_a_terminal_gets_a_bar_on_stderr(tty):
    tty = tty()
    assert enabled()
    assert list(progress(range(3), desc="calibrating", unit="batch")) == [0, 1, 2]
    assert "calibrating" in tty.getvalue() and "0/3" in tty.getvalue()  # leave=False: the bar clears itself


@pytest.mark.parametrize("value", ["true", "1", "yes"])
def test_ci_disables_bars(tty, monkeypatch, value):
    monkeypatch.setenv("CI", value)
    tty = tty()
    assert not enabled()
    assert list(progress(range(3), desc="calibrating")) == [0, 1, 2]
    assert tty.getvalue() == ""


def test_ci_false_does_not_disable(tty, monkeypatch):
    monkeypatch.setenv("CI", "false")
    tty()
    assert enabled()


def test_a_log_file_gets_no_bar(monkeypatch):
    stream = io.StringIO()  # not a terminal
    monkeypatch.setattr(progress_mod.sys, "stderr", stream)
    monkeypatch.delenv("CI", raising=False)
    with progress(desc="AOTInductor compile", total=1) as bar:
        bar.update()
    assert not enabled() and stream.getvalue() == ""


def test_calibration_runs_every_batch_through_the_bar(tty):
    import torch

    from qpbench.optimize.quantize import calibrate

    tty = tty()
    seen = []
    batches = [(torch.zeros(2, 3, 4, 4), torch.zeros(2, 13)), (torch.zeros(3, 3, 4, 4), torch.zeros(3, 13))]
    assert calibrate(lambda image, params: seen.append(image.shape[0]), batches) == 5
    assert seen == [2, 3] and "calibrating" in tty.getvalue()
