"""Optimization routines on tiny models: same outputs, settings restored."""

import torch
from torch import nn

import pytest

from qpbench.optimize.fusion import fold_conv_bn
from qpbench.optimize.layout import to_channels_last
from qpbench.optimize.threads import candidate_thread_counts, sweep_threads, thread_settings


class ConvBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.shared = nn.BatchNorm2d(8)  # used twice: must not be folded

    def forward(self, x, params):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return (self.shared(y) + self.shared(y * 2)).mean(dim=(1, 2, 3)) + params.sum(1)


def randomize_bn(model):
    torch.manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
    return model.eval()


def test_fold_conv_bn_folds_pairs_and_keeps_outputs():
    model = randomize_bn(ConvBN())
    x, p = torch.randn(2, 3, 8, 8), torch.randn(2, 13)
    fused, report = fold_conv_bn(model)
    assert report.folded == 2 and report.batchnorms == 3 and report.skipped_reason is None
    assert isinstance(fused.bn1, nn.Identity) and isinstance(fused.shared, nn.BatchNorm2d)
    assert isinstance(model.bn1, nn.BatchNorm2d)  # the original is untouched
    with torch.no_grad():
        # fp32 folding reorders arithmetic: agree to 1e-5 relative.
        torch.testing.assert_close(fused(x, p), model(x, p), rtol=1e-5, atol=1e-5)


class Branchy(ConvBN):
    def forward(self, x, params):
        if x.sum() > 0:  # data-dependent control flow: not traceable by torch.fx
            return self.bn1(self.conv1(x)).mean(dim=(1, 2, 3))
        return params.sum(1)


def test_fold_conv_bn_gives_a_reason_when_the_model_cannot_be_traced():
    fused, report = fold_conv_bn(randomize_bn(Branchy()))
    assert report.folded == 0 and "not traceable by torch.fx" in report.skipped_reason
    assert isinstance(fused.bn1, nn.BatchNorm2d)


def test_channels_last_keeps_outputs():
    model = randomize_bn(ConvBN())
    x, p = torch.randn(2, 3, 8, 8), torch.randn(2, 13)
    with torch.no_grad():
        ref = model(x, p)
        out = to_channels_last(model)(x.contiguous(memory_format=torch.channels_last), p)
    assert model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_thread_settings_restore_even_on_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError):
        with thread_settings(1):
            assert torch.get_num_threads() == 1
            raise RuntimeError("boom")
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError):
        with thread_settings(0):
            pass


def test_candidate_thread_counts():
    assert candidate_thread_counts(1) == [1]
    assert candidate_thread_counts(6) == [1, 2, 4, 6]
    assert candidate_thread_counts(8) == [1, 2, 4, 8]


def test_sweep_picks_the_fastest_count_with_a_fake_timer_and_restores_threads():
    before = torch.get_num_threads()
    now = [0.0]
    cost = {1: 0.05, 2: 0.02, 4: 0.03}

    def run():
        now[0] += cost[torch.get_num_threads()]

    result = sweep_threads(run, [1, 2, 4], rounds=3, timer=lambda: now[0])
    assert result.best == 2 and result.median_s[1] == pytest.approx(0.05)
    assert torch.get_num_threads() == before


def test_sweep_breaks_ties_towards_fewer_threads():
    now = [0.0]

    def run():
        now[0] += 0.01

    assert sweep_threads(run, [1, 2], rounds=2, timer=lambda: now[0]).best == 1


def test_cpu_affinity_pins_and_restores():
    import os

    from qpbench.optimize.affinity import cpu_affinity, first_cpus, supported

    if not supported():
        pytest.skip("sched_setaffinity is Linux-only")
    before = os.sched_getaffinity(0)
    with cpu_affinity(first_cpus(1)):
        assert os.sched_getaffinity(0) == {min(before)}
    assert os.sched_getaffinity(0) == before
    with pytest.raises(ValueError, match="not within the allowed CPUs"):
        with cpu_affinity([10_000]):
            pass
    assert os.sched_getaffinity(0) == before
    with pytest.raises(ValueError, match="cannot pin to 0 CPUs"):
        first_cpus(0)
