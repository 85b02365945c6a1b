"""The original fully connected GAN (Goodfellow et al. 2014) for images and 2D toy data."""
from __future__ import annotations

import math

import torch
from torch import nn

from ..registry import NETS
from .blocks import DiscriminatorHead, apply_spectral_norm, check_labels, norm1d

EMBED = 32  # size of the label embedding concatenated to z / to D's input


class MLPGenerator(nn.Module):
    def __init__(self, z_dim: int, out_shape: tuple, width: int, layers: int, norm: str, num_classes: int = 0):
        super().__init__()
        self.z_dim, self.out_shape, self.num_classes = z_dim, tuple(out_shape), num_classes
        self.embed = nn.Embedding(num_classes, EMBED) if num_classes else None
        dims = [z_dim + (EMBED if num_classes else 0)] + [width] * layers
        body = []
        for a, b in zip(dims[:-1], dims[1:]):
            body += [nn.Linear(a, b), norm1d(norm, b), nn.ReLU()]
        body.append(nn.Linear(dims[-1], math.prod(out_shape)))
        self.body = nn.Sequential(*body)
        # Images live in [-1, 1]; toy vectors are unbounded (grid25 spans +-4).
        self.out_act = nn.Tanh() if len(out_shape) == 3 else nn.Identity()

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        check_labels(self, y)
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], 1)
        return self.out_act(self.body(z)).view(-1, *self.out_shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, in_shape: tuple, width: int, layers: int, norm: str, dropout: float, num_classes: int = 0,
                 cond: str = "projection", minibatch_disc: int = 0):
        super().__init__()
        self.num_classes, self.cond = num_classes, cond
        concat = num_classes and cond == "concat"
        self.embed = nn.Embedding(num_classes, EMBED) if concat else None
        dims = [math.prod(in_shape) + (EMBED if concat else 0)] + [width] * layers
        body = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            body += [nn.Linear(a, b), norm1d(norm if i else "none", b), nn.LeakyReLU(0.2)]
            if dropout:
                body.append(nn.Dropout(dropout))
        self.body = nn.Sequential(*body)
        self.head = DiscriminatorHead(dims[-1], num_classes, num_classes > 0 and cond == "projection",
                                      minibatch_disc)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, return_features: bool = False):
        check_labels(self, y)
        h = x.flatten(1)
        if self.embed is not None:
            h = torch.cat([h, self.embed(y)], 1)
        h = self.body(h)  # (N, width)
        logits = self.head(h, y)
        return (logits, h) if return_features else logits


@NETS.register("mlp", help="fully connected G and D (Goodfellow 2014); images of any size and 2D toy data",
               sizes=None, gan=True, d_norms=("bn", "none", "sn", "ln"))
def build_mlp(cfg, shape: tuple, num_classes: int = 0):
    n_cls = num_classes if cfg.conditional else 0
    G = MLPGenerator(cfg.z_dim, shape, cfg.g_width, cfg.layers, cfg.g_norm, n_cls)
    D = MLPDiscriminator(shape, cfg.d_width, cfg.layers, "none" if cfg.d_norm == "sn" else cfg.d_norm,
                         cfg.dropout, n_cls, cfg.d_cond, cfg.minibatch_disc)
    if cfg.d_norm == "sn":
        apply_spectral_norm(D)
    return G, D
