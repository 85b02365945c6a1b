"""Exponential moving average of G's weights (Yazici 2019; Karras 2018): sampled instead of G."""
from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    def __init__(self, net: nn.Module, decay: float, start: int = 0):
        self.decay, self.start = decay, start
        self.net = copy.deepcopy(net).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, net: nn.Module, step: int) -> None:
        # Warm-up (as in Karras 2018's progan code): early on, the average follows G closely, so
        # short runs do not sample from a blend dominated by the random initialisation.
        d = min(self.decay, (1.0 + step) / (10.0 + step)) if step >= self.start else 0.0
        for e, p in zip(self.net.parameters(), net.parameters()):
            e.lerp_(p.detach(), 1.0 - d)
        # BatchNorm running statistics and spectral-norm vectors are copied, not averaged.
        for e, b in zip(self.net.buffers(), net.buffers()):
            e.copy_(b)
