"""Penalties on D and other extra terms, each a function of D and tensors (no training state).

A penalty returns the *unweighted* scalar; the objective scales it by loss.reg_weight (and by
loss.reg_every for lazy regularisation, as in StyleGAN2). Gradients are taken in float32 so the
penalty is correct under autocast.
"""
from __future__ import annotations

import torch
from torch import nn

from .registry import REGULARIZERS

Tensor = torch.Tensor


def _input_grad(D: nn.Module, x: Tensor, y: Tensor | None) -> Tensor:
    """dD(x)/dx per sample, flattened to (N, -1), with a graph so the penalty can be backpropagated."""
    x = x.detach().float().requires_grad_(True)
    out = D(x, y).float().sum()
    (grad,) = torch.autograd.grad(out, x, create_graph=True)
    return grad.flatten(1)


@REGULARIZERS.register("gp", help="WGAN-GP two-sided gradient penalty on real/fake interpolates (Gulrajani 2017)")
def gradient_penalty(D: nn.Module, real: Tensor, fake: Tensor, y: Tensor | None = None) -> Tensor:
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
    x_hat = eps * real.detach() + (1.0 - eps) * fake.detach()
    return ((_input_grad(D, x_hat, y).norm(2, dim=1) - 1.0) ** 2).mean()


@REGULARIZERS.register("dragan", help="DRAGAN penalty around perturbed real data (Kodali 2017)")
def dragan_penalty(D: nn.Module, real: Tensor, fake: Tensor, y: Tensor | None = None) -> Tensor:
    real = real.detach()
    noisy = real + 0.5 * real.std() * torch.rand_like(real)
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
    x_hat = real + alpha * (noisy - real)
    return ((_input_grad(D, x_hat, y).norm(2, dim=1) - 1.0) ** 2).mean()


@REGULARIZERS.register("r1", help="R1: gamma/2 * |grad D(x_real)|^2 (Mescheder 2018)")
def r1_penalty(D: nn.Module, real: Tensor, fake: Tensor, y: Tensor | None = None) -> Tensor:
    return 0.5 * _input_grad(D, real, y).pow(2).sum(1).mean()


@torch.no_grad()
def clip_weights(D: nn.Module, bound: float) -> None:
    """WGAN weight clipping: every parameter of the critic into [-bound, bound]."""
    for p in D.parameters():
        p.clamp_(-bound, bound)


def feature_matching(real_features: Tensor, fake_features: Tensor) -> Tensor:
    """Salimans 2016, section 3.1: || E f(x) - E f(G(z)) ||^2 on D's penultimate features."""
    return (real_features.detach().float().mean(0) - fake_features.float().mean(0)).pow(2).sum()
