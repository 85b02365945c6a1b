"""GAN losses as pure functions of D's raw logits (softplus/BCE-with-logits forms: autocast-safe).

Each loss has a D side `d(real_logits, fake_logits, smoothing)` and a G side `g(fake_logits)`,
plus the optimiser settings it trains well with (applied before presets and flags).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F

from .registry import LOSSES

Tensor = torch.Tensor


def d_logistic(real: Tensor, fake: Tensor, smoothing: float = 0.0) -> Tensor:
    """-log D(x) - log(1 - D(G(z))), with one-sided label smoothing: real target 1 - smoothing."""
    t = 1.0 - smoothing
    real_term = t * F.softplus(-real) + (1.0 - t) * F.softplus(real)
    return real_term.mean() + F.softplus(fake).mean()


def g_minimax(fake: Tensor) -> Tensor:
    """Saturating G loss, the minimax game as written: minimise log(1 - D(G(z))) = -softplus(l)."""
    return -F.softplus(fake).mean()


def g_nonsaturating(fake: Tensor) -> Tensor:
    """Non-saturating G loss: minimise -log D(G(z)) = softplus(-l)."""
    return F.softplus(-fake).mean()


def g_max_likelihood(fake: Tensor) -> Tensor:
    """Maximum-likelihood G loss (Goodfellow 2014, arXiv 1412.6515): -1/2 E[exp(sigmoid^-1(D))] = -1/2 E[e^l].

    Its gradient weights each sample by D/(1-D), matching the KL(p_data || p_g) gradient when D is
    optimal. Computed in float32 with logits clamped at 30 so exp cannot overflow under autocast.
    """
    return -0.5 * fake.float().clamp(max=30.0).exp().mean()


def d_least_squares(real: Tensor, fake: Tensor, smoothing: float = 0.0) -> Tensor:
    """LSGAN (Mao 2017), a-b-c = 0-1-1 coding: 1/2 (D(x) - 1)^2 + 1/2 D(G(z))^2."""
    return 0.5 * ((real - 1.0) ** 2).mean() + 0.5 * (fake ** 2).mean()


def g_least_squares(fake: Tensor) -> Tensor:
    return 0.5 * ((fake - 1.0) ** 2).mean()


def d_wasserstein(real: Tensor, fake: Tensor, smoothing: float = 0.0) -> Tensor:
    """Critic loss E[D(G(z))] - E[D(x)] (Arjovsky 2017); the Lipschitz bound comes from clipping or a penalty."""
    return fake.mean() - real.mean()


def g_wasserstein(fake: Tensor) -> Tensor:
    return -fake.mean()


def d_hinge(real: Tensor, fake: Tensor, smoothing: float = 0.0) -> Tensor:
    """Hinge loss (Lim & Ye 2017; Miyato 2018): relu(1 - D(x)) + relu(1 + D(G(z)))."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


@dataclass(frozen=True)
class GanLoss:
    name: str
    d: Callable[..., Tensor]
    g: Callable[[Tensor], Tensor]
    sigmoid: bool = False  # logits are log-odds of "real" (label smoothing and D(x) reports apply)
    clip: bool = False  # clip D's weights after each D step (WGAN)
    defaults: dict = field(default_factory=dict)
    help: str = ""


def _register(loss: GanLoss) -> None:
    LOSSES.register(loss.name, help=loss.help)(loss)


_register(GanLoss("minimax", d_logistic, g_minimax, sigmoid=True,
                  help="the original minimax game: G minimises log(1 - D(G(z))) (saturates early)"))
_register(GanLoss("ns", d_logistic, g_nonsaturating, sigmoid=True,
                  help="non-saturating: G maximises log D(G(z)) (Goodfellow 2014's practical choice)"))
_register(GanLoss("ml", d_logistic, g_max_likelihood, sigmoid=True,
                  help="maximum-likelihood G loss -exp(logit)/2 (Goodfellow, arXiv 1412.6515)"))
_register(GanLoss("lsgan", d_least_squares, g_least_squares,
                  help="least squares (Mao 2017)"))
_register(GanLoss("wgan", d_wasserstein, g_wasserstein, clip=True,
                  defaults={"optim": {"name": "rmsprop", "lr_g": 5e-5, "lr_d": 5e-5, "d_steps": 5}},
                  help="Wasserstein with weight clipping (Arjovsky 2017): RMSprop 5e-5, 5 critic steps, clip 0.01"))
_register(GanLoss("wgan-gp", d_wasserstein, g_wasserstein,
                  defaults={"optim": {"lr_g": 1e-4, "lr_d": 1e-4, "beta1": 0.0, "beta2": 0.9, "d_steps": 5},
                            "loss": {"reg": "gp", "reg_weight": 10.0}, "net": {"d_norm": "ln"}},
                  help="Wasserstein + gradient penalty (Gulrajani 2017): Adam 1e-4 (0, 0.9), 5 critic steps, "
                       "lambda 10, layer norm in D"))
_register(GanLoss("hinge", d_hinge, g_wasserstein,
                  defaults={"optim": {"lr_g": 1e-4, "lr_d": 4e-4, "beta1": 0.0, "beta2": 0.9},
                            "net": {"d_norm": "sn"}},
                  help="hinge (Miyato 2018): spectral norm in D, TTUR lr 1e-4/4e-4, Adam (0, 0.9)"))


def loss_defaults(name: str) -> dict:
    return LOSSES.get(name).defaults if name in LOSSES else {}
