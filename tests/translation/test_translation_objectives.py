"""pix2pix, l1-only and CycleGAN on the engine: one step with every loss, checkpoints that rebuild the
model alone, exact resume (image pool included), determinism, the image pool, and clear errors."""
import pytest
import torch
from torch.testing import assert_close

from conftest import tiny_config
from gankit.data import Batch
from gankit.errors import GankitError
from gankit.model import Generator
from gankit.objectives.translation import ImagePool
from gankit.registry import OBJECTIVES
from gankit.training import checkpoint as ck
from gankit.training.loop import Trainer

TRANSLATION = [e.name for e in OBJECTIVES if "tiny" in e.meta and e.name in ("pix2pix", "l1-only", "cyclegan")]


def cfg_for(objective, **settings):
    return tiny_config(**{**OBJECTIVES.entry(objective).meta["tiny"], "train.objective": objective, **settings})


def tensors_of(run_dir):
    return ck.load_checkpoint(ck.latest_checkpoint(run_dir))


def test_the_three_families_are_registered_with_tiny_settings():
    assert set(TRANSLATION) == {"pix2pix", "l1-only", "cyclegan"}


def steps(objective, n=1, **settings):
    """A trainer after n training steps (driven directly: no checkpoints, plots or sample grids), and the
    statistics the last step reported."""
    from gankit.training.stats import Collector

    t = Trainer(cfg_for(objective, **settings), "/nonexistent-never-written", log=lambda m: None)
    with Collector() as c:
        for _ in range(n):
            t._train_step()
        return t, c.flush()


@pytest.mark.parametrize("objective", ["pix2pix", "cyclegan"])
@pytest.mark.parametrize("loss", ["ns", "lsgan", "hinge", "wgan", "wgan-gp"])
def test_one_step_with_every_kind_of_loss_is_finite(objective, loss):
    t, r = steps(objective, **{"loss.name": loss})
    assert r and all(torch.isfinite(torch.tensor(v)) for v in r.values()), r
    assert {f"loss/{p.name}" for p in t.objective.phases()} <= set(r)
    if loss == "wgan-gp":
        assert any(k.startswith("reg/gp") for k in r)
    if loss == "wgan":  # weight clipping reaches every D
        assert max(p.abs().max().item() for p in t.objective.nets["D"].parameters()) <= t.cfg.loss.clip + 1e-8


def test_l1_only_trains_g_alone_on_l1():
    t, r = steps("l1-only", 2)
    assert list(t.objective.nets) == ["G"] and [p.name for p in t.objective.phases()] == ["G"]
    assert r["loss/G"] == pytest.approx(100.0 * r["loss/G_l1"])
    assert t.objective.extra_state() == {}


@pytest.mark.parametrize("objective", ["pix2pix", "cyclegan"])
def test_resume_is_bit_identical_and_the_checkpoint_rebuilds_the_model(tmp_path, objective):
    """The image pool, the dropout noise and the data order all continue exactly; the checkpoint alone
    gives the EMA generator back."""
    settings = {"train.steps": 4, "train.ckpt_every": 2, "train.batch_size": 4, "translation.pool_size": 5}
    Trainer(cfg_for(objective, **settings), tmp_path / "full").run()
    Trainer(cfg_for(objective, **{**settings, "train.steps": 2}), tmp_path / "part").run()
    resumed = Trainer.resume(tmp_path / "part", steps=4)
    resumed.run()
    (a, ma), (b, mb) = tensors_of(tmp_path / "full"), tensors_of(tmp_path / "part")
    assert ma["step"] == mb["step"] == 4 and a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    if objective == "cyclegan":
        assert int(a["nets.D.pool_A.count"]) == 5  # 4 steps x 4 images filled the pool of 5
    g = Generator.load(tmp_path / "part", device="cpu")
    d = g.objective.direction
    x = torch.rand(3, *g.objective.input_shape(d)) * 2 - 1
    ema = resumed.ema.net.eval()
    assert_close(g.objective.translate(g.net, x, d), ema[d](x) if objective == "cyclegan" else ema(x), rtol=0, atol=0)
    assert g.info.extra == {"shape2": [3, 16, 16], "paired": objective != "cyclegan"}


@pytest.mark.parametrize("objective", ["pix2pix", "cyclegan"])
def test_seeded_training_is_deterministic_and_seeds_matter(objective):
    (a, _), (b, _), (c, _) = (steps(objective, 2, **{"train.seed": s}) for s in (1, 1, 2))
    sa, sb, sc = (t.objective.nets.state_dict() for t in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa if sa[k].is_floating_point())


def test_pix2pix_phases_share_one_g_forward(tmp_path):
    """The D phase reuses the G phase's outputs (one G forward per step), and they are detached."""
    t = Trainer(cfg_for("pix2pix"), tmp_path)
    calls = []
    t.objective.nets["G"].register_forward_hook(lambda *a: calls.append(1))
    t._train_step()
    assert len(calls) == 1
    batch, fake = t.objective._stash
    assert not fake.requires_grad


def test_pix2pix_d_is_conditioned_on_the_input(tmp_path):
    p2p = Trainer(cfg_for("pix2pix"), tmp_path).objective
    assert p2p.nets["D"].cond_channels == 3  # D sees the 3-channel input next to the output


def test_automatic_norm_and_blocks_follow_the_papers(tmp_path):
    """translation.norm=auto: batch norm in pix2pix, instance norm in CycleGAN; blocks=0: 6 below 256 px."""
    def kinds(obj):
        return {type(m).__name__ for m in obj.nets.modules() if "Norm" in type(m).__name__}

    assert kinds(Trainer(cfg_for("pix2pix"), tmp_path / "p").objective) == {"BatchNorm2d"}
    cg = Trainer(cfg_for("cyclegan", **{"translation.blocks": 0}), tmp_path / "c").objective
    assert kinds(cg) == {"InstanceNorm2d"} and cg.t.blocks == 6
    assert sum(type(m).__name__ == "ResnetBlock" for m in cg.nets["G"]["AtoB"].modules()) == 6
    assert cg.cfg.translation.norm == "auto"  # the saved config keeps the choice, not its resolution


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
     "auto, batch or instance"),
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


def test_pix2pix_translates_its_own_direction_only():
    t, _ = steps("pix2pix", **{"translation.direction": "BtoA"})
    with pytest.raises(GankitError, match="BtoA only, not AtoB"):
        t.objective.translate(t.objective.nets["G"], torch.zeros(1, 3, 16, 16), "AtoB")


def test_direction_btoa_trains_on_swapped_roles(tmp_path):
    t = Trainer(cfg_for("pix2pix", **{"translation.direction": "BtoA"}), tmp_path)
    b = Batch(torch.zeros(2, 3, 16, 16), None, torch.ones(2, 3, 16, 16))
    src, tgt = t.objective._pair(b)
    assert (src == 1).all() and (tgt == 0).all()
