"""Learning test: a non-saturating GAN on ring8 captures the modes (PacGAN's protocol)."""
import time

import torch

from gankit.config import build_config
from gankit.data.toy import ring8_centres
from gankit.metrics import toy_modes
from gankit.model import Generator
from gankit.training.loop import Trainer


def test_ns_gan_captures_ring8_modes(tmp_path):
    # The ring8 preset: MLP G/D (3 x 128), non-saturating loss, Adam 1e-3 then linear decay, EMA of G.
    # Vanilla GANs do collapse on some seeds (that is what this benchmark exposes); the test is seeded.
    cfg = build_config("ring8", {"train.seed": 0, "train.progress": False, "train.tensorboard": False,
                                 "train.sample_every": 10_000})
    assert cfg.loss.name == "ns"
    t0 = time.perf_counter()
    Trainer(cfg, tmp_path).run()
    seconds = time.perf_counter() - t0
    samples = Generator.load(tmp_path).sample(2500, seed=0)
    result = toy_modes(samples.numpy(), ring8_centres().numpy(), std=0.01)
    assert result["modes"] >= 6, result
    assert result["high_quality"] >= 0.80, result
    assert seconds < 60, f"took {seconds:.0f}s"


def test_untrained_generator_fails_the_same_protocol(tmp_path):
    """The protocol has teeth: the step-0 generator captures nothing."""
    cfg = build_config("ring8", {"train.steps": 1, "train.progress": False, "train.tensorboard": False})
    Trainer(cfg, tmp_path).run()
    samples = Generator.load(tmp_path).sample(2500, seed=0)
    result = toy_modes(samples.numpy(), ring8_centres().numpy(), std=0.01)
    assert result["modes"] < 6 and result["high_quality"] < 0.5
