"""DCGAN (Radford et al. 2016): transposed-conv G, strided-conv D, for 16-128 px and 28 px images."""
from __future__ import annotations

import math

import torch
from torch import nn

from ..registry import NETS
from .blocks import DiscriminatorHead, apply_spectral_norm, check_labels, dcgan_init, norm2d

SIZES = (16, 28, 32, 64, 128)
EMBED = 32


def _plan(size: int) -> tuple[int, int]:
    """(base resolution, number of x2 stages): 64 -> (4, 4), 32 -> (4, 3), 28 -> (7, 2)."""
    base = 7 if size == 28 else 4
    return base, int(math.log2(size // base))


class DCGANGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, size: int, width: int, norm: str = "bn", num_classes: int = 0):
        super().__init__()
        self.z_dim, self.num_classes, self.out_shape = z_dim, num_classes, (channels, size, size)
        base, stages = _plan(size)
        self.embed = nn.Embedding(num_classes, EMBED) if num_classes else None
        c = width * 2 ** (stages - 1)
        in_dim = z_dim + (EMBED if num_classes else 0)
        layers = [nn.ConvTranspose2d(in_dim, c, base, 1, 0, bias=norm == "none"), norm2d(norm, c), nn.ReLU(True)]
        for _ in range(stages - 1):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=norm == "none"), norm2d(norm, c // 2),
                       nn.ReLU(True)]
            c //= 2
        layers += [nn.ConvTranspose2d(c, channels, 4, 2, 1, bias=False), nn.Tanh()]  # bias-free, as canonical
        self.body = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        check_labels(self, y)
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], 1)
        return self.body(z[:, :, None, None])  # (N, C, size, size) in [-1, 1]


class DCGANDiscriminator(nn.Module):
    def __init__(self, channels: int, size: int, width: int, norm: str = "bn", num_classes: int = 0,
                 cond: str = "projection", minibatch_disc: int = 0):
        super().__init__()
        self.num_classes, self.cond = num_classes, cond
        base, stages = _plan(size)
        concat = num_classes and cond == "concat"
        in_c = channels + (num_classes if concat else 0)  # concat: one-hot label planes
        layers = [nn.Conv2d(in_c, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]  # no norm on the first layer
        c = width
        for _ in range(stages - 1):
            layers += [nn.Conv2d(c, c * 2, 4, 2, 1, bias=norm in ("none", "sn")), norm2d(norm, c * 2),
                       nn.LeakyReLU(0.2, True)]
            c *= 2
        self.body = nn.Sequential(*layers)
        self.features = c * base * base
        # The canonical final conv (kernel = base, no padding) is a linear map of the flattened features.
        self.head = DiscriminatorHead(self.features, num_classes, num_classes > 0 and cond == "projection",
                                      minibatch_disc)
        dcgan_init(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, return_features: bool = False):
        check_labels(self, y)
        if self.num_classes and self.cond == "concat":
            onehot = nn.functional.one_hot(y, self.num_classes).to(x.dtype)  # (N, K)
            x = torch.cat([x, onehot[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1)
        h = self.body(x).flatten(1)  # (N, C * base * base)
        logits = self.head(h, y)
        return (logits, h) if return_features else logits


@NETS.register("dcgan", help="DCGAN G/D (Radford 2016) at 16, 28, 32, 64 or 128 px, 1 or 3 channels", sizes=SIZES,
               gan=True, d_norms=("bn", "none", "sn", "ln"))
def build_dcgan(cfg, shape: tuple, num_classes: int = 0):
    if len(shape) != 3:
        from ..errors import GankitError
        raise GankitError("net dcgan makes images; for 2D toy data use --net mlp")
    c, h, w = shape
    n_cls = num_classes if cfg.conditional else 0
    G = DCGANGenerator(cfg.z_dim, c, h, cfg.g_width, cfg.g_norm, n_cls)
    D = DCGANDiscriminator(c, h, cfg.d_width, "none" if cfg.d_norm == "sn" else cfg.d_norm, n_cls, cfg.d_cond,
                           cfg.minibatch_disc)
    if cfg.d_norm == "sn":
        apply_spectral_norm(D)
    return G, D
