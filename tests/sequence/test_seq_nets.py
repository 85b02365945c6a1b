"""The sequence nets on sequence shapes (tests/test_nets.py runs them on images and 2D vectors too),
and the skeleton head's exact bone lengths."""
import itertools
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load, save
from torch.testing import assert_close

from gankit.config import NetConfig
from gankit.errors import GankitError
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


def test_plant_rebuilds_the_data_from_its_root_relative_poses():
    """The planted root follows the data's own rule: from each real clip's pose relative to the root
    (and its jump lift), `plant` gives back the clip itself, including its path over the ground."""
    from gankit.sequence.nets import plant

    x, y = sk.make_motion(16, seed=3)
    p = torch.tensor(x, dtype=torch.float64).view(16, -1, sk.J, 3)
    rel = p - p[:, :, :1]
    lift = p[:, :, 0, 1] - (sk.FOOT_HEIGHT - rel[:, :, list(sk.FEET), 1].min(-1).values)
    lift = torch.where(lift > 1e-6, lift, torch.zeros_like(lift))
    assert (lift > 0).any() and p[:, :, 0, [0, 2]].abs().max() > 0.5  # jumps leave the ground, walks travel
    assert_close(plant(rel, lift, sk.FEET, sk.FOOT_HEIGHT, 1), p, rtol=0, atol=1e-8)
    # a root that ignored the feet (kept at its first place) would be far off
    assert (plant(rel, lift, sk.FEET, sk.FOOT_HEIGHT, 1) - rel).abs().max() > 0.5


def test_planted_head_keeps_bones_and_feet_on_the_ground():
    from gankit.sequence.metrics import bone_metrics, foot_metrics

    torch.manual_seed(0)
    info = sk.skeleton_info()
    body, _ = NETS.get("seq-phase")(NetConfig(name="seq-phase", z_dim=8, g_width=8, d_width=8), (12, 51), 0)
    mid, half = np.full(51, 0.3), np.full(51, 2.0)
    G = SkeletonHead(body, info, mid, half, root="planted")
    p = (G(torch.randn(6, 8)).detach().double().numpy() * half + mid)  # (6, 12, 51) metres
    assert bone_metrics(p, info)["bone_error"] < 1e-5
    feet = p.reshape(6, 12, 17, 3)[:, :, list(sk.FEET)]
    assert (feet[..., 1].min(-1) >= sk.FOOT_HEIGHT - 1e-5).all()  # the lift is >= 0: no foot below the ground
    assert_close(torch.tensor(p.reshape(6, 12, 17, 3)[:, 0, 0, [0, 2]]), torch.zeros(6, 2, dtype=torch.float64),
                 rtol=0, atol=1e-5)  # every clip starts at the origin of the ground plane, as the data
    grounded = foot_metrics(p, info, 15.0)
    free = SkeletonHead(body, info, mid, half, root="free")
    free.facing = G.facing
    assert grounded["foot_skate"] < foot_metrics(free(torch.randn(6, 8)).detach().double().numpy() * half + mid,
                                                 info, 15.0)["foot_skate"]
    with pytest.raises(ValueError, match="root must be one of"):
        SkeletonHead(body, info, mid, half, root="floating")


def test_skeleton_view_feeds_d_the_pose_relative_to_the_root():
    from gankit.sequence.nets import SkeletonView

    class Probe(torch.nn.Module):  # a "D" that returns what it sees
        shape, num_classes = (5, 51), 0

        def forward(self, x, y=None, return_features=False):
            return x

    mid, half = np.linspace(-1, 1, 51), np.full(51, 3.0)
    view = SkeletonView(Probe(), mid, half, gain=2.0)
    x = torch.rand(2, 5, 51) * 2 - 1
    seen = view(x).view(2, 5, 17, 3)
    p = (x.double() * torch.tensor(half) + torch.tensor(mid)).view(2, 5, 17, 3)
    assert_close(seen[:, :, 0], x.view(2, 5, 17, 3)[:, :, 0])  # the root as normalised
    assert_close(seen[:, :, 1:].double(), 2.0 * (p[:, :, 1:] - p[:, :, :1]), rtol=1e-5, atol=1e-5)
    # moving the whole body over the ground changes only the root's view
    shifted = (p + torch.tensor([0.5, 0.0, -0.7], dtype=torch.float64)).view(2, 5, 51)
    moved = view(((shifted - torch.tensor(mid)) / torch.tensor(half)).float()).view(2, 5, 17, 3)
    assert_close(moved[:, :, 1:], seen[:, :, 1:], rtol=1e-4, atol=1e-4)
    assert not torch.allclose(moved[:, :, 0], seen[:, :, 0])


@pytest.mark.parametrize("clock_max", [0.0, 3.0])
def test_phase_generator_follows_its_clock(clock_max):
    """seq-phase: the per-step input is a function of the phase, so a clip generated with the frequency
    and phase fixed repeats itself one period later (here a period of 8 steps). A zero clock output is
    the start rate `base`, whatever the cap."""
    from gankit.sequence.nets import PhaseGenerator

    torch.manual_seed(0)
    G = PhaseGenerator(4, (40, 3), 8, kernel=1, base=2 * math.pi / 8, clock_max=clock_max)
    H = G.HARMONICS
    with torch.no_grad():
        G.code[-1].weight[:2].zero_()
        G.code[-1].bias[:2] = torch.tensor([0.0, 0.1])  # w = base, p0 = 0.1 pi
        G.body[0].weight[:, 2 * H: 2 * H + 2].zero_()  # mute the slow clock
    x = G(torch.randn(3, 4))  # (3, 40, 3)
    assert_close(x[:, 8:], x[:, :-8], rtol=0, atol=1e-5)
    assert not torch.allclose(x[:, 0], x[:, 4], atol=1e-3)  # ... and is not constant
    assert G.rate(torch.full((1,), 50.0)).item() == pytest.approx(clock_max or 2 * G.base)


def test_phase_generator_clock_max_below_its_start_rate_is_refused():
    from gankit.sequence.nets import PhaseGenerator

    with pytest.raises(GankitError, match="clock_max"):
        PhaseGenerator(4, (40, 3), 8, clock_max=0.3)


def test_rotation_pose_is_the_datas_forward_kinematics():
    """pose="rotations": positions are sk.forward_kinematics of the local rotations ROTATION * out, so
    bones keep their lengths and the bones hanging from one joint keep their angles (the hips stay
    0.18 m apart), which independent bone directions do not."""
    from gankit.sequence.nets import ROTATION, axis_angle

    torch.manual_seed(0)
    info = sk.skeleton_info()
    mid, half = np.zeros(51), np.ones(51)
    body, _ = NETS.get("seq-phase")(NetConfig(name="seq-phase", z_dim=8, g_width=8, d_width=8), (6, 51), 0)
    with torch.no_grad():  # large outputs: bent, twisted poses far from the rest pose
        body.body[-1].weight.mul_(20)
    raw = body(torch.randn(3, 8)).detach().view(3, 6, 17, 3).double()
    head = SkeletonHead(body, info, mid, half, root="planted", pose="rotations").double()
    want = sk.forward_kinematics(axis_angle(ROTATION * raw).numpy())  # (3, 6, J, 3), root at 0
    assert_close(head._kinematics(raw), torch.tensor(want), rtol=0, atol=1e-6)  # (float32 offsets)
    hips = [sk.NAMES.index("l_hip"), sk.NAMES.index("r_hip")]
    width = np.linalg.norm(np.diff(want[:, :, hips], axis=2), axis=-1)
    assert np.abs(width - 0.18).max() < 1e-6
    directions = SkeletonHead(body, info, mid, half, root="planted", pose="directions").double()
    p = directions(torch.randn(3, 8, dtype=torch.float64)).detach().view(3, 6, 17, 3).numpy()
    assert np.abs(np.linalg.norm(np.diff(p[:, :, hips], axis=2), axis=-1) - 0.18).max() > 0.01
    x = head(torch.randn(4, 8, dtype=torch.float64)).detach().numpy()
    assert bone_lengths_ok(x, info)
    assert_close(axis_angle(torch.zeros(2, 3)), torch.eye(3).expand(2, 3, 3))
    r = torch.tensor([0.0, 0.0, math.pi / 2])  # a quarter turn about z takes x to y
    assert_close(axis_angle(r) @ torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0]), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="pose must be one of"):
        SkeletonHead(body, info, mid, half, pose="quaternions")


def bone_lengths_ok(x, info) -> bool:
    from gankit.sequence.metrics import bone_metrics

    return bone_metrics(x, info)["bone_error"] < 1e-5


def test_extra_views_add_the_clip_as_given_and_the_bone_directions():
    from gankit.sequence.nets import SkeletonView

    class Probe(torch.nn.Module):
        num_classes = 0

        def __init__(self, features):
            super().__init__()
            self.shape = (5, features)

        def forward(self, x, y=None, return_features=False):
            return x

    mid, half = np.zeros(51), np.ones(51)
    parents = [j[1] for j in sk.JOINTS]
    view = SkeletonView(Probe(51 + 48 + 51), mid, half, gain=2.0, extra=("world", "bones"), parents=parents)
    assert view.shape == (5, 51)  # what it takes; its body sees the three views
    lengths = torch.tensor(np.linalg.norm(sk.OFFSETS, axis=1), dtype=torch.float32)
    unit = torch.nn.functional.normalize(torch.randn(2, 5, 17, 3), dim=-1)
    pos = [torch.zeros(2, 5, 3)]  # a random pose with the skeleton's bone lengths
    for j in range(1, 17):
        pos.append(pos[parents[j]] + lengths[j] * unit[:, :, j])
    x = torch.stack(pos, 2).reshape(2, 5, 51)
    seen = view(x)
    assert seen.shape == (2, 5, 150)
    assert_close(seen[:, :, :51], SkeletonView(Probe(51), mid, half, gain=2.0).view(x))
    assert_close(seen[:, :, 51:99].reshape(2, 5, 16, 3), unit[:, :, 1:])  # bone directions, in order
    assert_close(seen[:, :, 99:], x)
    with pytest.raises(ValueError, match="unknown views"):
        SkeletonView(Probe(51), mid, half, extra=("velocity",))
    with pytest.raises(ValueError, match="its D takes"):
        SkeletonView(Probe(51), mid, half, extra=("world",))


def _harmonic(base: float, pick: int) -> torch.nn.Module:
    """A seq-harmonic G whose MLP says: w = base, p0 = 0, and for every feature coefficient 1 on basis
    function `pick` (0 constant, 1..K cosines, K+1..2K sines, then the trends) and 0 elsewhere."""
    from gankit.sequence.nets import HarmonicGenerator

    G = HarmonicGenerator(8, (20, 3), 8, base=base)
    last = G.mlp[-1]
    torch.nn.init.zeros_(last.weight)
    bias = torch.zeros(2 + 3 * G.B)
    bias[2:].view(3, G.B)[:, pick] = 1.0
    with torch.no_grad():
        last.bias.copy_(bias)
    return G


def test_harmonic_generator_is_a_fourier_series_in_its_phase():
    t = torch.arange(20.0)
    out = _harmonic(0.3, 2)(torch.randn(4, 8))  # the second cosine: cos(2 * 0.3 t)
    assert_close(out, torch.tanh(torch.cos(0.6 * t))[None, :, None].expand(4, 20, 3))
    K = 4
    trend = _harmonic(0.3, 1 + 2 * K)(torch.randn(2, 8))  # the first trend: half a cosine over the clip
    assert_close(trend[0, :, 0], torch.tanh(torch.cos(math.pi * t / 19)))


def test_harmonic_generator_fades_harmonics_that_would_jitter():
    # w = 1 rad per step: the 3rd and 4th harmonics (3 and 4 rad: periods of ~2 frames) are gone, the 1st is whole
    for k in (3, 4):
        assert _harmonic(1.0, k)(torch.randn(3, 8)).abs().max() == 0
    assert_close(_harmonic(1.0, 1)(torch.randn(3, 8))[0, :, 0], torch.tanh(torch.cos(torch.arange(20.0))))


def test_cycle_rate_finds_a_clips_frequency_under_a_trend():
    """cycle_rate: the dominant frequency of each clip, whatever its straight-line trend (a walk's travel)."""
    from gankit.sequence.nets import cycle_rate

    t = torch.arange(48, dtype=torch.float64)
    rates = torch.tensor([0.3, 0.6, 1.2], dtype=torch.float64)
    x = torch.stack([torch.sin(rates[:, None] * t + 1.0), 0.5 * torch.cos(rates[:, None] * t),
                     0.2 * t.expand(3, -1)], 2)  # (3, 48, 3): two cyclic features and a strong trend
    assert_close(cycle_rate(x), rates, rtol=0, atol=0.04)


def test_direct_clock_is_z_itself_and_the_code_net_does_not_see_it():
    """clock_from_z: z[:, 0] sets the clock through rate (clock_code inverts it) and z[:, 1] the phase;
    the code c comes from the other entries alone."""
    from gankit.sequence.nets import PhaseGenerator

    torch.manual_seed(0)
    G = PhaseGenerator(6, (32, 3), 8, num_classes=2, direct=True)
    w = torch.tensor([0.1, 0.4, 0.7])
    z = torch.randn(3, 6)
    z[:, 0] = G.clock_code(w)
    y = torch.tensor([0, 1, 1])
    rate, p0, c = G.clock(z, y)
    assert_close(rate[:, 0], w)
    assert_close(p0[:, 0], math.pi * z[:, 1])
    moved = z.clone()
    moved[:, :2] = torch.randn(3, 2)
    assert torch.equal(G.clock(moved, y)[2], c) and not torch.allclose(G(moved, y), G(z, y))
    with pytest.raises(GankitError, match="z_dim"):
        PhaseGenerator(2, (32, 3), 8, direct=True)
