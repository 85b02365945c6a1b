"""FID / KID / bootstrap checked against independent formulas (scipy sqrtm, closed forms, brute-force loops)."""
import itertools
import math

import numpy as np
import pytest
import scipy.linalg
import torch

from gankit.errors import GankitError
from gankit.metrics import bootstrap_fid, feature_stats, fid_from_features, frechet_distance, kid


def random_features(rng, n, d, shift=0.0):
    """Correlated Gaussian features (n, d) with a random mixing matrix, so covariances are full and non-diagonal."""
    mix = rng.standard_normal((d, d)) / math.sqrt(d)
    return rng.standard_normal((n, d)) @ mix + shift + rng.standard_normal(d)


def sqrtm_reference(mu1, s1, mu2, s2):
    """The textbook formula with scipy.linalg.sqrtm (what pytorch-fid does, without its fallbacks)."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real)


def closed_form_commuting(mu1, var1, mu2, var2):
    """Exact d^2 for covariances diagonal in the same basis, given their eigenvalues var1, var2 (D,)."""
    return float(((mu1 - mu2) ** 2).sum() + (var1 + var2 - 2 * np.sqrt(var1 * var2)).sum())


@pytest.mark.parametrize("d, seed", [(2, 0), (8, 1), (32, 2), (64, 3)])
def test_frechet_matches_scipy_sqrtm(d, seed):
    rng = np.random.default_rng(seed)
    a = random_features(rng, 4 * d + 50, d)
    b = random_features(rng, 3 * d + 40, d, shift=0.3)
    stats = (*feature_stats(a), *feature_stats(b))
    got, ref = frechet_distance(*stats), sqrtm_reference(*stats)
    assert ref > 0
    assert abs(got - ref) / ref <= 1e-6


def test_frechet_1d_closed_form():
    # (m1 - m2)^2 + s1 + s2 - 2 sqrt(s1 s2) for two 1-D Gaussians with variances s1, s2.
    for m1, s1, m2, s2 in [(0.0, 1.0, 0.0, 4.0), (1.5, 0.2, -2.0, 3.0), (3.0, 2.0, 3.0, 2.0)]:
        expected = (m1 - m2) ** 2 + s1 + s2 - 2 * math.sqrt(s1 * s2)
        got = frechet_distance(np.array([m1]), np.array([[s1]]), np.array([m2]), np.array([[s2]]))
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("rotate", [False, True])
def test_frechet_commuting_covariances_exact(rotate):
    # Diagonal covariances, optionally both rotated by the same random orthogonal Q (so they stay
    # commuting but are dense): the closed form is exact, and we ask for ~1e-10 relative.
    rng = np.random.default_rng(5)
    d = 48
    var1, var2 = rng.uniform(0.1, 3.0, d), rng.uniform(0.1, 3.0, d)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    q = np.linalg.qr(rng.standard_normal((d, d)))[0] if rotate else np.eye(d)
    s1, s2 = q @ np.diag(var1) @ q.T, q @ np.diag(var2) @ q.T
    s1, s2 = (s1 + s1.T) / 2, (s2 + s2.T) / 2
    expected = closed_form_commuting(mu1, var1, mu2, var2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-10)


def test_frechet_singular_first_covariance_exact():
    # sigma1 of rank 30 in 48-D (Cholesky fails; the eigh square root is used), dense via a shared
    # rotation; the closed form still holds with zero variances.
    rng = np.random.default_rng(6)
    d = 48
    var1 = np.concatenate([rng.uniform(0.1, 3.0, 30), np.zeros(d - 30)])
    var2 = rng.uniform(0.1, 3.0, d)
    q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    s1, s2 = q @ np.diag(var1) @ q.T, q @ np.diag(var2) @ q.T
    s1, s2 = (s1 + s1.T) / 2, (s2 + s2.T) / 2
    mu = rng.standard_normal(d)
    expected = closed_form_commuting(mu, var1, 0 * mu, var2)
    assert frechet_distance(mu, s1, 0 * mu, s2) == pytest.approx(expected, rel=1e-10)
    assert frechet_distance(0 * mu, s2, mu, s1) == pytest.approx(expected, rel=1e-10)


def test_fid_of_a_set_with_itself_is_zero():
    rng = np.random.default_rng(0)
    x = random_features(rng, 300, 40)
    mu, sigma = feature_stats(x)
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-6
    assert abs(fid_from_features(x, x)) < 1e-6


def test_fid_singular_covariance_translation():
    # Fewer samples than features (rank-deficient covariance, where sqrtm struggles): translating
    # a set by t leaves the covariance unchanged, so the exact answer is ||t||^2.
    rng = np.random.default_rng(1)
    x = rng.standard_normal((20, 64))
    t = rng.standard_normal(64)
    assert fid_from_features(x, x + t) == pytest.approx(float(t @ t), rel=1e-8)


def test_fid_symmetric_and_order_invariant():
    rng = np.random.default_rng(2)
    a, b = random_features(rng, 400, 24), random_features(rng, 300, 24, shift=0.5)
    ab = fid_from_features(a, b)
    assert ab > 0.1
    assert fid_from_features(b, a) == pytest.approx(ab, rel=1e-10)
    perm_a, perm_b = rng.permutation(len(a)), rng.permutation(len(b))
    assert fid_from_features(a[perm_a], b[perm_b]) == pytest.approx(ab, rel=1e-10)


def test_fid_accepts_torch_and_float32():
    rng = np.random.default_rng(3)
    a, b = random_features(rng, 200, 8), random_features(rng, 200, 8, shift=1.0)
    ref = fid_from_features(a, b)
    got = fid_from_features(torch.from_numpy(a.astype(np.float32)), torch.from_numpy(b.astype(np.float32)))
    assert got == pytest.approx(ref, rel=1e-5)


@pytest.mark.parametrize(
    "call",
    [
        lambda: fid_from_features(np.zeros((10, 3)), np.zeros((10, 4))),  # feature dims differ
        lambda: fid_from_features(np.zeros(10), np.zeros(10)),  # not (N, D)
        lambda: fid_from_features(np.full((10, 3), np.nan), np.zeros((10, 3))),
        lambda: frechet_distance(np.zeros(3), np.eye(2), np.zeros(3), np.eye(3)),  # shapes
        lambda: frechet_distance(np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]]), np.zeros(2), np.eye(2)),
        lambda: kid(np.zeros((1, 3)), np.zeros((5, 3))),  # subset of 1
        lambda: bootstrap_fid(np.zeros((10, 3)), np.zeros((10, 3)), ci=1.5),
    ],
)
def test_bad_inputs_raise_user_error(call):
    with pytest.raises(GankitError):
        call()


# ----------------------------------------------------------------------------- KID

def brute_force_mmd2(a, b, gamma, coef0, degree):
    """Unbiased MMD^2 as written in Binkowski 2018 eq. (2) with the cross term over all pairs, by loops."""
    m = len(a)

    def k(x, y):
        return (gamma * sum(xi * yi for xi, yi in zip(x, y)) + coef0) ** degree

    xx = sum(k(a[i], a[j]) for i, j in itertools.permutations(range(m), 2))
    yy = sum(k(b[i], b[j]) for i, j in itertools.permutations(range(m), 2))
    xy = sum(k(a[i], b[j]) for i in range(m) for j in range(m))
    return (xx + yy) / (m * (m - 1)) - 2 * xy / (m * m)


@pytest.mark.parametrize("degree, gamma, coef0", [(3, None, 1.0), (2, 0.5, 0.3)])
def test_kid_matches_brute_force(degree, gamma, coef0):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((9, 4)), rng.standard_normal((9, 4)) + 0.7
    expected = brute_force_mmd2(a.tolist(), b.tolist(), 1 / 4 if gamma is None else gamma, coef0, degree)
    # subset_size >= n: every subset is the whole set (in some order), so every draw equals the loop.
    for subset_size in (9, 1000):
        mean, std = kid(a, b, subsets=3, subset_size=subset_size, degree=degree, gamma=gamma, coef0=coef0)
        assert mean == pytest.approx(expected, rel=1e-12)
        assert std < 1e-12


def test_kid_same_distribution_near_zero_shifted_positive():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((600, 16)), rng.standard_normal((600, 16))
    same_mean, same_std = kid(a, b, subsets=20, subset_size=300)
    shifted_mean, shifted_std = kid(a, b + 0.5, subsets=20, subset_size=300)
    assert abs(same_mean) < 0.02
    assert shifted_mean > 0.5
    assert shifted_mean - 3 * shifted_std > 20 * abs(same_mean)


def test_kid_seeded():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((100, 5)), rng.standard_normal((120, 5)) + 0.3
    assert kid(a, b, subsets=5, subset_size=50, seed=7) == kid(a, b, subsets=5, subset_size=50, seed=7)
    assert kid(a, b, subsets=5, subset_size=50, seed=7) != kid(a, b, subsets=5, subset_size=50, seed=8)


# ----------------------------------------------------------------------------- bootstrap

def test_bootstrap_fid_interval():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((500, 4))
    b = rng.standard_normal((500, 4)) + np.array([10.0, 0, 0, 0])
    point = fid_from_features(a, b)  # about ||t||^2 = 100; resampling b moves its mean by ~0.05 per dim
    low, high = bootstrap_fid(a, b, n_boot=200, seed=0)
    assert low < point < high
    assert high - low < 10.0
    assert bootstrap_fid(a, b, n_boot=50, seed=1) == bootstrap_fid(a, b, n_boot=50, seed=1)
    narrow = bootstrap_fid(a, b, n_boot=200, seed=0, ci=0.5)
    assert low <= narrow[0] <= narrow[1] <= high
