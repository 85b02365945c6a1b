"""GLO on the sequence objective: the learned codes, the code search, the mixture G samples from,
training without D, exact resume and the configuration errors."""
import json

import numpy as np
import pytest
import torch

from gankit.data import BatchStream, load_data
from gankit.errors import GankitError
from gankit.model import Generator
from gankit.sequence import skeleton as sk
from gankit.sequence.nets import LatentCodes, MixtureSampler, ResidualBody, SkeletonHead
from gankit.sequence.objective import same_class
from gankit.training import checkpoint as ck
from gankit.training.loop import Trainer

from test_seq_training import finite, seq_config

GLO = {"sequence.glo_weight": 1.0, "sequence.adversarial_weight": 0.0, "sequence.glo_components": 2}


class Identity(torch.nn.Module):
    """A 'generator' that returns its code: what the mixture hands G is then visible."""
    z_dim, num_classes, shape = 3, 2, (3,)

    def forward(self, z, y=None):
        return z


def test_batches_carry_their_indices():
    data = load_data(seq_config(**{"data.spec": "motion:test"}).data, None, log=lambda m: None)
    b = BatchStream(data, 16, seed=3, device=torch.device("cpu")).next()
    assert b.idx.shape == (16,) and len(set(b.idx.tolist())) == 16
    assert torch.equal(b.x, data.x[b.idx].float()) and torch.equal(b.y, data.y[b.idx])


def test_codes_scale_assign_and_same_class_picks():
    C = LatentCodes(10, 4)
    idx = torch.tensor([1, 5])
    assert torch.allclose(C(idx), C.SCALE * C.weight[idx])
    C.assign(idx, torch.ones(2, 4))
    assert torch.allclose(C(idx), torch.ones(2, 4))
    labels = torch.tensor([0, 1] * 5)
    torch.manual_seed(0)
    pick = same_class(labels, torch.tensor([0, 1, 1, 0] * 50))
    assert torch.equal(labels[pick], torch.tensor([0, 1, 1, 0] * 50)) and len(pick.unique()) == 10


def test_mixture_starts_as_the_prior_then_matches_the_codes_it_was_fitted_to():
    M = MixtureSampler(Identity(), classes=2, components=2)
    assert M.z_dim == 4
    z = torch.randn(6, 4)
    assert torch.allclose(M(z, torch.tensor([0, 1] * 3)), z[:, 1:])  # before fit: N(0, I)
    g = torch.Generator().manual_seed(0)
    # class 0: 80% around (4, 0, 0) with std 0.5, 20% around (-4, 0, 0); class 1: around (0, 10, 0), std 2
    a = torch.randn(4000, 3, generator=g) * 0.5 + torch.tensor([4.0, 0, 0])
    a[:800, 0] -= 8.0
    b = torch.randn(4000, 3, generator=g) * 2.0 + torch.tensor([0, 10.0, 0])
    M.fit(torch.cat([a, b]), torch.cat([torch.zeros(4000), torch.ones(4000)]).long())
    z = torch.randn(20000, 4, generator=g)
    s0, s1 = M(z, torch.zeros(20000).long()), M(z, torch.ones(20000).long())
    assert abs((s0[:, 0] < 0).float().mean().item() - 0.2) < 0.02  # the weights pick the components
    near = s0[s0[:, 0] > 0]
    assert torch.allclose(near.mean(0), torch.tensor([4.0, 0, 0]), atol=0.05)
    assert torch.allclose(near.std(0), torch.full((3,), 0.5), atol=0.03)
    assert torch.allclose(s1.mean(0), torch.tensor([0, 10.0, 0]), atol=0.1)
    assert torch.allclose(s1.std(0), torch.full((3,), 2.0), atol=0.1)
    assert torch.equal(M(z[:5], torch.ones(5).long()), s1[:5])  # a function of z


def test_glo_without_d_learns_to_rebuild_the_training_clips(tmp_path):
    settings = {**GLO, "train.steps": 150, "train.log_every": 150, "net.g_width": 32, "train.batch_size": 32,
                "optim.beta1": 0.9, "sequence.glo_search_every": 30, "net.name": "seq-phase", "data.limit": 128}
    t = Trainer(seq_config(**settings), tmp_path)
    obj, x = t.objective, t.data.x.float()
    assert [p.name for p in obj.phases()] == ["G"] and obj.z_dim == 9
    g_params = {id(p) for p in t.opts["G"].param_groups[0]["params"]}
    assert id(obj.nets["C"].weight) in g_params  # codes train with G, from one optimiser
    d_before = [p.detach().clone() for p in obj.nets["D"].parameters()]

    def error() -> float:
        with torch.no_grad():
            return (obj.nets["G"].body(obj.nets["C"](torch.arange(len(x)))) - x).square().mean().item()

    start = error()
    s = t.run()
    assert finite(s) and "loss/G_glo" in s["last"] and "loss/D" not in s["last"]
    assert error() < 0.35 * start
    assert all(torch.equal(a, b) for a, b in zip(d_before, obj.nets["D"].parameters()))  # D never trained
    # the mixture was fitted to the final codes: its mean is theirs
    G = obj.nets["G"]
    w = torch.diff(G.cum_weights[0], prepend=torch.zeros(1))
    codes = obj.nets["C"](torch.arange(len(x)))
    assert torch.allclose((w[:, None] * G.means[0]).sum(0), codes.mean(0), atol=0.05)


def test_code_search_only_ever_lowers_each_clips_error(tmp_path):
    t = Trainer(seq_config(**GLO, **{"net.g_norm": "none", "data.limit": 600}), tmp_path)
    obj = t.objective
    x, C, body = t.data.x.float(), obj.nets["C"], obj.nets["G"].body
    every = torch.arange(len(x))

    def errors():
        with torch.no_grad():
            return obj._glo_error(body(C(every)), x, obj._view(x))

    before = errors()
    torch.manual_seed(0)
    share = obj._glo_search(chunk=256)
    after = errors()
    assert (after <= before + 1e-6).all()  # a clip keeps its code unless another one fits it better
    moved = after < before - 1e-6
    assert moved.sum() >= 100 and share == pytest.approx(moved.float().mean().item(), abs=0.01)


def test_glo_with_the_adversary_trains_both_terms(tmp_path):
    s = Trainer(seq_config(**{**GLO, "sequence.adversarial_weight": 0.5, "train.steps": 2}), tmp_path).run()
    assert finite(s) and {"loss/D", "loss/G", "loss/G_glo"} <= set(s["last"])


def test_resume_with_codes_search_and_mixture_is_bit_identical(tmp_path):
    settings = {**GLO, "train.steps": 4, "train.ckpt_every": 2, "sequence.glo_search_every": 1,
                "sequence.moment_weight": 1.0, "data.limit": 48, "sequence.glo_residual": 2,
                "sequence.glo_residual_start": 0.0}
    Trainer(seq_config(**settings), tmp_path / "full").run()
    Trainer(seq_config(**{**settings, "train.steps": 2}), tmp_path / "part").run()
    Trainer.resume(tmp_path / "part", steps=4).run()
    a, _ = ck.load_checkpoint(ck.latest_checkpoint(tmp_path / "full"))
    b, _ = ck.load_checkpoint(ck.latest_checkpoint(tmp_path / "part"))
    assert {"nets.C.weight", "nets.G.means", "nets.G.chol", "nets.G.res_chol"} <= a.keys() and a.keys() == b.keys()
    assert a["nets.G.means"].abs().sum() > 0 and a["nets.G.res_mean"].abs().sum() > 0  # fitted
    for k in a:
        assert torch.equal(a[k], b[k]), k
    g = Generator.load(tmp_path / "full", device="cpu")
    x = g.sample(3, seed=0)
    assert x.shape == (3, 24, 5) and torch.equal(x, g.sample(3, seed=0))


class Flat(torch.nn.Module):
    """A body that ignores its code: (T, F) zeros, so a residual's offset is all there is to see."""
    z_dim, num_classes, shape = 2, 0, (16, 3)

    def forward(self, z, y=None):
        return z.new_zeros(len(z), *self.shape) + 0 * z.sum()


def test_residual_is_a_slow_cosine_series_linear_in_its_code():
    R = ResidualBody(Flat(), terms=3)
    assert R.code_dim == 2 and R.z_dim == 2 + 3 * 3
    z = torch.zeros(4, R.z_dim)
    assert torch.equal(R(z), torch.zeros(4, 16, 3))
    z[0, 2 + 1 * 3 + 0] = 1.0  # feature 1, the constant term: GAIN on every step of that feature only
    z[1, 2 + 2 * 3 + 2] = 2.0  # feature 2, cos(2 pi (t + 1/2) / T): one full cycle over the clip
    out = R(z)
    assert torch.allclose(out[0, :, 1], torch.full((16,), R.GAIN)) and out[0, :, [0, 2]].abs().max() == 0
    t = torch.arange(16) + 0.5
    assert torch.allclose(out[1, :, 2], 2 * R.GAIN * torch.cos(2 * torch.pi * t / 16), atol=1e-7)
    a, b = torch.randn(2, R.z_dim), torch.randn(2, R.z_dim)
    assert torch.allclose(R(a + b), R(a) + R(b), atol=1e-7)  # linear (the body here is 0)
    # a residual's frame-to-frame change is small next to its size: the offset is smooth in time
    w = R(torch.randn(500, R.z_dim))
    assert (w.diff(dim=1).abs().mean() < 0.25 * w.abs().mean()).item()


def test_residual_behind_a_skeleton_head_keeps_bone_lengths_exact():
    from gankit.registry import NETS
    from gankit.config import NetConfig
    from gankit.sequence.metrics import bone_metrics

    torch.manual_seed(0)
    info = sk.skeleton_info()
    body, _ = NETS.get("seq-phase")(NetConfig(name="seq-phase", z_dim=8, g_width=8, d_width=8), (12, 51), 0)
    mid, half = np.full(51, 0.3), np.full(51, 2.0)
    G = SkeletonHead(ResidualBody(body, 4), info, mid, half, root="planted")
    assert G.code_dim == 8 and G.z_dim == 8 + 51 * 4 and G.facing.in_features == 8
    z = torch.randn(6, G.z_dim)
    z0 = torch.cat([z[:, :8], torch.zeros(6, 51 * 4)], 1)
    p = G(z).detach().double().numpy() * half + mid
    assert bone_metrics(p, info)["bone_error"] < 1e-5
    moved = (G(z) - G(z0)).abs().mean().item()
    assert 1e-3 < moved < 0.1  # the residual moves the pose a little, never the bone lengths


def test_mixture_draws_the_residual_from_its_codes_gaussian():
    R = ResidualBody(Flat(), terms=1)  # code 2 + residual 3
    M = MixtureSampler(R, classes=2, components=1)
    assert M.code_dim == 2 and M.z_dim == 1 + 2 + 3
    g = torch.Generator().manual_seed(0)
    cov = torch.tensor([[1.0, 0.8, 0.0], [0.8, 1.0, 0.0], [0.0, 0.0, 0.25]])
    r = torch.randn(6000, 3, generator=g) @ torch.linalg.cholesky(cov).T
    r[3000:] += torch.tensor([2.0, 0.0, -1.0])  # class 1's residuals sit elsewhere
    codes = torch.cat([torch.randn(6000, 2, generator=g), r], 1)
    labels = torch.cat([torch.zeros(3000), torch.ones(3000)]).long()
    M.fit(codes, labels)
    z = torch.randn(20000, M.z_dim, generator=g)
    s0, s1 = M.code(z, torch.zeros(20000).long())[:, 2:], M.code(z, torch.ones(20000).long())[:, 2:]
    assert torch.allclose(torch.cov(s0.T), cov, atol=0.06)
    assert torch.allclose(s1.mean(0), torch.tensor([2.0, 0.0, -1.0]), atol=0.06)
    assert torch.allclose(s0.mean(0), torch.zeros(3), atol=0.06)


def test_bootstrap_draws_each_residual_from_a_real_clip_of_its_class():
    R = ResidualBody(Flat(), terms=1)  # code 2 + residual 3
    M = MixtureSampler(R, classes=2, components=1, residuals="bootstrap", size=40)
    z = torch.randn(500, M.z_dim, generator=torch.Generator().manual_seed(0))
    assert M.code(z, torch.zeros(500).long())[:, 2:].abs().max() == 0  # before fit: no residual
    g = torch.Generator().manual_seed(1)
    codes, labels = torch.randn(30, 5, generator=g), torch.arange(30) % 3 % 2  # class 0: 20 clips, class 1: 10
    M.fit(codes, labels)
    z = torch.randn(20000, M.z_dim, generator=g)
    for k in (0, 1):
        r = M.code(z, torch.full((20000,), k))[:, 2:]
        own = codes[labels == k, 2:]
        hit = (r[:, None, :] == own[None]).all(-1)  # (draws, clips of class k): which clip each draw is
        assert torch.equal(hit.sum(1), torch.ones(20000, dtype=torch.long))  # every draw is exactly one real clip
        share = hit.float().mean(0)
        assert torch.allclose(share, torch.full_like(share, 1 / len(own)), atol=0.25 / len(own))  # uniformly
    assert torch.equal(M.code(z[:7], torch.ones(7).long()), M.code(z[:7], torch.ones(7).long()))  # a function of z
    with pytest.raises(GankitError, match="residual bank holds 40 clips and was fitted with 50"):
        M.fit(torch.randn(50, 5), torch.zeros(50).long())


def test_nearest_takes_the_residual_of_the_clip_whose_code_is_nearest_in_its_class():
    R = ResidualBody(Flat(), terms=1)  # code 2 + residual 3
    M = MixtureSampler(R, classes=2, components=1, residuals="nearest", size=40)
    z = torch.randn(2500, M.z_dim, generator=torch.Generator().manual_seed(0))
    y = torch.arange(2500) % 2
    assert M.code(z, y)[:, 2:].abs().max() == 0  # before fit: no residual
    g = torch.Generator().manual_seed(1)
    codes, labels = torch.randn(30, 5, generator=g), torch.arange(30) % 3 % 2  # class 0: 20 clips, class 1: 10
    M.fit(codes, labels)
    drawn = M.code(z, y)  # 2500 rows: more than one chunk of the search
    for i in range(0, 2500, 97):
        own = codes[labels == y[i]]
        j = min(range(len(own)), key=lambda k: float(((own[k, :2] - drawn[i, :2]) ** 2).sum()))
        assert torch.equal(drawn[i, 2:], own[j, 2:]), i
    assert torch.equal(M.code(z[:7], y[:7]), drawn[:7])  # a function of z
    # a clip's own code finds that clip (the bank sorts class 0's clips 0, 2, 3, ... before class 1's 1, 4, ...)
    found = M._nearest(codes[:3, :2], M.res_offsets[labels[:3]], torch.tensor([20, 10, 20]), torch.rand(3), chunk=2)
    assert torch.equal(found, torch.tensor([0, 20, 1]))
    M.fit(codes[labels == 0], torch.zeros(20).long())  # class 1 has no clips now: its draws get no residual
    assert M.code(z[:10], torch.ones(10).long())[:, 2:].abs().max() == 0


def test_nearest_with_neighbours_draws_among_the_k_nearest_clips_of_the_class():
    R = ResidualBody(Flat(), terms=1)  # code 2 + residual 3
    M = MixtureSampler(R, classes=2, components=1, residuals="nearest", size=40, neighbours=3)
    g = torch.Generator().manual_seed(1)
    codes, labels = torch.randn(22, 5, generator=g), (torch.arange(22) >= 20).long()  # class 0: 20 clips, class 1: 2
    M.fit(codes, labels)
    z = torch.randn(3000, M.z_dim, generator=g)
    for k, want in ((0, 3), (1, 2)):  # class 1 has fewer clips than neighbours: both of them
        drawn = M.code(z, torch.full((3000,), k))
        own = codes[labels == k]
        dist = torch.cdist(drawn[:, :2], own[:, :2])
        rank = dist.argsort(1).argsort(1)  # each own clip's rank by distance, per draw
        hit = (drawn[:, None, 2:] == own[None, :, 2:]).all(-1)  # which clip's residual each draw got
        assert torch.equal(hit.sum(1), torch.ones(3000, dtype=torch.long))
        got = rank[hit]  # the rank of the clip whose residual each draw got
        assert got.max() == want - 1 and torch.equal(got.unique(), torch.arange(want))
        assert (torch.bincount(got).float() / 3000 - 1 / want).abs().max() < 0.05  # z picks evenly
    with pytest.raises(GankitError, match="neighbours must be at least 1"):
        MixtureSampler(R, classes=2, components=1, residuals="nearest", size=40, neighbours=0)


def test_the_residual_sampler_leaves_training_alone_and_travels_in_the_checkpoint(tmp_path):
    """G's sampler is refitted from the codes and never feeds the GLO loss: with the same seed,
    gaussian and bootstrap runs learn the same codes and body bit for bit; only what G draws differs."""
    settings = {**GLO, "train.steps": 4, "train.ckpt_every": 2, "sequence.glo_search_every": 2,
                "data.limit": 48, "sequence.glo_residual": 2, "sequence.glo_residual_start": 0.0}
    Trainer(seq_config(**settings), tmp_path / "g").run()
    Trainer(seq_config(**{**settings, "sequence.glo_residual_sampler": "bootstrap"}), tmp_path / "b").run()
    Trainer(seq_config(**{**settings, "sequence.glo_residual_sampler": "nearest"}), tmp_path / "n").run()
    a, _ = ck.load_checkpoint(ck.latest_checkpoint(tmp_path / "g"))
    b, _ = ck.load_checkpoint(ck.latest_checkpoint(tmp_path / "b"))
    n, _ = ck.load_checkpoint(ck.latest_checkpoint(tmp_path / "n"))
    assert "nets.G.res_bank" in b and "nets.G.res_chol" not in b and "nets.G.code_bank" not in b
    shared = [k for k in a if k in b and not k.startswith(("nets.G.res", "ema.res"))]
    assert "nets.C.weight" in shared and "nets.G.means" in shared
    for k in shared:
        assert torch.equal(a[k], b[k]) and torch.equal(a[k], n[k]), k
    assert torch.equal(n["nets.G.res_bank"], b["nets.G.res_bank"])
    gn = Generator.load(tmp_path / "n", device="cpu")  # nearest: the drawn code's nearest clip's residual
    z = torch.randn(16, gn.net.z_dim, generator=torch.Generator().manual_seed(0))
    drawn, d = gn.net.code(z, torch.zeros(16).long()), gn.net.code_dim
    near = torch.cdist(drawn[:, :d], n["nets.G.code_bank"][:48]).argmin(1)
    assert torch.equal(drawn[:, d:], n["nets.G.res_bank"][near]) and len(near.unique()) > 1
    g = Generator.load(tmp_path / "b", device="cpu")
    d, bank = g.net.code_dim, g.net.res_bank  # the residual codes at the last step's fit
    assert torch.equal(bank, b["nets.G.res_bank"]) and torch.equal(g.net.res_offsets, torch.tensor([0, 48]))
    z = torch.randn(64, g.net.z_dim, generator=torch.Generator().manual_seed(0))
    r = g.net.code(z, torch.zeros(64).long())[:, d:]
    assert r.abs().max() > 0 and (r[:, None] == bank[None]).all(-1).any(1).all()  # each drawn is a clip's
    assert g.sample(3, seed=0).shape == (3, 24, 5)


def test_residual_codes_join_at_their_start_and_stay_out_of_the_search(tmp_path):
    settings = {**GLO, "sequence.glo_residual": 2, "sequence.glo_residual_start": 0.5, "train.steps": 6,
                "train.ckpt_every": 3, "train.log_every": 1, "data.limit": 64, "net.name": "seq-phase"}
    t = Trainer(seq_config(**settings), tmp_path / "a")
    C, d = t.objective.nets["C"], t.objective.nets["G"].code_dim
    assert d == 8 and C.weight.shape == (64, 8 + 5 * 2) and C.weight[:, d:].abs().max() == 0
    torch.manual_seed(1)
    C.weight.data[:, d:] = torch.randn(64, 10)
    own = C.weight[:, d:].clone()
    t.objective.attach(t.data)
    assert t.objective._glo_search() > 0
    assert torch.allclose(C.weight[:, d:], own, rtol=1e-6, atol=0)  # the search swaps codes, each clip keeps its residual
    C.weight.data[:, d:] = 0.0
    s = t.run()
    assert finite(s) and "glo/residual_rms" in s["last"]
    half, _ = ck.load_checkpoint(tmp_path / "a" / "checkpoints" / "step-0000003.safetensors")
    assert half["nets.C.weight"][:, d:].abs().max() == 0  # steps 0-2 of 6: no gradient before the start
    assert C.weight[:, d:].abs().max() > 0  # then they train
    G = t.objective.nets["G"]
    mean = C(torch.arange(64))[:, d:].mean(0).detach()
    # fitted at the last step, to the codes before that step's update: near their mean, far from 0
    assert (G.res_mean[0] - mean).abs().max() < 0.5 * mean.abs().max()


def test_glo_settings_errors(tmp_path):
    with pytest.raises(GankitError, match="adversarial_weight=0 leaves G nothing to learn"):
        Trainer(seq_config(**{"sequence.adversarial_weight": 0.0}), tmp_path / "a")
    with pytest.raises(GankitError, match="sequence.glo_weight and sequence.adversarial_weight must be >= 0"):
        Trainer(seq_config(**{"sequence.glo_weight": -1.0}), tmp_path / "b")
    with pytest.raises(GankitError, match="sequence.glo_candidates"):
        Trainer(seq_config(**{**GLO, "sequence.glo_candidates": 0}), tmp_path / "c")
    with pytest.raises(GankitError, match="sequence.glo_weight needs sequence data"):
        Trainer(seq_config(**{**GLO, "data.spec": "ring8", "net.name": "mlp"}), tmp_path / "d")
    with pytest.raises(GankitError, match="glo_residual is a part of GLO's codes"):
        Trainer(seq_config(**{"sequence.glo_residual": 4}), tmp_path / "e")
    with pytest.raises(GankitError, match="sequence.glo_residual_sampler must be one of gaussian, bootstrap, nearest"):
        Trainer(seq_config(**{**GLO, "sequence.glo_residual": 4, "sequence.glo_residual_sampler": "knn"}),
                tmp_path / "g")
    with pytest.raises(GankitError, match="sequence.glo_residual_neighbours must be at least 1"):
        Trainer(seq_config(**{**GLO, "sequence.glo_residual": 4, "sequence.glo_residual_sampler": "nearest",
                              "sequence.glo_residual_neighbours": 0}), tmp_path / "h")
    with pytest.raises(GankitError, match="glo_residual_start in"):
        Trainer(seq_config(**{**GLO, "sequence.glo_residual": 4, "sequence.glo_residual_start": 2.0}), tmp_path / "f")


@pytest.mark.parametrize("residual", [0, 2])
def test_glo_runs_with_the_mlp_generator_which_keeps_no_shape(tmp_path, residual):
    settings = {**GLO, "net.name": "mlp", "sequence.glo_residual": residual, "sequence.glo_residual_start": 0.0,
                "train.steps": 2, "train.ckpt_every": 2, "data.limit": 32}
    t = Trainer(seq_config(**settings), tmp_path)
    body = t.objective.nets["G"].body
    assert not hasattr(body.body if residual else body, "shape")  # the case under test: the MLP G has none
    s = t.run()
    assert finite(s)
    x = Generator.load(tmp_path, device="cpu").sample(3, seed=0)
    assert x.shape == (3, 24, 5)


def test_glo_restarts_pick_their_start_by_the_rebuild_error(tmp_path):
    """GLO names its own value for train.restarts: the reconstruction error (no restart_by needed)."""
    settings = {**GLO, "train.steps": 4, "train.restarts": 2, "train.restart_steps": 2, "data.limit": 64}
    s = Trainer(seq_config(**settings), tmp_path).run()
    record = json.loads((tmp_path / "starts.json").read_text())
    values = [r["loss/G_glo"] for r in record["starts"]]
    assert s["step"] == 4 and record["by"] == "loss/G_glo" and record["chosen"] == values.index(min(values))


def test_direct_clock_codes_start_at_each_clips_own_rate_and_resume_keeps_them(tmp_path):
    """net.clock_from_z: a GLO run's codes start with each clip's clock at the clip's dominant frequency
    (cycle_rate of what D sees), without touching the rest of the code; a resumed run keeps its trained codes."""
    from gankit.sequence.nets import PhaseGenerator, cycle_rate

    settings = {**GLO, "net.name": "seq-phase", "net.clock_from_z": True, "data.spec": "motion:test",
                "data.limit": 64, "sequence.skeleton_view": True, "sequence.root": "planted",
                "train.steps": 2, "train.ckpt_every": 1}
    t = Trainer(seq_config(**settings), tmp_path)
    obj, x = t.objective, t.data.x.float()
    pg = next(m for m in obj.nets["G"].modules() if isinstance(m, PhaseGenerator))
    codes = obj.nets["C"](torch.arange(len(x)))
    w = pg.clock(codes[:, :pg.z_dim], t.data.y if obj.conditional else None)[0][:, 0]
    want = cycle_rate(obj._view(x)).clamp(0.02 * pg.clock_max, 0.98 * pg.clock_max)
    assert torch.allclose(w, want, rtol=1e-4) and want.std() > 0.05  # each clip its own, not one rate
    assert codes[:, 1:].std() > 0.5  # the phase and the rest are the codes' N(0, I) start
    t.run()
    trained = obj.nets["C"].weight.detach().clone()
    assert not torch.equal(trained[:, 0] * LatentCodes.SCALE, pg.clock_code(want))  # the codes trained
    resumed = Trainer.resume(tmp_path, steps=2)
    assert torch.equal(resumed.objective.nets["C"].weight, trained)
