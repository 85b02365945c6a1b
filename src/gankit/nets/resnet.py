"""SNGAN-style ResNet G and D (Miyato et al. 2018, appendix B; Gulrajani 2017's ResNet blocks).

G: z -> linear -> (ch, b, b) -> up-blocks -> BN, ReLU, conv3x3, tanh.  D: residual down-blocks,
ReLU, global sum pooling, linear (+ projection of the label). With `net.d_norm=sn` (the hinge
loss's default) every D weight is spectrally normalised.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import GankitError
from ..registry import NETS
from .blocks import DiscriminatorHead, apply_spectral_norm, check_labels, norm2d

SIZES = (28, 32, 64, 128)
EMBED = 32


class GBlock(nn.Module):
    """BN-ReLU-up-conv3-BN-ReLU-conv3, plus an upsampled 1x1 shortcut: (N, C, H, W) -> (N, C', 2H, 2W)."""

    def __init__(self, cin: int, cout: int, norm: str):
        super().__init__()
        self.b1, self.c1 = norm2d(norm, cin), nn.Conv2d(cin, cout, 3, 1, 1)
        self.b2, self.c2 = norm2d(norm, cout), nn.Conv2d(cout, cout, 3, 1, 1)
        self.sc = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        h = F.interpolate(F.relu(self.b1(x)), scale_factor=2)
        h = self.c2(F.relu(self.b2(self.c1(h))))
        return h + self.sc(F.interpolate(x, scale_factor=2))


class DBlock(nn.Module):
    """(ReLU)-conv3-ReLU-conv3-(avgpool), plus a 1x1 shortcut; the first block skips the leading ReLU."""

    def __init__(self, cin: int, cout: int, down: bool, first: bool = False):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(cin, cout, 3, 1, 1), nn.Conv2d(cout, cout, 3, 1, 1)
        self.sc = nn.Conv2d(cin, cout, 1) if (cin != cout or down) else None
        self.down, self.first = down, first

    def forward(self, x):
        h = x if self.first else F.relu(x)
        h = self.c2(F.relu(self.c1(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.sc is not None:  # the first block pools before its shortcut conv (Miyato's optimised block)
            s = self.sc(F.avg_pool2d(x, 2)) if (self.first and self.down) else self.sc(x)
            if self.down and not self.first:
                s = F.avg_pool2d(s, 2)
        return h + s


class ResNetGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, size: int, width: int, norm: str = "bn", num_classes: int = 0):
        super().__init__()
        self.z_dim, self.num_classes, self.out_shape = z_dim, num_classes, (channels, size, size)
        self.base = 7 if size == 28 else 4
        stages = int(math.log2(size // self.base))
        self.width = width
        self.embed = nn.Embedding(num_classes, EMBED) if num_classes else None
        self.linear = nn.Linear(z_dim + (EMBED if num_classes else 0), width * self.base * self.base)
        self.blocks = nn.Sequential(*[GBlock(width, width, norm) for _ in range(stages)])
        self.out = nn.Sequential(norm2d(norm, width), nn.ReLU(), nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh())

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        check_labels(self, y)
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], 1)
        h = self.linear(z).view(-1, self.width, self.base, self.base)  # (N, width, b, b)
        return self.out(self.blocks(h))  # (N, C, size, size)


class ResNetDiscriminator(nn.Module):
    def __init__(self, channels: int, size: int, width: int, num_classes: int = 0, cond: str = "projection",
                 minibatch_disc: int = 0):
        super().__init__()
        self.num_classes, self.cond = num_classes, cond
        concat = num_classes and cond == "concat"
        in_c = channels + (num_classes if concat else 0)
        blocks, res = [DBlock(in_c, width, down=True, first=True)], size // 2
        while res > 8:
            blocks.append(DBlock(width, width, down=True))
            res //= 2
        blocks += [DBlock(width, width, down=False), DBlock(width, width, down=False)]
        self.blocks = nn.Sequential(*blocks)
        self.head = DiscriminatorHead(width, num_classes, num_classes > 0 and cond == "projection", minibatch_disc)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, return_features: bool = False):
        check_labels(self, y)
        if self.num_classes and self.cond == "concat":
            onehot = F.one_hot(y, self.num_classes).to(x.dtype)
            x = torch.cat([x, onehot[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1)
        h = F.relu(self.blocks(x)).sum((2, 3))  # (N, width): global sum pooling
        logits = self.head(h, y)
        return (logits, h) if return_features else logits


@NETS.register("resnet", help="SNGAN-style ResNet G/D (Miyato 2018) at 28, 32, 64 or 128 px; use with --loss hinge",
               sizes=SIZES, gan=True, d_norms=("sn", "none"))
def build_resnet(cfg, shape: tuple, num_classes: int = 0):
    if len(shape) != 3:
        raise GankitError("net resnet makes images; for 2D toy data use --net mlp")
    if cfg.d_norm in ("bn", "ln"):
        raise GankitError(f"net resnet's D takes net.d_norm=sn or none, not {cfg.d_norm} (SNGAN uses sn)")
    c, h, _ = shape
    n_cls = num_classes if cfg.conditional else 0
    G = ResNetGenerator(cfg.z_dim, c, h, cfg.g_width, cfg.g_norm, n_cls)
    D = ResNetDiscriminator(c, h, cfg.d_width, n_cls, cfg.d_cond, cfg.minibatch_disc)
    for m in list(G.modules()) + list(D.modules()):  # SNGAN: Xavier-uniform convs and linears
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight, math.sqrt(2) if m.kernel_size != (1, 1) else 1.0) \
                if isinstance(m, nn.Conv2d) else nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    if cfg.d_norm == "sn":
        apply_spectral_norm(D)
    return G, D
