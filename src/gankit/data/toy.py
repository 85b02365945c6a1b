"""2D Gaussian mixtures used to study mode collapse (Metz 2017 unrolled GAN, PacGAN)."""
from __future__ import annotations

import math

import torch

from ..registry import DATASETS
from . import Data

TOY_SIZE = {"train": 50_000, "test": 10_000}


def ring8_centres() -> torch.Tensor:
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    return torch.stack([angles.cos(), angles.sin()], 1).float()  # (8, 2) on the unit circle


def grid25_centres() -> torch.Tensor:
    v = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    return torch.cartesian_prod(v, v)  # (25, 2)


def mixture(centres: torch.Tensor, std: float, n: int, seed: int, name: str) -> Data:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, len(centres), (n,), generator=g)
    x = centres[y] + std * torch.randn(n, 2, generator=g)
    return Data(x, y, name=name, num_classes=len(centres), class_names=[str(i) for i in range(len(centres))],
                meta={"centres": centres.tolist(), "std": std})


@DATASETS.register("ring8", help="8 Gaussians on a radius-1 circle, std 0.01 (2D toy)")
def ring8(cfg, split: str) -> Data:
    return mixture(ring8_centres(), 0.01, TOY_SIZE[split], 8 if split == "train" else 88, f"ring8:{split}")


@DATASETS.register("grid25", help="25 Gaussians at {-4,-2,0,2,4}^2, std 0.05 (2D toy)")
def grid25(cfg, split: str) -> Data:
    return mixture(grid25_centres(), 0.05, TOY_SIZE[split], 25 if split == "train" else 2525, f"grid25:{split}")
