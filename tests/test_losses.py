"""Each loss against its formula on hand-picked logits: values and gradient directions."""
import math

import pytest
import torch
from torch.testing import assert_close

from gankit.registry import LOSSES

REAL = torch.tensor([2.0, -1.0, 0.5])
FAKE = torch.tensor([-3.0, 0.0, 1.5])


def sig(x):
    return 1.0 / (1.0 + math.exp(-x))


def mean(xs):
    return sum(xs) / len(xs)


def test_every_loss_is_registered():
    assert set(LOSSES.names()) >= {"minimax", "ns", "ml", "lsgan", "wgan", "wgan-gp", "hinge"}


@pytest.mark.parametrize("name", ["minimax", "ns", "ml"])
def test_logistic_d_loss_is_binary_cross_entropy(name):
    L = LOSSES.get(name)
    expect = -mean([math.log(sig(r)) for r in REAL.tolist()]) - mean([math.log(1 - sig(f)) for f in FAKE.tolist()])
    assert_close(L.d(REAL, FAKE), torch.tensor(expect))


def test_one_sided_label_smoothing_targets_09_for_real_only():
    L = LOSSES.get("ns")
    s = 0.1
    expect = mean([-(0.9 * math.log(sig(r)) + 0.1 * math.log(1 - sig(r))) for r in REAL.tolist()]) \
        - mean([math.log(1 - sig(f)) for f in FAKE.tolist()])
    assert_close(L.d(REAL, FAKE, s), torch.tensor(expect))
    # fake term unchanged: smoothing does not touch the fake targets (one-sided)
    only_fake = L.d(torch.full((3,), 50.0), FAKE, s) - L.d(torch.full((3,), 50.0), FAKE, 0.0)
    assert only_fake.item() == pytest.approx(0.1 * 50.0, rel=1e-4)


def test_g_losses_match_their_formulas():
    f = FAKE
    assert_close(LOSSES.get("minimax").g(f), torch.tensor(mean([math.log(1 - sig(x)) for x in f.tolist()])))
    assert_close(LOSSES.get("ns").g(f), torch.tensor(-mean([math.log(sig(x)) for x in f.tolist()])))
    # maximum likelihood: -1/2 E[ D / (1 - D) ] = -1/2 E[exp(logit)]
    assert_close(LOSSES.get("ml").g(f), torch.tensor(-0.5 * mean([sig(x) / (1 - sig(x)) for x in f.tolist()])))
    assert_close(LOSSES.get("lsgan").g(f), torch.tensor(0.5 * mean([(x - 1) ** 2 for x in f.tolist()])))
    assert_close(LOSSES.get("wgan").g(f), torch.tensor(-mean(f.tolist())))
    assert_close(LOSSES.get("hinge").g(f), torch.tensor(-mean(f.tolist())))


def test_d_losses_match_their_formulas():
    r, f = REAL.tolist(), FAKE.tolist()
    assert_close(LOSSES.get("lsgan").d(REAL, FAKE),
                 torch.tensor(0.5 * mean([(x - 1) ** 2 for x in r]) + 0.5 * mean([x ** 2 for x in f])))
    assert_close(LOSSES.get("wgan").d(REAL, FAKE), torch.tensor(mean(f) - mean(r)))
    assert_close(LOSSES.get("wgan-gp").d(REAL, FAKE), torch.tensor(mean(f) - mean(r)))
    assert_close(LOSSES.get("hinge").d(REAL, FAKE),
                 torch.tensor(mean([max(0, 1 - x) for x in r]) + mean([max(0, 1 + x) for x in f])))


def _grad(fn, logits):
    x = logits.clone().requires_grad_(True)
    fn(x).backward()
    return x.grad


def test_saturating_vs_nonsaturating_gradients_when_d_rejects_fakes():
    """At D(G(z)) ~ 0 (logit -10) the minimax G gradient vanishes, the non-saturating one does not."""
    f = torch.tensor([-10.0])
    g_mm = _grad(LOSSES.get("minimax").g, f)
    g_ns = _grad(LOSSES.get("ns").g, f)
    assert abs(g_mm.item()) < 1e-4  # d/dl log(1 - sigmoid(l)) = -sigmoid(l) ~ -4.5e-5
    assert g_ns.item() == pytest.approx(-(1 - sig(-10.0)), rel=1e-5)  # ~ -1
    # both push the logit up (descent direction raises D(G(z)))
    assert g_mm.item() < 0 and g_ns.item() < 0


def test_ml_gradient_is_weighted_by_odds():
    f = torch.tensor([-2.0, 0.0, 2.0])
    g = _grad(LOSSES.get("ml").g, f)
    # d/dl [-1/2 e^l / n] = -e^l / (2n): larger where D already believes the sample
    assert_close(g, -torch.exp(f) / (2 * 3))


@pytest.mark.parametrize("name", ["minimax", "ns", "ml", "lsgan", "wgan", "wgan-gp", "hinge"])
def test_gradient_signs(name):
    """Descending D's loss raises real logits and lowers fake logits; G's loss raises fake logits."""
    L = LOSSES.get(name)
    r = torch.tensor([0.1, -0.2]).requires_grad_(True)
    f = torch.tensor([0.2, 0.4]).requires_grad_(True)  # above LSGAN's fake target 0
    L.d(r, f).backward()
    assert (r.grad < 0).all() and (f.grad > 0).all()
    assert (_grad(L.g, torch.tensor([0.2, -0.1])) < 0).all()  # below LSGAN's target 1


def test_losses_are_finite_for_extreme_logits():
    big = torch.tensor([80.0, -80.0])
    for e in LOSSES:
        assert torch.isfinite(e.obj.d(big, -big)) and torch.isfinite(e.obj.g(big)), e.name


def test_defaults_are_applied_and_overridable():
    from gankit.config import build_config

    cfg = build_config(None, {"loss.name": "wgan-gp"})
    assert (cfg.optim.d_steps, cfg.loss.reg, cfg.optim.beta1, cfg.net.d_norm) == (5, "gp", 0.0, "ln")
    cfg = build_config(None, {"loss.name": "wgan-gp"}, ["optim.d_steps=2"])
    assert cfg.optim.d_steps == 2
    cfg = build_config(None, {"loss.name": "wgan"})
    assert cfg.optim.name == "rmsprop" and cfg.optim.lr_d == 5e-5
