"""PatchGAN discriminator (Isola et al. 2017) and what the image-to-image nets share.

A PatchGAN classifies every overlapping N x N patch of an image as real or fake and returns the
map of patch logits (B, 1, h, w); the losses average over it. N, the receptive field of one
output logit, follows from the number of stride-2 layers: 1 -> 16, 2 -> 34, 3 -> 70 (the paper's
choice at 256 px), 4 -> 142. Conditioned (pix2pix), D sees the input image concatenated with the
real or translated output, so it judges whether the output fits its input.

Translation nets take an image, not a latent, so their registry factories have their own
signature (`build_translation_pair`); NETS meta kind="translation" marks them.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import GankitError
from .blocks import apply_spectral_norm, dcgan_init, norm2d

SIZES = (16, 32, 64, 128, 256, 512)  # powers of two: the U-Net halves the size down to 1x1
RECEPTIVE_FIELDS = {16: 1, 34: 2, 70: 3, 142: 4}  # patch size in px -> stride-2 layers


def norm_layer(kind: str, channels: int) -> nn.Module:
    """'batch' | 'instance' (per-image statistics, no affine: CycleGAN's choice) | 'ln' | 'none'."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    return norm2d(kind, channels)  # 'ln' -> GroupNorm(1, C), anything else -> Identity


def patch_layers(patch: int, size: int) -> int:
    """Stride-2 layers of a PatchGAN with receptive field `patch` px (0: 70 px from 128 px up, 34 at
    64 px, 16 below) on `size` px images, checking that at least one patch logit comes out."""
    if patch == 0:
        patch = 70 if size >= 128 else 34 if size >= 64 else 16
    if patch not in RECEPTIVE_FIELDS:
        raise GankitError(f"translation.patch={patch} is not a PatchGAN receptive field; choose one of "
                          f"{', '.join(map(str, RECEPTIVE_FIELDS))} (or 0 for the size's default)")
    n = RECEPTIVE_FIELDS[patch]
    if size // 2 ** n - 2 < 1:  # n stride-2 convs, then two stride-1 4x4 convs that each remove a pixel
        fits = [p for p, k in RECEPTIVE_FIELDS.items() if size // 2 ** k - 2 >= 1]
        raise GankitError(f"a {patch}x{patch} PatchGAN is too large for {size} px images; set translation.patch "
                          f"to one of {', '.join(map(str, fits))} or use larger images (data.image_size)")
    return n


def receptive_field(n_layers: int) -> int:
    """Receptive field in px of one output of an n-layer PatchGAN (4x4 convs: n stride 2, then 2 stride 1)."""
    rf = 1
    for stride in [1, 1] + [2] * n_layers:  # walk back from the output
        rf = (rf - 1) * stride + 4
    return rf


class PatchDiscriminator(nn.Module):
    """C64-C128-C256-C512 PatchGAN (pix2pix's 70x70 with n_layers=3), any number of input channels.

    forward(x (B, C_x, H, W), cond (B, C_c, H, W) or None) -> patch logits (B, 1, h, w). With
    cond_channels > 0 the condition is concatenated to x (pix2pix); otherwise D sees x alone (CycleGAN).
    """

    def __init__(self, channels: int, n_layers: int = 3, width: int = 64, norm: str = "batch",
                 cond_channels: int = 0, spectral: bool = False):
        super().__init__()
        self.cond_channels, self.n_layers = cond_channels, n_layers
        bias = norm not in ("batch",)  # BatchNorm brings its own shift
        c_in = channels + cond_channels
        layers = [nn.Conv2d(c_in, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]  # no norm on the first layer
        c = width
        for k in range(1, n_layers):
            c_next = width * min(2 ** k, 8)
            layers += [nn.Conv2d(c, c_next, 4, 2, 1, bias=bias), norm_layer(norm, c_next), nn.LeakyReLU(0.2, True)]
            c = c_next
        c_next = width * min(2 ** n_layers, 8)
        layers += [nn.Conv2d(c, c_next, 4, 1, 1, bias=bias), norm_layer(norm, c_next), nn.LeakyReLU(0.2, True),
                   nn.Conv2d(c_next, 1, 4, 1, 1)]  # (B, 1, h, w): one logit per patch
        self.body = nn.Sequential(*layers)
        dcgan_init(self)
        if spectral:
            apply_spectral_norm(self)

    @property
    def patch(self) -> int:
        return receptive_field(self.n_layers)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if self.cond_channels:
            if cond is None:
                raise ValueError("this PatchGAN is conditional: pass the input image as cond")
            x = torch.cat([cond, x], 1)  # (B, C_c + C_x, H, W): input and output side by side in channels
        return self.body(x)


def _norms(cfg_net, tcfg) -> tuple[str, str, bool]:
    """(G norm, D norm, spectral norm in D) from net.g_norm / net.d_norm: 'bn' means translation.norm
    (batch or instance); the hinge and wgan-gp losses bring d_norm sn and ln."""
    g = tcfg.norm if cfg_net.g_norm == "bn" else "none"
    d = {"bn": tcfg.norm, "ln": "ln"}.get(cfg_net.d_norm, "none")
    return g, d, cfg_net.d_norm == "sn"


def build_translation_pair(make_g, name: str, cfg_net, shape, num_classes: int = 0, *, out_channels=None,
                           d_channels=None, d_cond_channels: int = 0, tcfg=None):
    """(G, D) for a translation objective. shape: the input image (C_in, H, W); G makes out_channels;
    D judges d_channels-channel images, conditioned on d_cond_channels of input (0: unconditional)."""
    if tcfg is None:
        raise GankitError(f"net {name} is an image-to-image net (its G takes an image, not a latent); train it "
                          f"with --objective pix2pix, l1-only or cyclegan")
    c_in, size = shape[0], shape[-1]
    if len(shape) != 3 or shape[1] != shape[2] or size not in SIZES:
        raise GankitError(f"net {name} needs square images of {', '.join(map(str, SIZES))} px, got "
                          f"{'x'.join(map(str, shape))}; set data.image_size to one of those")
    out_channels = out_channels or c_in
    g_norm, d_norm, spectral = _norms(cfg_net, tcfg)
    G = make_g(c_in, out_channels, size, cfg_net.g_width, g_norm, tcfg)
    D = PatchDiscriminator(d_channels or out_channels, patch_layers(tcfg.patch, size), cfg_net.d_width, d_norm,
                           d_cond_channels, spectral)
    return G, D
