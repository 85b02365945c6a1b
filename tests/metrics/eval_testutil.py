"""Shared, memoised pieces for the evaluation tests (a plain module: a conftest.py here would shadow
tests/conftest.py for `from conftest import ...`).

Everything the tests cache goes to one temporary folder per test process, never ~/.cache.
"""
import atexit
import functools
import shutil
import tempfile

import numpy as np
import torch

CACHE = tempfile.mkdtemp(prefix="gankit-eval-tests-")
atexit.register(shutil.rmtree, CACHE, True)


@functools.lru_cache(maxsize=None)
def digits(split: str):
    from gankit.config import DataConfig
    from gankit.data import load_data

    return load_data(DataConfig(spec=f"digits:{split}"), None, lambda m: None)


def noise_images(n: int, shape=(1, 8, 8), seed: int = 0) -> torch.Tensor:
    """Uniform noise uint8 images (n, C, H, W)."""
    return torch.randint(0, 256, (n, *shape), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


@functools.lru_cache(maxsize=None)
def domain_digits():
    """The digits domain classifier, trained once per test process into CACHE."""
    from gankit.metrics.extractors import DomainExtractor

    before = DomainExtractor.trainings
    ext = DomainExtractor.for_spec("digits", cache_dir=f"{CACHE}/extractors")
    return ext, DomainExtractor.trainings - before


def save_npz(path, images_nchw: torch.Tensor, labels=None):
    extra = {} if labels is None else {"labels": np.asarray(labels)}
    np.savez(path, images=images_nchw.permute(0, 2, 3, 1).numpy(), **extra)
    return path
