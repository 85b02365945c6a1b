"""Building blocks shared by the nets: normalisation choices, conditioning heads, minibatch
discrimination and the DCGAN weight initialisation."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def norm2d(kind: str, channels: int) -> nn.Module:
    """Normalisation after a conv: 'bn', 'ln' (layer norm over C,H,W), or nothing ('none', 'sn')."""
    if kind == "bn":
        return nn.BatchNorm2d(channels)
    if kind == "ln":
        return nn.GroupNorm(1, channels)
    return nn.Identity()


def norm1d(kind: str, features: int) -> nn.Module:
    if kind == "bn":
        return nn.BatchNorm1d(features)
    if kind == "ln":
        return nn.LayerNorm(features)
    return nn.Identity()


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral norm (Miyato 2018) on every conv, linear and embedding weight of `module`."""
    for name, child in list(module.named_children()):
        if isinstance(child, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            setattr(module, name, spectral_norm(child))
        else:
            apply_spectral_norm(child)
    return module


def dcgan_init(module: nn.Module) -> None:
    """Radford 2016: conv weights ~ N(0, 0.02), BN scale ~ N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class MinibatchDiscrimination(nn.Module):
    """Salimans et al. 2016, section 3.2: lets D compare each sample with the rest of the batch.

    f (N, A) -> M = f T (N, B, C); c_b(i, j) = exp(-|M_ib - M_jb|_1); o_b(i) = sum_{j != i} c_b(i, j).
    Returns [f, o] of shape (N, A + B).
    """

    def __init__(self, in_features: int, kernels: int, kernel_dim: int = 5):
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, kernels * kernel_dim) * 0.1)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        m = (f @ self.T).view(-1, self.kernels, self.kernel_dim)  # (N, B, C)
        dist = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(-1)  # (N, N, B)
        o = torch.exp(-dist).sum(1) - 1.0  # drop the j == i term, exp(0) = 1
        return torch.cat([f, o], 1)


class DiscriminatorHead(nn.Module):
    """Features (N, F) -> logits (N,), with optional minibatch discrimination and projection
    conditioning (Miyato & Koyama 2018: logit += <embed(y), features>)."""

    def __init__(self, features: int, num_classes: int = 0, projection: bool = False, minibatch_disc: int = 0):
        super().__init__()
        self.mbd = MinibatchDiscrimination(features, minibatch_disc) if minibatch_disc else None
        out_features = features + (minibatch_disc if minibatch_disc else 0)
        self.linear = nn.Linear(out_features, 1)
        self.embed = nn.Embedding(num_classes, out_features) if projection else None

    def forward(self, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if self.mbd is not None:
            h = self.mbd(h)
        logits = self.linear(h).squeeze(1)
        if self.embed is not None:
            logits = logits + (self.embed(y) * h).sum(1)
        return logits


def check_labels(module: nn.Module, y: torch.Tensor | None) -> None:
    if module.num_classes and y is None:
        raise ValueError(f"{type(module).__name__} is conditional: pass labels y")
