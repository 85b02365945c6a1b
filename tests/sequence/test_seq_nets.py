"""The sequence nets on sequence shapes (tests/test_nets.py runs them on images and 2D vectors too),
and the skeleton head's exact bone lengths."""
import itertools

import numpy as np
import pytest
import torch
from safetensors.torch import load, save
from torch.testing import assert_close

from gankit.config import NetConfig
from gankit.registry import NETS
from gankit.sequence import skeleton as sk
from gankit.sequence.nets import SkeletonHead, from_seq, to_seq

K = 4
SEQ_NETS = [n for n in NETS.names() if NETS.entry(n).meta.get("sequence")]


def cases():
    out = []
    for name, shape, d_norm in itertools.product(SEQ_NETS, [(24, 5), (7, 1), (32, 51)], ["none", "bn", "ln", "sn"]):
        out.append((name, NetConfig(name=name, z_dim=8, g_width=8, d_width=8, d_norm=d_norm, g_norm="none"), shape))
    for name, cond in itertools.product(SEQ_NETS, ["projection", "concat"]):
        out.append((name, NetConfig(name=name, z_dim=8, g_width=8, d_width=8, conditional=True, d_cond=cond,
                                    minibatch_disc=3, dropout=0.2, layers=1), (16, 3)))
    return out


CASES = cases()
IDS = [f"{n}-{'x'.join(map(str, s))}-{c.d_norm}-{'c' + c.d_cond if c.conditional else 'u'}" for n, c, s in CASES]


def test_every_sequence_net_is_registered():
    assert {"seq-gru", "seq-lstm", "seq-tcn"} <= set(SEQ_NETS)


@pytest.mark.parametrize("name,cfg,shape", CASES, ids=IDS)
class TestSequenceNet:
    def build(self, name, cfg, shape, seed=0):
        torch.manual_seed(seed)
        return NETS.get(name)(cfg, shape, K)

    def test_shapes_range_and_finite_logits(self, name, cfg, shape):
        G, D = self.build(name, cfg, shape)
        y = torch.arange(6) % K if cfg.conditional else None
        x = G(torch.randn(6, cfg.z_dim), y)
        assert x.shape == (6, *shape)
        assert x.abs().max() <= 1  # normalised sequences live in [-1, 1]
        logits, feats = D(x, y, return_features=True)
        assert logits.shape == (6,) and feats.shape[0] == 6 and torch.isfinite(logits).all()

    def test_gradients_reach_every_parameter(self, name, cfg, shape):
        G, D = self.build(name, cfg, shape)
        y = torch.arange(6) % K if cfg.conditional else None
        D(G(torch.randn(6, cfg.z_dim), y), y).sum().backward()
        for net in (G, D):
            missing = [n for n, p in net.named_parameters() if p.grad is None]
            assert not missing, missing

    def test_seeded_and_round_tripped(self, name, cfg, shape):
        (G1, D1), (G2, D2), (G3, _) = (self.build(name, cfg, shape, s) for s in (3, 3, 4))
        z = torch.randn(4, cfg.z_dim)
        y = torch.arange(4) if cfg.conditional else None
        assert_close(G1(z, y), G2(z, y), rtol=0, atol=0)
        assert not torch.equal(G1(z, y), G3(z, y))
        for a, b in ((G1, G3), (D1, D2)):
            b.load_state_dict(load(save({k: v.contiguous() for k, v in a.state_dict().items()})))
        for net in (G1, G3, D1, D2):
            net.eval()
        assert_close(G1(z, y), G3(z, y), rtol=0, atol=0)
        x = G1(z, y)
        assert_close(D1(x, y), D2(x, y), rtol=0, atol=0)


def test_the_recurrent_d_sees_the_time_order():
    """Reversing a sequence changes D's logit (a bag-of-steps D could not tell)."""
    torch.manual_seed(0)
    for name in SEQ_NETS:
        _, D = NETS.get(name)(NetConfig(name=name, z_dim=8, g_width=8, d_width=8, d_norm="none"), (12, 2), 0)
        x = torch.randn(3, 12, 2)
        assert not torch.allclose(D(x), D(x.flip(1))), name


def test_to_seq_from_seq_round_trip():
    for shape in [(3, 8, 5), (10,), (6, 4)]:
        x = torch.randn(2, *shape)
        assert torch.equal(from_seq(to_seq(x, shape), shape), x)
    img = torch.randn(2, 3, 8, 5)
    assert torch.equal(to_seq(img, (3, 8, 5))[:, 4], img[:, :, 4].reshape(2, 15))  # step t = image row t


@pytest.mark.parametrize("name", SEQ_NETS)
def test_skeleton_head_makes_exact_bone_lengths(name):
    torch.manual_seed(0)
    info = sk.skeleton_info()
    body, _ = NETS.get(name)(NetConfig(name=name, z_dim=8, g_width=8, d_width=8), (10, 51), 0)
    mid, half = np.full(51, 0.3), np.full(51, 2.0)
    G = SkeletonHead(body, info, mid, half)
    x = G(torch.randn(5, 8)).detach().double().numpy()  # normalised (5, 10, 51)
    p = (x * half + mid).reshape(5, 10, 17, 3)
    parents = np.array(info["parents"])
    lengths = np.linalg.norm(p[:, :, 1:] - p[:, :, parents[1:]], axis=-1)
    true = np.linalg.norm(np.array(sk.OFFSETS)[1:], axis=1)
    np.testing.assert_allclose(lengths, np.broadcast_to(true, lengths.shape), rtol=1e-5)
    # beyond the body's weights, only the facing map is saved (the skeleton comes from the data info)
    assert G.state_dict().keys() - set(f"body.{k}" for k in body.state_dict()) == {"facing.weight", "facing.bias"}
    with pytest.raises(ValueError, match="skeleton head"):
        SkeletonHead(NETS.get(name)(NetConfig(name=name, z_dim=8, g_width=8, d_width=8), (10, 6), 0)[0], info,
                     mid[:6], half[:6])
