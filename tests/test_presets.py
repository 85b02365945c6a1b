"""Every preset resolves and trains one step (on `fake`/toy data where its own needs files)."""
import pytest

from gankit.config import build_config, load_preset, preset_names
from gankit.training.loop import Trainer

FILE_DATA = {"mnist": 1, "fashion-mnist": 1, "cifar10": 3}  # -> channels of the stand-in


def test_presets_exist():
    assert {"digits", "ring8", "grid25", "cgan-digits", "improved-digits", "mlp-mnist", "dcgan-fashion",
            "wgan-gp-fashion", "dcgan-cifar10"} <= set(preset_names())
    assert all(load_preset(n).get("description") for n in preset_names())


@pytest.mark.parametrize("name", preset_names())
def test_preset_runs_one_step(tmp_path, name):
    overrides = ["train.steps=1", "train.batch_size=8", "train.progress=false", "train.tensorboard=false",
                 "train.grid=4"]
    spec = load_preset(name)["data"].get("spec", "fake")
    if spec in FILE_DATA:  # same net and loss, stand-in data of the same channels
        overrides += ["data.spec=fake", f"data.channels={FILE_DATA[spec]}", "data.image_size=28" if
                      FILE_DATA[spec] == 1 else "data.image_size=32"]
    steps = 1
    if load_preset(name).get("train", {}).get("restarts", 1) > 1:  # two starts of one step each, then one more
        steps, overrides = 2, overrides + ["train.steps=2", "train.restarts=2", "train.restart_steps=1"]
    cfg = build_config(name, overrides=overrides)
    s = Trainer(cfg, tmp_path).run()
    assert s["step"] == steps and all(v == v for v in s["last"].values())  # finite (not NaN)


def test_preset_values_win_over_loss_defaults_and_flags_win_over_presets():
    cfg = build_config("wgan-gp-fashion")
    assert cfg.loss.reg == "gp" and cfg.optim.d_steps == 5  # from the loss
    cfg = build_config("wgan-gp-fashion", {"train.steps": 7}, ["optim.d_steps=1"])
    assert cfg.train.steps == 7 and cfg.optim.d_steps == 1
