"""U-Net generator (Isola et al. 2017, pix2pix): an encoder-decoder with skip connections.

Encoder C64-C128-C256-C512-C512-... (4x4 stride-2 convs, LeakyReLU 0.2) down to 1x1; decoder of
4x4 stride-2 transposed convs (ReLU), where decoder stage i sees its input concatenated with
encoder stage i's output, so fine detail (edges, positions) bypasses the bottleneck. Dropout on
the outputs of the three decoder stages after the innermost one is pix2pix's noise source
(they found an explicit z ignored).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GankitError
from ..registry import NETS
from .blocks import dcgan_init
from .patchgan import SIZES, build_translation_pair, norm_layer


class NoiseDropout(nn.Dropout):
    """Dropout that can stay on in eval mode: pix2pix applies it at test time too (its noise)."""

    def __init__(self, p: float, at_test: bool = False):
        super().__init__(p)
        self.at_test = at_test

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.p, self.training or self.at_test)


class UNetGenerator(nn.Module):
    """forward(x (B, C_in, S, S) in [-1, 1]) -> (B, C_out, S, S) in [-1, 1].

    depth: stride-2 stages (default log2(S): down to 1x1; 8 at 256 px as in the paper).
    Channels of encoder stage i: width * min(2^i, 8).
    """

    def __init__(self, in_channels: int, out_channels: int, size: int, width: int = 64, norm: str = "batch",
                 depth: int = 0, dropout: float = 0.5, dropout_at_test: bool = False):
        super().__init__()
        depth = depth or int(math.log2(size))
        if not 2 <= depth or size % 2 ** depth:
            raise GankitError(f"a U-Net of depth {depth} does not fit {size} px images (the size must be divisible "
                              f"by 2^depth, depth >= 2); set translation.depth between 2 and {int(math.log2(size))}")
        self.depth = depth
        ch = [width * min(2 ** i, 8) for i in range(depth)]  # encoder outputs e_0 .. e_{depth-1}
        bias = norm != "batch"
        self.downs = nn.ModuleList([nn.Conv2d(in_channels, ch[0], 4, 2, 1, bias=bias)])  # e_0: no norm, no act
        for i in range(1, depth):
            inner = i == depth - 1  # the bottleneck (1x1 at full depth) has no norm
            self.downs.append(nn.Sequential(nn.LeakyReLU(0.2, True), nn.Conv2d(ch[i - 1], ch[i], 4, 2, 1, bias=bias),
                                            nn.Identity() if inner else norm_layer(norm, ch[i])))
        # ups[i] undoes downs[i]: it reads e_i (innermost) or cat(e_i, ups[i+1] output), 2 * ch[i] channels.
        ups = [nn.Sequential(nn.ReLU(True), nn.ConvTranspose2d(2 * ch[0], out_channels, 4, 2, 1), nn.Tanh())]
        for i in range(1, depth):
            c_in = ch[i] if i == depth - 1 else 2 * ch[i]
            layers = [nn.ReLU(True), nn.ConvTranspose2d(c_in, ch[i - 1], 4, 2, 1, bias=bias), norm_layer(norm, ch[i - 1])]
            if dropout > 0 and max(1, depth - 4) <= i <= depth - 2:  # the 3 stages after the innermost (paper: CD512 x3)
                layers.append(NoiseDropout(dropout, dropout_at_test))
            ups.append(nn.Sequential(*layers))
        self.ups = nn.ModuleList(ups)
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        h = x
        for down in self.downs:
            h = down(h)
            skips.append(h)  # e_i: (B, ch[i], S / 2^(i+1), S / 2^(i+1))
        h = self.ups[-1](skips[-1])
        for i in range(self.depth - 2, -1, -1):
            h = self.ups[i](torch.cat([skips[i], h], 1))  # skip connection: (B, 2 ch[i], ...)
        return h


def _make_unet(c_in, c_out, size, width, norm, tcfg):
    return UNetGenerator(c_in, c_out, size, width, norm, tcfg.depth, tcfg.dropout, tcfg.sample_dropout)


@NETS.register("unet", help="pix2pix: U-Net G (skip connections, dropout noise) + PatchGAN D; 16-512 px",
               sizes=SIZES, kind="translation")
def unet(cfg_net, shape, num_classes: int = 0, **kw):
    return build_translation_pair(_make_unet, "unet", cfg_net, shape, num_classes, **kw)
