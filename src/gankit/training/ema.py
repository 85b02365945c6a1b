"""Exponential moving average of G's weights (Yazici 2019; Karras 2018): sampled instead of G."""
from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    def __init__(self, net: nn.Module, decay: float, start: int = 0, warmup: bool = True):
        self.decay, self.start, self.warmup = decay, start, warmup
        self.net = copy.deepcopy(net).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, net: nn.Module, step: int) -> None:
        # Warm-up (as in Karras 2018's progan code): early on, the average follows G closely, so
        # short runs do not sample from a blend dominated by the random initialisation. It caps the
        # decay below 0.999 until step ~9000; without it the decay is `decay` from `start` on (before
        # `start` the average is G itself), e.g. an average over a run's second half.
        if step < self.start:
            d = 0.0
        else:
            d = min(self.decay, (1.0 + step) / (10.0 + step)) if self.warmup else self.decay
        for e, p in zip(self.net.parameters(), net.parameters()):
            e.lerp_(p.detach(), 1.0 - d)
        # BatchNorm running statistics and spectral-norm vectors are copied, not averaged.
        for e, b in zip(self.net.buffers(), net.buffers()):
            e.copy_(b)
