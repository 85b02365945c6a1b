"""ResNet generator (Johnson et al. 2016, as used by CycleGAN, Zhu et al. 2017).

c7s1-64, d128, d256, R256 x blocks, u128, u64, c7s1-C: a 7x7 conv, two stride-2 convs, residual
blocks at 1/4 resolution, two stride-2 transposed convs and a 7x7 conv to tanh. Reflection
padding avoids border artefacts. The paper uses 6 blocks at 128 px and 9 at 256 px.
"""
from __future__ import annotations

import torch
from torch import nn

from ..registry import NETS
from .blocks import dcgan_init
from .patchgan import SIZES, build_translation_pair, norm_layer


class ResnetBlock(nn.Module):
    def __init__(self, channels: int, norm: str, bias: bool):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm_layer(norm, channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm_layer(norm, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """forward(x (B, C_in, S, S) in [-1, 1]) -> (B, C_out, S, S) in [-1, 1]; S divisible by 4."""

    def __init__(self, in_channels: int, out_channels: int, width: int = 64, blocks: int = 9, norm: str = "instance"):
        super().__init__()
        bias = norm != "batch"
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7, bias=bias), norm_layer(norm, width),
                  nn.ReLU(True)]
        c = width
        for _ in range(2):  # (B, 4 width, S/4, S/4) after both
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1, bias=bias), norm_layer(norm, 2 * c), nn.ReLU(True)]
            c *= 2
        layers += [ResnetBlock(c, norm, bias) for _ in range(blocks)]
        for _ in range(2):
            layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1, bias=bias), norm_layer(norm, c // 2),
                       nn.ReLU(True)]
            c //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, out_channels, 7), nn.Tanh()]
        self.body = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def _make_resnet(c_in, c_out, size, width, norm, tcfg):
    return ResnetGenerator(c_in, c_out, width, tcfg.blocks, norm)


@NETS.register("resnet-gen", help="CycleGAN: ResNet G (translation.blocks 6 or 9) + PatchGAN D; 16-512 px",
               sizes=SIZES, kind="translation")
def resnet_gen(cfg_net, shape, num_classes: int = 0, **kw):
    return build_translation_pair(_make_resnet, "resnet-gen", cfg_net, shape, num_classes, **kw)
