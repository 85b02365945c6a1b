"""Config layering: defaults -> loss defaults -> objective defaults -> preset -> flags -> key=value."""
from gankit.config import build_config


def test_objective_defaults_pick_its_nets_and_loss():
    assert build_config(None, {"train.objective": "pix2pix"}).net.name == "unet"
    assert build_config(None, {"train.objective": "l1-only"}).net.name == "unet"
    cyc = build_config(None, {"train.objective": "cyclegan"})
    assert (cyc.net.name, cyc.loss.name) == ("resnet-gen", "lsgan")
    assert build_config(None, {"train.objective": "gan"}).net.name == "dcgan"  # no defaults: the plain ones


def test_flags_settings_and_presets_override_objective_defaults():
    assert build_config(None, {"train.objective": "pix2pix", "net.name": "resnet-gen"}).net.name == "resnet-gen"
    assert build_config(None, None, ["train.objective=cyclegan", "loss.name=hinge"]).loss.name == "hinge"
    assert build_config("cyclegan-sneaker2boot").net.name == "resnet-gen"


def test_the_objective_default_loss_brings_its_own_defaults(monkeypatch):
    from gankit.objectives.gan import GanObjective
    from gankit.registry import OBJECTIVES, Entry

    monkeypatch.setitem(OBJECTIVES._entries, "critic-test", Entry("critic-test", GanObjective, "",
                                                                 {"defaults": {"loss": {"name": "wgan-gp"}}}))
    cfg = build_config(None, {"train.objective": "critic-test"})
    # wgan-gp was chosen by the objective, so wgan-gp's own defaults (5 critic steps, gp 10) apply
    assert (cfg.loss.name, cfg.optim.d_steps, cfg.loss.reg, cfg.net.d_norm) == ("wgan-gp", 5, "gp", "ln")
    assert build_config(None, {"train.objective": "critic-test", "loss.name": "ns"}).optim.d_steps == 1
