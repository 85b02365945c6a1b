"""The fast path's pieces, checked on the CPU: bf16 autocast, channels_last, compile, DiffAugment."""
import pytest
import torch

from conftest import tiny_config
from gankit.augment import DiffAugment, cutout, translation
from gankit.errors import GankitError
from gankit.training import checkpoint as ck
from gankit.training.loop import Trainer


def final(run):
    """The nets' and EMA's weights of a run's last checkpoint."""
    tensors = ck.load_checkpoint(ck.latest_checkpoint(run))[0]
    return {k: v for k, v in tensors.items() if k.startswith(("nets.", "ema."))}


@pytest.mark.parametrize("loss", ["ns", "wgan-gp", "hinge"])
def test_bf16_autocast_gives_finite_losses(tmp_path, loss):
    t = Trainer(tiny_config(**{"loss.name": loss, "train.amp": "bf16", "train.steps": 3}), tmp_path)
    assert t.amp_dtype == torch.bfloat16
    s = t.run()
    assert all(torch.isfinite(torch.tensor(v)) for v in s["last"].values()), s["last"]
    # the weights stay float32 (autocast changes the compute, not the storage)
    assert all(p.dtype == torch.float32 for p in t.objective.nets.parameters())


def test_gradient_penalty_under_autocast_matches_fp32():
    from gankit.regularizers import gradient_penalty

    torch.manual_seed(0)
    D = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 16), torch.nn.LeakyReLU(0.2), torch.nn.Linear(16, 1))
    real, fake = torch.randn(8, 3, 2, 2), torch.randn(8, 3, 2, 2)

    def d(x, y=None):
        return D(x).squeeze(1)

    torch.manual_seed(1)
    ref = gradient_penalty(d, real, fake)
    torch.manual_seed(1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = gradient_penalty(d, real, fake)
    assert low.dtype == torch.float32
    torch.testing.assert_close(low, ref, rtol=0.05, atol=0.05)


def test_channels_last_matches_the_default_layout(tmp_path):
    Trainer(tiny_config(**{"train.channels_last": "off"}), tmp_path / "a").run()
    probe = Trainer(tiny_config(**{"train.channels_last": "on"}), tmp_path / "probe")
    assert probe.channels_last and probe.stream.next()[0].is_contiguous(memory_format=torch.channels_last)
    Trainer(tiny_config(**{"train.channels_last": "on"}), tmp_path / "b").run()
    a, b = final(tmp_path / "a"), final(tmp_path / "b")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)


def test_compiled_and_eager_steps_agree(tmp_path):
    settings = {"train.steps": 2, "net.g_norm": "none", "net.d_norm": "none"}
    Trainer(tiny_config(**settings), tmp_path / "eager").run()
    try:
        Trainer(tiny_config(**settings, **{"train.compile": True}), tmp_path / "compiled").run()
    except Exception as e:  # no C++ toolchain for inductor: say so rather than pass silently
        pytest.fail(f"torch.compile failed on this machine: {type(e).__name__}: {e}")
    a, b = final(tmp_path / "eager"), final(tmp_path / "compiled")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)


def test_diffaugment_keeps_shapes_and_is_differentiable():
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    y = DiffAugment("translation,cutout,color")(x)
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_translation_shifts_content_and_cutout_zeroes_a_square():
    torch.manual_seed(0)
    x = torch.zeros(64, 1, 16, 16)
    x[:, :, 8, 8] = 1.0
    moved = translation(x)
    assert (moved.sum((1, 2, 3)) <= 1).all()
    assert (moved[:, 0, 8, 8] == 0).any()  # some images moved their dot away
    ones = torch.ones(16, 1, 16, 16)
    cut = cutout(ones)
    zeros = (cut == 0).sum((1, 2, 3)).float()
    assert (zeros > 0).all() and (zeros <= 64).all()  # at most an 8x8 square (half the side)


def test_unknown_augmentation_is_a_clear_error():
    from gankit.config import build_config

    with pytest.raises(GankitError, match="unknown augmentation 'flip'"):
        build_config(None, {"loss.augment": "translation,flip"})


def test_augmented_training_runs(tmp_path):
    s = Trainer(tiny_config(**{"loss.augment": "translation,cutout,color", "loss.reg": "r1"}), tmp_path).run()
    assert all(torch.isfinite(torch.tensor(v)) for v in s["last"].values())
