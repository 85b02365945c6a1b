"""Reference-statistics cache: keyed by everything that produced the numbers, atomic, never stale."""
import numpy as np
import pytest
import torch

from gankit.metrics.cache import StatsCache, content_hash, reference_stats, stats_key


class CountingExtractor:
    """A cheap stand-in extractor: mean grey level per row block; counts how often it runs."""

    def __init__(self, name="toy-ext", weights_hash="w1", protocol="rows-mean-v1", probs=False):
        self.name, self.weights_hash, self.protocol, self.has_probs = name, weights_hash, protocol, probs
        self.calls = 0

    def features(self, x):
        self.calls += 1
        return x.float().mean(dim=(1, 3)).double().numpy()  # (N, H)

    def predict_proba(self, x):
        f = torch.from_numpy(self.features(x))
        return torch.softmax(f, 1).numpy()


def images(seed=0, n=40):
    return torch.randint(0, 256, (n, 1, 8, 8), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


@pytest.fixture
def store(tmp_path):
    return StatsCache(tmp_path / "stats")


def test_same_inputs_hit_the_cache(store):
    ext, x = CountingExtractor(), images()
    a, info_a = reference_stats(ext, x, None, "toy:test", store)
    b, info_b = reference_stats(ext, x.clone(), None, "toy:test", store)
    assert not info_a["hit"] and info_b["hit"] and ext.calls == 1
    assert info_a["key"] == info_b["key"]
    for k in ("features", "mu", "sigma"):
        assert np.array_equal(a[k], b[k])
    # The statistics are those of the features (checked against numpy directly).
    f = x.float().mean(dim=(1, 3)).double().numpy()
    np.testing.assert_allclose(b["mu"], f.mean(0), rtol=1e-12)
    np.testing.assert_allclose(b["sigma"], np.cov(f, rowvar=False), rtol=1e-12)


def test_one_changed_pixel_gives_fresh_statistics(store):
    ext, x = CountingExtractor(), images()
    a, info_a = reference_stats(ext, x, None, "toy:test", store)
    y = x.clone()
    y[3, 0, 2, 5] ^= 0x10  # one pixel of one image
    b, info_b = reference_stats(ext, y, None, "toy:test", store)
    assert not info_b["hit"] and info_a["key"] != info_b["key"] and ext.calls == 2
    assert not np.array_equal(a["mu"], b["mu"])
    np.testing.assert_allclose(b["mu"], y.float().mean(dim=(1, 3)).double().numpy().mean(0), rtol=1e-12)


@pytest.mark.parametrize("change", ["name", "weights_hash", "protocol", "count", "labels", "spec"])
def test_anything_that_produced_the_numbers_is_in_the_key(store, change):
    x, labels = images(), torch.arange(40) % 10
    base = CountingExtractor()
    _, info0 = reference_stats(base, x, labels, "toy:test", store)
    ext, xs, ys, spec = CountingExtractor(), x, labels, "toy:test"
    if change in ("name", "weights_hash", "protocol"):
        setattr(ext, change, getattr(ext, change) + "-changed")
    elif change == "count":
        xs, ys = x[:39], labels[:39]
    elif change == "labels":
        ys = labels.flip(0)
    else:
        spec = "toy:train"
    _, info = reference_stats(ext, xs, ys, spec, store)
    assert not info["hit"] and info["key"] != info0["key"] and ext.calls == 1
    # ... and the original entry is still there, untouched.
    _, again = reference_stats(base, x, labels, "toy:test", store)
    assert again["hit"]


def test_damaged_or_mismatching_file_is_recomputed(store):
    ext, x = CountingExtractor(), images()
    _, info = reference_stats(ext, x, None, "toy:test", store)
    path = store.path(info["fields"])
    path.write_bytes(b"PK\x03\x04 not really a zip")
    _, info2 = reference_stats(ext, x, None, "toy:test", store)
    assert not info2["hit"] and ext.calls == 2
    # A file whose stored fields differ from the key's fields (e.g. a collision) is not trusted.
    arrays = store.load(info["fields"])
    store.save({**info["fields"], "count": 1}, arrays)  # write under another key, then move it over
    store.path({**info["fields"], "count": 1}).replace(path)
    assert store.load(info["fields"]) is None


def test_writes_are_atomic_and_leave_no_temporary_files(store):
    ext = CountingExtractor(probs=True)
    arrays, info = reference_stats(ext, images(), None, "toy:test", store)
    files = sorted(p.name for p in store.root.iterdir())
    assert files == [store.path(info["fields"]).name]
    assert "probs" in arrays and arrays["probs"].shape == (40, 8)


def test_no_cache_means_no_files(tmp_path):
    ext = CountingExtractor()
    reference_stats(ext, images(), None, "toy:test", None)
    reference_stats(ext, images(), None, "toy:test", None)
    assert ext.calls == 2 and not any(tmp_path.iterdir())


def test_content_hash_and_key():
    x = images()
    assert content_hash(x) == content_hash(x.clone())
    assert content_hash(x) != content_hash(x, torch.zeros(40, dtype=torch.long))
    assert content_hash(x) != content_hash(x.reshape(40, 64))  # shape is part of the content
    assert stats_key({"a": 1, "b": 2}) == stats_key({"b": 2, "a": 1})
    assert stats_key({"a": 1}) != stats_key({"a": 2})
