"""Learning tests on a tiny task: the `fake-pairs` colour mapping (B = 255 - A with channels rotated).

Copying the input (the identity) scores L1 ~1.5 on held-out pairs and an untrained G ~0.75;
pix2pix learns the mapping from pairs, CycleGAN from unpaired sets, each in well under a minute.
"""
import time

import pytest
import torch

from gankit.config import DataConfig, build_config
from gankit.data import load_data, to_float
from gankit.model import Generator
from gankit.training.loop import Trainer


def train(tmp_path, objective, steps, *extra):
    paired = objective != "cyclegan"
    settings = [f"data.spec={'fake-pairs' if paired else 'fake-unpaired'}", "data.image_size=16",
                f"net.name={'unet' if paired else 'resnet-gen'}", "net.g_width=8", "net.d_width=8",
                f"train.objective={objective}", f"train.steps={steps}", "train.batch_size=16", "train.progress=false",
                "train.tensorboard=false", "train.sample_every=100000", "train.ckpt_every=100000", "train.grid=8", *extra]
    t0 = time.perf_counter()
    Trainer(build_config(None, overrides=settings), tmp_path, log=lambda m: None).run()
    return Generator.load(tmp_path), time.perf_counter() - t0


@torch.no_grad()
def held_out_l1(g):
    """(L1 of G's translations, L1 of copying the input, L1 of the way back) on the 256 test pairs."""
    test = load_data(DataConfig(spec="fake-pairs:test", image_size=16), sizes=None, log=lambda m: None)
    x, y = to_float(test.x), to_float(test.x2)
    out = g.objective.translate(g.net, x, "AtoB")
    back = g.objective.translate(g.net, out, "BtoA") if len(g.objective.directions()) == 2 else None
    cycle = None if back is None else (back - x).abs().mean().item()
    return (out - y).abs().mean().item(), (x - y).abs().mean().item(), cycle


@pytest.mark.parametrize("objective", ["pix2pix", "l1-only"])
def test_paired_colour_mapping_is_learned(tmp_path, objective):
    g, seconds = train(tmp_path, objective, 100)
    l1, identity, _ = held_out_l1(g)
    assert l1 < 0.2 * identity, (l1, identity)  # measured: 0.17 vs 1.50
    assert seconds < 60


def test_cyclegan_learns_the_mapping_from_unpaired_sets(tmp_path):
    g, seconds = train(tmp_path, "cyclegan", 60, "translation.blocks=1")
    l1, identity, cycle = held_out_l1(g)
    assert l1 < 0.2 * identity, (l1, identity)  # measured: 0.13-0.14 vs 1.50 over 3 seeds (it never saw a pair)
    assert cycle < 0.25, cycle  # measured: 0.12-0.17
    assert seconds < 60


def test_the_criterion_has_teeth_an_untrained_g_fails_it(tmp_path):
    g, _ = train(tmp_path, "pix2pix", 1)
    l1, identity, _ = held_out_l1(g)
    assert l1 > 0.4 * identity  # measured: 0.75 vs 1.50
