"""DiffAugment (Zhao et al. 2020): differentiable augmentations applied to every image D sees,
real and fake alike, so D cannot memorise a small training set. Follows the authors' code
(translation by up to 1/8 of the size, cutout of half the size, colour jitter)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .errors import GankitError


def color(x: torch.Tensor) -> torch.Tensor:
    n = x.shape[0]
    x = x + (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)  # brightness
    if x.shape[1] == 3:  # saturation
        m = x.mean(1, keepdim=True)
        x = (x - m) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + m
    m = x.mean((1, 2, 3), keepdim=True)  # contrast
    return (x - m) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + m


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    tx = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    ty = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    gb, gx, gy = torch.meshgrid(torch.arange(n, device=x.device), torch.arange(h, device=x.device),
                                torch.arange(w, device=x.device), indexing="ij")
    gx = torch.clamp(gx + tx + 1, 0, h + 1)
    gy = torch.clamp(gy + ty + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1, 0, 0, 0, 0])  # zero border, shifted in from outside
    return padded.permute(0, 2, 3, 1).contiguous()[gb, gx, gy].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ox = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device)
    oy = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device)
    gb, gx, gy = torch.meshgrid(torch.arange(n, device=x.device), torch.arange(ch, device=x.device),
                                torch.arange(cw, device=x.device), indexing="ij")
    gx = torch.clamp(gx + ox - ch // 2, 0, h - 1)
    gy = torch.clamp(gy + oy - cw // 2, 0, w - 1)
    mask = torch.ones(n, h, w, dtype=x.dtype, device=x.device)
    mask[gb, gx, gy] = 0
    return x * mask.unsqueeze(1)


POLICIES = {"color": color, "translation": translation, "cutout": cutout}


def parse_policies(spec: str) -> list:
    names = [p.strip() for p in spec.split(",") if p.strip()]
    unknown = [n for n in names if n not in POLICIES]
    if unknown:
        raise GankitError(f"unknown augmentation {unknown[0]!r} in loss.augment; choose from: "
                          f"{', '.join(POLICIES)} (comma-separated)")
    return [POLICIES[n] for n in names]


class DiffAugment:
    def __init__(self, spec: str):
        self.fns = parse_policies(spec)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            return x
        for fn in self.fns:
            x = fn(x)
        return x

    def __bool__(self) -> bool:
        return bool(self.fns)
