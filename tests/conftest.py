import os

import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _threads():
    # Two cores on CI: one intra-op thread per test keeps timings stable and runs deterministic.
    torch.set_num_threads(1)
    yield


def tiny_config(**settings):
    """A small, fast run config on the synthetic `fake` data (or what `settings` say)."""
    from gankit.config import build_config

    base = {"data.spec": "fake", "data.image_size": 16, "net.z_dim": 8, "net.g_width": 8, "net.d_width": 8,
            "train.batch_size": 8, "train.steps": 2, "train.progress": False, "train.tensorboard": False,
            "train.log_every": 1, "train.sample_every": 1000, "train.ckpt_every": 1000, "train.grid": 4}
    loss = settings.pop("loss.name", None)
    flags = {**base, **settings}
    if loss:
        flags["loss.name"] = loss
    return build_config(None, flags)
