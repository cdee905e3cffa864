"""The machine-speed probe: a small frozen network that qpbench ships, never the user's model.

The reference's batch-1 calls are timed interleaved (ABBA) with the probe's in the same worker,
both at one thread (``one_thread``), and compared on the ratio of their low quantiles (p10: other
processes only ever add time). Their ratio, reference time / probe time, moves when the user's
model gets slower or faster and stays put when the whole machine does (another tenant, a slower
host, a lower clock): both sides of every pair see the same machine at the same moment. That
makes a whole-model slowdown, which moves every variant and the reference together and so
leaves the variant/reference ratios alone, visible to the default regression gate.

The network is five 3x3 convolutions (oneDNN's kernels, like most CNN inference) on one
128x128 input, about 4 ms a call at one thread on a 2.8 GHz Ice Lake Xeon; weights and input
come from a fixed seed, so every run and every machine times the same computation. Changing it
changes ``config.PROBE``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import torch

from qpbench.optimize.threads import thread_settings


# The machine-speed probe the reference is timed against (measure/probe.py). Its version is in
# the name: a baseline timed against another probe is not compared with this one.
PROBE = "probe-v1"

SEED = 20261128
INPUT_SIZE = 128
CHANNELS = ((3, 32, 2), (32, 64, 2), (64, 64, 1), (64, 128, 2), (128, 128, 1))  # in, out, stride


def probe_network() -> tuple[torch.nn.Module, torch.Tensor]:
    """The probe (eval mode, frozen) and its input, the same on every call."""
    gen = torch.Generator().manual_seed(SEED)
    layers: list[torch.nn.Module] = []
    for cin, cout, stride in CHANNELS:
        conv = torch.nn.Conv2d(cin, cout, 3, stride, 1)
        with torch.no_grad():
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * (2.0 / (9 * cin)) ** 0.5)
            conv.bias.zero_()
        layers += [conv, torch.nn.ReLU()]
    head = torch.nn.Linear(CHANNELS[-1][1], 1)
    with torch.no_grad():
        head.weight.copy_(torch.randn(head.weight.shape, generator=gen) * 0.1)
        head.bias.zero_()
    net = torch.nn.Sequential(*layers, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), head).eval()
    for param in net.parameters():
        param.requires_grad_(False)
    return net, torch.randn(1, 3, INPUT_SIZE, INPUT_SIZE, generator=gen)


def one_thread() -> AbstractContextManager[None]:
    """torch at one intra-op thread, restored after. The probe and the reference are timed at one
    thread: two-thread timings on a shared 2-vCPU machine depend on where the second thread lands
    and how busy its vCPU is, which moved the reference/probe ratio by up to 25% from one process
    to the next; at one thread its low quantile moved by about 3%."""
    return thread_settings(1)


def probe_call() -> tuple[str, Callable[[], object]]:
    """(the probe's name, one call of it) ready to time."""
    net, image = probe_network()

    def call() -> object:
        with torch.inference_mode():
            return net(image)

    return PROBE, call
