"""Shared checks over every registered net family and its variants (a diffusers-style mixin)."""
import itertools
import io

import pytest
import torch
from safetensors.torch import load, save
from torch.testing import assert_close

from gankit.config import NetConfig
from gankit.registry import NETS

K = 10  # classes


def variants(name):
    """(NetConfig, data shape) pairs that every net family must handle."""
    shapes = [(1, 28, 28), (3, 32, 32), (1, 64, 64)] + ([(2,)] if NETS.entry(name).meta["sizes"] is None else [])
    norms = NETS.entry(name).meta["d_norms"]
    out = []
    for shape, d_norm in itertools.product(shapes, norms):
        out.append((NetConfig(name=name, z_dim=8, g_width=8, d_width=8, d_norm=d_norm), shape))
    for cond, mbd in itertools.product(["projection", "concat"], [0, 3]):
        out.append((NetConfig(name=name, z_dim=8, g_width=8, d_width=8, conditional=True, d_cond=cond,
                              minibatch_disc=mbd, d_norm=norms[-1]), (1, 28, 28)))
    out.append((NetConfig(name=name, z_dim=8, g_width=8, d_width=8, g_norm="none", dropout=0.3, d_norm=norms[-1]),
                (3, 32, 32)))
    return out


GAN_NETS = [e.name for e in NETS if e.meta.get("gan")]  # G(z, y) / D(x, y) nets; families test their own
CASES = [(n, c, s) for n in GAN_NETS for c, s in variants(n)]
IDS = [f"{n}-{'x'.join(map(str, s))}-{c.d_norm}-{'c' + c.d_cond if c.conditional else 'u'}-mbd{c.minibatch_disc}"
       f"-g{c.g_norm}" for n, c, s in CASES]


def build(name, cfg, shape, seed=0):
    torch.manual_seed(seed)
    return NETS.get(name)(cfg, shape, K)


@pytest.mark.parametrize("name,cfg,shape", CASES, ids=IDS)
class TestNet:
    def test_shapes_and_range(self, name, cfg, shape):
        G, D = build(name, cfg, shape)
        z = torch.randn(6, cfg.z_dim)
        y = torch.arange(6) % K if cfg.conditional else None
        x = G(z, y)
        assert x.shape == (6, *shape)
        if len(shape) == 3:
            assert x.min() >= -1 and x.max() <= 1  # tanh images
        logits, feats = D(x, y, return_features=True)
        assert logits.shape == (6,) and feats.shape[0] == 6 and feats.dim() == 2
        assert torch.isfinite(logits).all()

    def test_gradients_reach_every_parameter(self, name, cfg, shape):
        G, D = build(name, cfg, shape)
        y = torch.arange(6) % K if cfg.conditional else None
        D(G(torch.randn(6, cfg.z_dim), y), y).sum().backward()
        for net in (G, D):
            missing = [n for n, p in net.named_parameters() if p.grad is None]
            assert not missing, missing

    def test_seeded_construction_is_deterministic(self, name, cfg, shape):
        G1, D1 = build(name, cfg, shape, seed=3)
        G2, D2 = build(name, cfg, shape, seed=3)
        G3, _ = build(name, cfg, shape, seed=4)
        z = torch.randn(4, cfg.z_dim)
        y = torch.arange(4) if cfg.conditional else None
        assert_close(G1(z, y), G2(z, y), rtol=0, atol=0)
        assert not torch.equal(G1(z, y), G3(z, y))

    def test_safetensors_round_trip(self, name, cfg, shape):
        G, D = build(name, cfg, shape, seed=1)
        G2, D2 = build(name, cfg, shape, seed=2)
        for a, b in ((G, G2), (D, D2)):
            blob = save({k: v.contiguous() for k, v in a.state_dict().items()})
            b.load_state_dict(load(blob))
        G.eval(), G2.eval(), D.eval(), D2.eval()
        z = torch.randn(4, cfg.z_dim)
        y = torch.arange(4) if cfg.conditional else None
        assert_close(G(z, y), G2(z, y), rtol=0, atol=0)
        x = G(z, y)
        assert_close(D(x, y), D2(x, y), rtol=0, atol=0)


def test_dcgan_at_64_matches_the_canonical_shapes():
    """Radford et al.'s 64px G: z -> 4x4x(8w) -> 8x8x(4w) -> 16x16x(2w) -> 32x32xw -> 64x64xC."""
    G, D = NETS.get("dcgan")(NetConfig(z_dim=100, g_width=64, d_width=64), (3, 64, 64), 0)
    convs = [m for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [m.out_channels for m in convs] == [512, 256, 128, 64, 3]
    g_params = sum(p.numel() for p in G.parameters())
    assert g_params == 3_576_704  # the pytorch/examples DCGAN generator's parameter count at nz=100, ngf=64
    d_params = sum(p.numel() for p in D.parameters())
    assert d_params == 2_765_568 + 1  # the canonical D's count, plus the bias of our linear head


def test_conditional_nets_need_labels():
    G, D = NETS.get("dcgan")(NetConfig(z_dim=8, g_width=8, d_width=8, conditional=True), (1, 28, 28), K)
    with pytest.raises(ValueError, match="labels"):
        G(torch.randn(2, 8))


def test_spectral_norm_bounds_d_weights():
    _, D = NETS.get("dcgan")(NetConfig(z_dim=8, g_width=8, d_width=8, d_norm="sn"), (1, 32, 32), 0)
    D.train()
    for _ in range(30):  # power iterations converge during forward passes
        D(torch.randn(4, 1, 32, 32))
    lin = D.head.linear
    sigma = torch.linalg.matrix_norm(lin.weight.detach(), ord=2)
    assert sigma.item() == pytest.approx(1.0, abs=0.05)


def test_concat_conditioning_uses_the_label():
    torch.manual_seed(0)
    _, D = NETS.get("dcgan")(NetConfig(z_dim=8, g_width=8, d_width=8, conditional=True, d_cond="concat",
                                       d_norm="none"), (1, 28, 28), K)
    x = torch.randn(1, 1, 28, 28)
    assert not torch.equal(D(x, torch.tensor([0])), D(x, torch.tensor([1])))


def test_every_gan_net_is_covered():
    assert {"mlp", "dcgan", "resnet"} <= set(GAN_NETS)


def test_resnet_rejects_batchnorm_in_d():
    from gankit.errors import GankitError

    with pytest.raises(GankitError, match="d_norm=sn or none"):
        NETS.get("resnet")(NetConfig(name="resnet", d_norm="bn"), (3, 32, 32), 0)
