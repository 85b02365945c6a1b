"""pix2pix, l1-only and CycleGAN on the engine: one step with every loss, checkpoints that rebuild the
model alone, exact resume (image pool included), determinism, the image pool, and clear errors."""
import json

import pytest
import torch
from torch.testing import assert_close

from conftest import tiny_config
from gankit.data import Batch
from gankit.errors import GankitError
from gankit.model import Generator
from gankit.objectives.translation import ImagePool
from gankit.registry import LOSSES, OBJECTIVES
from gankit.training import checkpoint as ck
from gankit.training.loop import Trainer

TRANSLATION = [e.name for e in OBJECTIVES if "tiny" in e.meta and e.name in ("pix2pix", "l1-only", "cyclegan")]


def cfg_for(objective, **settings):
    return tiny_config(**{**OBJECTIVES.entry(objective).meta["tiny"], "train.objective": objective, **settings})


def tensors_of(run_dir):
    return ck.load_checkpoint(ck.latest_checkpoint(run_dir))


def test_the_three_families_are_registered_with_tiny_settings():
    assert set(TRANSLATION) == {"pix2pix", "l1-only", "cyclegan"}


@pytest.mark.parametrize("objective", TRANSLATION)
@pytest.mark.parametrize("loss", ["ns", "lsgan", "hinge", "wgan-gp"])
def test_one_step_is_finite_and_each_phase_reports_its_loss(tmp_path, objective, loss):
    t = Trainer(cfg_for(objective, **{"loss.name": loss, "train.steps": 1}), tmp_path)
    s = t.run()
    assert s["step"] == 1 and all(torch.isfinite(torch.tensor(v)) for v in s["last"].values())
    assert {f"loss/{p.name}" for p in t.objective.phases()} <= set(s["last"])
    assert "loss/G_l1" in s["last"] or "loss/G_cycle" in s["last"]
    if loss == "wgan-gp" and objective != "l1-only":
        assert any(k.startswith("reg/gp") for k in s["last"])


@pytest.mark.parametrize("objective", TRANSLATION)
def test_checkpoint_rebuilds_the_model_alone(tmp_path, objective):
    t = Trainer(cfg_for(objective), tmp_path)
    t.run()
    g = Generator.load(tmp_path, device="cpu")
    d = g.objective.direction
    x = torch.rand(3, *g.objective.input_shape(d)) * 2 - 1
    ema = t.ema.net.eval()
    expected = ema[d](x) if objective == "cyclegan" else ema(x)
    assert_close(g.objective.translate(g.net, x, d), expected, rtol=0, atol=0)
    assert g.info.extra["shape2"] == [3, 16, 16]


@pytest.mark.parametrize("objective", ["pix2pix", "cyclegan"])
def test_resume_is_bit_identical(tmp_path, objective):
    """The image pool, the dropout noise and the data order all continue exactly."""
    settings = {"train.steps": 6, "train.ckpt_every": 3, "train.batch_size": 4, "translation.pool_size": 5}
    Trainer(cfg_for(objective, **settings), tmp_path / "full").run()
    Trainer(cfg_for(objective, **{**settings, "train.steps": 3}), tmp_path / "part").run()
    Trainer.resume(tmp_path / "part", steps=6).run()
    (a, ma), (b, mb) = tensors_of(tmp_path / "full"), tensors_of(tmp_path / "part")
    assert ma["step"] == mb["step"] == 6 and a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    if objective == "cyclegan":
        assert int(a["nets.D.pool_A.count"]) == 5  # 6 steps x 4 images filled the pool of 5


@pytest.mark.parametrize("objective", TRANSLATION)
def test_seeded_runs_are_deterministic_and_seeds_matter(tmp_path, objective):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        Trainer(cfg_for(objective, **{"train.seed": seed}), tmp_path / name).run()
    a, b, c = (tensors_of(tmp_path / n)[0] for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if k.startswith("ema."))


def test_pix2pix_phases_share_one_g_forward(tmp_path, monkeypatch):
    """The D phase reuses the G phase's outputs (one G forward per step), and they are detached."""
    t = Trainer(cfg_for("pix2pix"), tmp_path)
    calls = []
    t.objective.nets["G"].register_forward_hook(lambda *a: calls.append(1))
    t._train_step()
    assert len(calls) == 1
    batch, fake = t.objective._stash
    assert not fake.requires_grad


def test_l1_only_has_no_discriminator_and_pix2pix_d_is_conditioned(tmp_path):
    l1 = Trainer(cfg_for("l1-only"), tmp_path / "l1").objective
    assert list(l1.nets) == ["G"] and [p.name for p in l1.phases()] == ["G"]
    p2p = Trainer(cfg_for("pix2pix"), tmp_path / "p2p").objective
    assert p2p.nets["D"].cond_channels == 3  # D sees the 3-channel input next to the output


def test_cyclegan_losses_follow_the_weights(tmp_path):
    """loss/G = gan_weight * adv + lambda_cycle * cycle + lambda_cycle * lambda_identity * identity."""
    from gankit.training.stats import Collector

    t = Trainer(cfg_for("cyclegan", **{"translation.lambda_cycle": 7.0, "translation.lambda_identity": 0.25,
                                       "translation.gan_weight": 2.0}), tmp_path)
    batch = t.stream.next()
    with Collector() as c:
        loss = t.objective.loss("G", batch, 0)
        r = c.flush()
    expected = 2.0 * r["loss/G_gan"] + 7.0 * r["loss/G_cycle"] + 7.0 * 0.25 * r["loss/G_identity"]
    assert loss.item() == pytest.approx(expected, rel=1e-5)


# ---------------------------------------------------------------------------------------------- image pool


def test_image_pool_fills_first_then_swaps_about_half():
    torch.manual_seed(0)
    pool = ImagePool(4, (1, 2, 2))
    first = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 1, 2, 2).clone()
    assert torch.equal(pool.query(first), first)  # filling: every image passes through and is stored
    assert int(pool.count) == 4 and torch.equal(pool.images, first)
    swapped = 0
    for k in range(200):
        new = torch.full((1, 1, 2, 2), 100.0 + k)
        out = pool.query(new)
        if not torch.equal(out, new):
            swapped += 1
            assert out[0, 0, 0, 0].item() < 100.0 + k  # an older image came back ...
            assert (pool.images == new[0]).all(dim=(1, 2, 3)).sum() == 1  # ... and the new one took its place
    assert 70 <= swapped <= 130  # probability 1/2 each


def test_image_pool_of_size_zero_passes_through_and_state_round_trips():
    pool = ImagePool(0, (1, 2, 2))
    x = torch.randn(3, 1, 2, 2)
    assert pool.query(x) is x
    a, b = ImagePool(3, (1, 2, 2)), ImagePool(3, (1, 2, 2))
    a.query(torch.randn(2, 1, 2, 2))
    b.load_state_dict(a.state_dict())
    assert int(b.count) == 2 and torch.equal(a.images, b.images)


# ---------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("settings,match", [
    ({"train.objective": "pix2pix", "data.spec": "fake-unpaired", "net.name": "unet"}, "unpaired"),
    ({"train.objective": "l1-only", "data.spec": "fake", "net.name": "unet"}, "one image domain"),
    ({"train.objective": "cyclegan", "data.spec": "fake-unpaired", "net.name": "dcgan"}, "needs an image-to-image net"),
    ({"train.objective": "gan", "data.spec": "fake", "net.name": "unet"}, "image-to-image net"),
    ({"train.objective": "pix2pix", "data.spec": "fake-pairs", "net.name": "unet", "translation.direction": "AB"},
     "AtoB or BtoA"),
    ({"train.objective": "pix2pix", "data.spec": "fake-pairs", "net.name": "unet", "translation.norm": "group"},
     "batch or instance"),
    ({"train.objective": "pix2pix", "data.spec": "fake-pairs", "net.name": "unet", "translation.patch": 70},
     "too large for 16 px"),
    ({"train.objective": "pix2pix", "data.spec": "fake-pairs", "net.name": "unet", "loss.feature_matching": True},
     "feature_matching"),
    ({"train.objective": "cyclegan", "data.spec": "fake-unpaired", "net.name": "unet", "translation.lambda_cycle": -1},
     ">= 0"),
    ({"train.objective": "pix2pix", "data.spec": "fake-pairs", "net.name": "unet", "data.image_size": 28},
     "does not fit the net"),
])
def test_bad_settings_are_one_line_errors(tmp_path, settings, match):
    with pytest.raises(GankitError, match=match) as e:
        Trainer(tiny_config(**settings), tmp_path)
    assert "\n" not in str(e.value)


def test_identity_loss_needs_equal_channels():
    from gankit.objectives import DataInfo
    from gankit.objectives.translation import CycleGANObjective

    info = DataInfo((1, 16, 16), name="grey2colour", extra={"shape2": [3, 16, 16], "paired": False})
    with pytest.raises(GankitError, match="same channels"):
        CycleGANObjective(cfg_for("cyclegan"), info)
    # without the identity term, 1 -> 3 channels and back is fine
    obj = CycleGANObjective(cfg_for("cyclegan", **{"translation.lambda_identity": 0.0}), info)
    batch = Batch(torch.rand(4, 1, 16, 16) * 2 - 1, None, torch.rand(4, 3, 16, 16) * 2 - 1)
    for phase in ("G", "D"):
        assert torch.isfinite(obj.loss(phase, batch, 0))


def test_pix2pix_translates_its_own_direction_only(tmp_path):
    Trainer(cfg_for("pix2pix", **{"translation.direction": "BtoA"}), tmp_path).run()
    g = Generator.load(tmp_path)
    with pytest.raises(GankitError, match="BtoA only, not AtoB"):
        g.objective.translate(g.net, torch.zeros(1, 3, 16, 16), "AtoB")


def test_direction_btoa_trains_on_swapped_roles(tmp_path):
    t = Trainer(cfg_for("pix2pix", **{"translation.direction": "BtoA"}), tmp_path)
    b = Batch(torch.zeros(2, 3, 16, 16), None, torch.ones(2, 3, 16, 16))
    src, tgt = t.objective._pair(b)
    assert (src == 1).all() and (tgt == 0).all()


def test_metrics_file_has_every_loss_term(tmp_path):
    Trainer(cfg_for("cyclegan", **{"train.steps": 2}), tmp_path).run()
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert {"loss/G", "loss/G_gan", "loss/G_cycle", "loss/G_identity", "loss/D", "logits/real_A",
            "logits/fake_B"} <= set(rows[-1])
    assert (tmp_path / "samples" / "final.png").is_file()
