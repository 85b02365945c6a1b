"""The sequence objective on the engine: every loss and net for a step, checkpoints that rebuild the
model, exact resume, the skeleton head through training, samples, and its configuration errors."""
import json
import math

import numpy as np
import pytest
import torch

from gankit.config import build_config
from gankit.errors import GankitError
from gankit.model import Generator
from gankit.registry import LOSSES, NETS
from gankit.training import checkpoint as ck
from gankit.training.loop import Trainer

SEQ_NETS = [n for n in NETS.names() if NETS.entry(n).meta.get("sequence")]


def seq_config(**settings):
    base = {"train.objective": "sequence", "data.spec": "sines:test", "net.name": "seq-gru", "net.z_dim": 8,
            "net.g_width": 8, "net.d_width": 8, "train.batch_size": 16, "train.steps": 2, "train.progress": False,
            "train.tensorboard": False, "train.log_every": 1, "train.sample_every": 1000, "train.ckpt_every": 1000,
            "train.grid": 9}
    loss = settings.pop("loss.name", None)
    flags = {**base, **settings}
    if loss:
        flags["loss.name"] = loss
    return build_config(None, flags)


def finite(s):
    return s["last"] and all(np.isfinite(v) for v in s["last"].values())


@pytest.mark.parametrize("loss", LOSSES.names())
def test_one_step_of_every_loss_is_finite(tmp_path, loss):
    s = Trainer(seq_config(**{"loss.name": loss, "train.steps": 1}), tmp_path).run()
    assert s["step"] == 1 and finite(s) and "loss/D" in s["last"] and "loss/G" in s["last"]


@pytest.mark.parametrize("net", SEQ_NETS)
@pytest.mark.parametrize("settings", [{}, {"loss.reg": "r1"}, {"sequence.moment_weight": 1.0},
                                      {"loss.feature_matching": True}],
                         ids=["plain", "r1", "moment", "fm"])
def test_every_net_trains_with_the_sequence_options(tmp_path, net, settings):
    s = Trainer(seq_config(**{"net.name": net, **settings}), tmp_path).run()
    assert s["step"] == 2 and finite(s)
    if "sequence.moment_weight" in settings:
        assert "loss/G_moment" in s["last"]
    assert (tmp_path / "samples" / "final.png").is_file()


def test_untouched_default_net_becomes_seq_gru_and_image_nets_are_refused(tmp_path, monkeypatch):
    from gankit.registry import Entry

    cfg = seq_config()
    cfg.net.name = "dcgan"  # the NetConfig default: "no net chosen"
    t = Trainer(cfg, tmp_path / "a")
    assert t.cfg.net.name == "seq-gru"
    t.run()
    assert json.loads((tmp_path / "a" / "config.json").read_text())["net"]["name"] == "seq-gru"
    Trainer(seq_config(**{"net.name": "mlp"}), tmp_path / "b").run()  # the MLP takes any shape (flattened)
    monkeypatch.setitem(NETS._entries, "pix-only", Entry("pix-only", NETS.get("dcgan"), "", {"sizes": (32,)}))
    cfg = seq_config()
    cfg.net.name = "pix-only"
    with pytest.raises(GankitError, match="net pix-only makes images.*choose --net .*seq-gru"):
        Trainer(cfg, tmp_path / "c")


def test_negative_moment_weight_is_a_clear_error(tmp_path):
    with pytest.raises(GankitError, match="sequence.moment_weight must be >= 0"):
        Trainer(seq_config(**{"sequence.moment_weight": -1.0}), tmp_path)


def test_checkpoint_rebuilds_the_model_and_resume_is_bit_identical(tmp_path):
    settings = {"train.steps": 4, "optim.d_steps": 2, "loss.reg": "r1", "sequence.moment_weight": 0.5,
                "train.ckpt_every": 2}
    Trainer(seq_config(**settings), tmp_path / "full").run()
    Trainer(seq_config(**{**settings, "train.steps": 2}), tmp_path / "part").run()
    Trainer.resume(tmp_path / "part", steps=4).run()
    a, _ = ck.load_checkpoint(ck.latest_checkpoint(tmp_path / "full"))
    b, meta = ck.load_checkpoint(ck.latest_checkpoint(tmp_path / "part"))
    assert meta["step"] == 4 and a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    g = Generator.load(tmp_path / "full", device="cpu")
    assert g.info.extra["kind"] == "series" and g.info.shape == (24, 5)
    x = g.sample(5, seed=1)
    assert x.shape == (5, 24, 5)
    z = torch.randn(5, 8, generator=torch.Generator().manual_seed(1))
    t = Trainer.resume(tmp_path / "full")
    torch.testing.assert_close(x, t.ema.net.eval()(z), rtol=0, atol=0)


@pytest.fixture(scope="module")
def motion_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("motion")
    cfg = seq_config(**{"data.spec": "motion:test", "net.conditional": True, "train.steps": 2, "train.grid": 16,
                        "data.window": 12})
    Trainer(cfg, out).run()
    return out


def test_motion_run_has_exact_bones_and_labelled_filmstrips(motion_run):
    from gankit.sequence.metrics import bone_metrics

    g = Generator.load(motion_run, device="cpu")
    obj = g.objective
    units, norm, y = obj.sample_sequences(g, 12, seed=0, labels=torch.arange(12) % 4)
    assert units.shape == (12, 12, 51) and y.tolist() == (torch.arange(12) % 4).tolist()
    # even an untrained generator keeps the skeleton: the head builds positions from bone lengths
    assert bone_metrics(units, obj.skeleton)["bone_error"] < 1e-5
    from PIL import Image

    assert Image.open(motion_run / "samples" / "final.png").size[0] > 200


def test_skeleton_head_can_be_switched_off(tmp_path):
    from gankit.sequence.metrics import bone_metrics

    cfg = seq_config(**{"data.spec": "motion:test", "sequence.skeleton_head": False, "train.steps": 1,
                        "data.window": 12})
    Trainer(cfg, tmp_path).run()
    g = Generator.load(tmp_path, device="cpu")
    units, _, _ = g.objective.sample_sequences(g, 4)
    assert bone_metrics(units, g.objective.skeleton)["bone_error"] > 0.05  # free positions: nothing holds bones


def test_planted_rotations_and_skeleton_view_through_training(tmp_path):
    """The motion preset's skeleton options survive a run and a reload: the rebuilt G keeps exact bones
    and its feet on the ground, and D sits behind the skeleton view."""
    from gankit.sequence import skeleton as sk
    from gankit.sequence.metrics import bone_metrics
    from gankit.sequence.nets import SkeletonHead, SkeletonView

    cfg = seq_config(**{"data.spec": "motion:test", "net.name": "seq-phase", "net.conditional": True,
                        "sequence.root": "planted", "sequence.pose": "rotations", "sequence.skeleton_view": True,
                        "train.steps": 2, "data.window": 12})
    s = Trainer(cfg, tmp_path).run()
    assert finite(s)
    g = Generator.load(tmp_path, device="cpu")
    obj = g.objective
    assert isinstance(obj.nets["D"], SkeletonView)
    head = obj.nets["G"]
    assert isinstance(head, SkeletonHead) and (head.root, head.pose) == ("planted", "rotations")
    units, _, _ = obj.sample_sequences(g, 8, labels=torch.arange(8) % 4)
    assert bone_metrics(units, obj.skeleton)["bone_error"] < 1e-5
    feet = units.reshape(8, 12, 17, 3)[:, :, list(sk.FEET), 1]
    assert feet.min() > sk.FOOT_HEIGHT - 1e-4
    for key, bad in (("sequence.root", "floating"), ("sequence.pose", "quaternions")):
        with pytest.raises(GankitError, match=key):
            Trainer(seq_config(**{"data.spec": "motion:test", key: bad}), tmp_path / "bad")


def test_image_data_still_trains_with_the_sequence_objective(tmp_path):
    """The objective accepts any data (images are rows of pixels), as the engine's shared tests expect."""
    cfg = build_config(None, {"train.objective": "sequence", "data.spec": "fake", "data.image_size": 16,
                              "net.z_dim": 8, "net.g_width": 8, "net.d_width": 8, "train.batch_size": 8,
                              "train.steps": 1, "train.progress": False, "train.tensorboard": False,
                              "train.grid": 4})
    s = Trainer(cfg, tmp_path).run()
    assert finite(s) and (tmp_path / "samples" / "final.png").is_file()


def test_evaluation_during_training_uses_the_sequence_metrics(tmp_path):
    cfg = seq_config(**{"train.steps": 2, "train.eval_every": 2, "train.eval_metrics": "mmd", "train.eval_n": 20})
    Trainer(cfg, tmp_path, log=lambda m: None).run()
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if r.get("kind") == "eval"]
    assert evals and np.isfinite(evals[-1]["mmd"]) and evals[-1]["provenance"]["n_generated"] == 20
    assert (tmp_path / "checkpoints" / "best.safetensors").is_file()
    with pytest.raises(GankitError, match="metric bone is for skeleton motion"):
        Trainer(seq_config(**{"train.eval_every": 1, "train.eval_metrics": "bone"}), tmp_path / "b",
                log=lambda m: None).run()


def test_kl_normal_matches_torch_distributions():
    from torch.distributions import Normal, kl_divergence

    from gankit.sequence.objective import kl_normal

    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)
    want = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).mean()
    torch.testing.assert_close(kl_normal(mu, logvar), want)
    assert kl_normal(torch.zeros(3, 2), torch.zeros(3, 2)).item() == 0.0


def test_encoder_starts_at_the_prior_and_trains_with_g(tmp_path):
    settings = {"sequence.recon_weight": 5.0, "train.steps": 3}
    t = Trainer(seq_config(**settings), tmp_path)
    E = t.objective.nets["E"]
    mu, logvar = E(torch.randn(4, 24, 5))
    assert mu.shape == logvar.shape == (4, 8) and mu.abs().max() == 0 and logvar.abs().max() == 0
    g_params = {id(p) for p in t.opts["G"].param_groups[0]["params"]}
    assert all(id(p) in g_params for p in E.parameters())  # one optimiser for G and E (VAE-GAN)
    before = [p.detach().clone() for p in E.parameters()]
    s = t.run()
    assert finite(s) and "loss/G_recon" in s["last"] and "loss/E_kl" in s["last"]
    assert any(not torch.equal(a, b) for a, b in zip(before, E.parameters()))


def test_reconstruction_term_teaches_g_to_rebuild_real_sequences(tmp_path):
    # sines: with the reconstruction term G(E(x)) approaches x; without it, nothing asks G to
    settings = {"sequence.recon_weight": 50.0, "sequence.kl_weight": 0.001, "train.steps": 150,
                "train.log_every": 150, "net.g_width": 32, "net.d_width": 32, "train.batch_size": 32}
    t = Trainer(seq_config(**settings), tmp_path / "r")
    x = t.data.x[:64]

    def recon_error() -> float:
        with torch.no_grad():
            mu, _ = t.objective.nets["E"](x)
            return (t.objective.nets["G"](mu) - x).square().mean().item()

    start = recon_error()
    t.run()
    assert recon_error() < 0.5 * start


def test_recon_weight_needs_sequences_and_non_negative_weights(tmp_path):
    with pytest.raises(GankitError, match="sequence.recon_weight and sequence.kl_weight must be >= 0"):
        Trainer(seq_config(**{"sequence.recon_weight": -1.0}), tmp_path / "a")
    with pytest.raises(GankitError, match="sequence.recon_weight needs sequence data"):
        Trainer(seq_config(**{"sequence.recon_weight": 1.0, "data.spec": "ring8", "net.name": "mlp"}), tmp_path / "b")


def test_resume_with_the_encoder_is_bit_identical(tmp_path):
    settings = {"train.steps": 4, "sequence.recon_weight": 2.0, "sequence.moment_weight": 1.0, "train.ckpt_every": 2}
    Trainer(seq_config(**settings), tmp_path / "full").run()
    Trainer(seq_config(**{**settings, "train.steps": 2}), tmp_path / "part").run()
    Trainer.resume(tmp_path / "part", steps=4).run()
    a, _ = ck.load_checkpoint(ck.latest_checkpoint(tmp_path / "full"))
    b, _ = ck.load_checkpoint(ck.latest_checkpoint(tmp_path / "part"))
    assert any(k.startswith("nets.E.") for k in a) and a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert Generator.load(tmp_path / "full", device="cpu").sample(3, seed=0).shape == (3, 24, 5)


def _sines(amp: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Clips (N, 24, 2) of amp * sin(t / 2 + random phase) (and its cosine)."""
    t = torch.arange(24.0)
    p = 2 * math.pi * torch.rand(len(amp), 1, generator=g) + t / 2  # (N, T)
    return amp[:, None, None] * torch.stack([p.sin(), p.cos()], 2)


def test_clip_moments_see_the_amplitude_spread_that_per_step_moments_miss():
    from gankit.sequence.objective import clip_moment_loss, moment_loss

    g = torch.Generator().manual_seed(0)
    amp = 0.5 + torch.rand(4000, generator=g)  # U(0.5, 1.5)
    real = _sines(amp, g)
    same_power = _sines(torch.full((4000,), amp.square().mean().sqrt().item()), g)  # one amplitude, same power
    fresh = _sines(0.5 + torch.rand(4000, generator=g), g)  # a second draw of the real distribution
    # per step, the two sets have the same mean and spread (random phases); per clip, one never varies
    assert moment_loss(real, same_power) < 2 * moment_loss(real, fresh)
    assert clip_moment_loss(real, same_power) > 5 * clip_moment_loss(real, fresh)
    assert clip_moment_loss(real, real).item() == 0.0
    fake = same_power.clone().requires_grad_(True)
    clip_moment_loss(real, fake).backward()
    assert fake.grad.abs().sum() > 0


def test_clip_moments_compare_within_each_class():
    from gankit.sequence.objective import clip_moment_loss

    g = torch.Generator().manual_seed(1)
    labels = torch.arange(400) % 2
    small, large = _sines(torch.full((400,), 0.5), g), _sines(torch.full((400,), 1.0), g)
    real = torch.where(labels[:, None, None] == 0, small, large)
    swapped = torch.where(labels[:, None, None] == 0, large, small)  # right amplitudes, wrong classes
    assert clip_moment_loss(real, swapped) < 0.05  # pooled over the batch the two look alike
    assert clip_moment_loss(real, swapped, labels) > 0.1  # std over time gaps 0.35, of steps 0.17: ~0.18


def test_clip_moment_weight_trains_and_is_checked(tmp_path):
    s = Trainer(seq_config(**{"sequence.clip_moment_weight": 3.0, "net.conditional": False}), tmp_path / "a").run()
    assert finite(s) and s["last"]["loss/G_clip_moment"] > 0
    with pytest.raises(GankitError, match="sequence.clip_moment_weight must be >= 0"):
        Trainer(seq_config(**{"sequence.clip_moment_weight": -1.0}), tmp_path / "b")


def test_extra_d_views_and_encoder_train_on_motion(tmp_path):
    cfg = seq_config(**{"data.spec": "motion:test", "net.conditional": True, "data.window": 12, "net.name": "seq-phase",
                        "sequence.skeleton_view": True, "sequence.d_views": "world,bones", "sequence.recon_weight": 1.0,
                        "sequence.clip_moment_weight": 1.0, "sequence.root": "planted"})
    t = Trainer(cfg, tmp_path)
    assert t.objective.nets["D"].body.shape == (12, 51 + 51 + 48)
    s = t.run()
    assert finite(s) and {"loss/G_recon", "loss/G_clip_moment"} <= set(s["last"])
    g = Generator.load(tmp_path, device="cpu")
    assert g.sample(2, seed=0, labels=torch.tensor([0, 3])).shape == (2, 12, 51)


def test_unknown_d_views_are_a_clear_error(tmp_path):
    base = {"data.spec": "motion:test", "data.window": 12, "sequence.skeleton_view": True}
    with pytest.raises(GankitError, match="sequence.d_views='speed'.*world, bones"):
        Trainer(seq_config(**base, **{"sequence.d_views": "speed"}), tmp_path / "a")
    with pytest.raises(GankitError, match="with sequence.skeleton_view=true"):
        Trainer(seq_config(**{**base, "sequence.skeleton_view": False, "sequence.d_views": "world"}), tmp_path / "b")
