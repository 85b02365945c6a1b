"""Distances between two sets of features: Fréchet (FID), kernel (KID) and a bootstrap interval for FID.

Everything here is a pure function of feature arrays (N, D) -> floats, computed in float64 on the CPU.
Which network produced the features (Inception pool3, a classifier, raw pixels ...) is the caller's
business; these functions only need two matrices with the same number of columns.
"""
from __future__ import annotations

import numpy as np

from ..errors import GankitError


def _as_2d(x, name: str, min_rows: int = 1) -> np.ndarray:
    """Any (N, D) array-like or torch tensor -> float64 numpy array, with a one-line error otherwise."""
    if hasattr(x, "detach"):  # a torch tensor, possibly on a GPU or requiring grad
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise GankitError(f"{name} must be a 2-D array (N, D) of features, got shape {tuple(x.shape)}")
    if len(x) < min_rows:
        raise GankitError(f"{name} needs at least {min_rows} rows (samples), got {len(x)}")
    if not np.isfinite(x).all():
        raise GankitError(f"{name} contains NaN or inf; check the generator or feature extractor output")
    return x


def _same_dim(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise GankitError(
            f"{name_a} has {a.shape[1]} features per sample but {name_b} has {b.shape[1]}; "
            "both sets must come from the same feature extractor"
        )


def _resolved(w: np.ndarray) -> np.ndarray:
    """Eigenvalues (D,) of a PSD matrix with those below the eigensolver's noise floor set to 0.

    eigh/eigvalsh are accurate to about D * eps * max|w| in absolute terms, so smaller eigenvalues
    (the null space of a covariance from fewer samples than features, or tiny negatives) are
    rounding noise (measured ~3e-16 * max|w|). Left in, noise e adds sqrt(e) ~ 1e-8 * sqrt(max|w|)
    per eigenvalue to a sum of square roots (a 20 x 64 feature set then gave FID(x, x + t) off by
    3e-8 relative); cut, a singular case is exact. The cutoff is the one np.linalg.matrix_rank uses.
    """
    tol = np.abs(w).max(initial=0.0) * len(w) * np.finfo(np.float64).eps
    return np.where(w > tol, w, 0.0)


def _sqrt_psd(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root (D, D) of a PSD matrix via eigh, unresolved eigenvalues set to 0."""
    w, v = np.linalg.eigh(sigma)  # sigma = v diag(w) v^T, w ascending
    return (v * np.sqrt(_resolved(w))) @ v.T  # (D, D), symmetric


def _factor(sigma: np.ndarray) -> np.ndarray:
    """Some F (D, D) with sigma = F F^T: Cholesky when sigma is positive definite, else sqrt(sigma).

    Cholesky costs about a tenth of an eigendecomposition; it fails on singular covariances
    (fewer samples than features), which then take the eigh square root.
    """
    try:
        return np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:
        return _sqrt_psd(sigma)


def _trace_sqrt_product(f1: np.ndarray, s2: np.ndarray) -> float:
    """tr sqrt(S1 S2) given a factor S1 = F F^T.

    S1 S2 = F (F^T S2 F) F^-1 is similar to the symmetric PSD matrix M = F^T S2 F, so both have the
    same real, non-negative eigenvalues and tr sqrt(S1 S2) = sum_i sqrt(eig_i(M)) (for singular S1
    by continuity). Unlike scipy.linalg.sqrtm this needs one symmetric eigenvalue solve (fast,
    backward stable) and never produces complex parts.
    """
    m = f1.T @ s2 @ f1  # (D, D)
    m = 0.5 * (m + m.T)  # exact symmetry so eigvalsh reads the matrix it was meant to
    return float(np.sqrt(_resolved(np.linalg.eigvalsh(m))).sum())


def _check_stats(mu, sigma, name: str) -> tuple[np.ndarray, np.ndarray]:
    mu = np.atleast_1d(np.asarray(mu, dtype=np.float64))
    sigma = np.atleast_2d(np.asarray(sigma, dtype=np.float64))
    if mu.ndim != 1 or sigma.shape != (len(mu), len(mu)):
        raise GankitError(
            f"{name}: expected a mean of shape (D,) and a covariance of shape (D, D), "
            f"got {tuple(mu.shape)} and {tuple(sigma.shape)}"
        )
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise GankitError(f"{name}: mean or covariance contains NaN or inf")
    # Loose on purpose: float32 covariances from other tools are symmetric only to ~1e-7 relative.
    if np.abs(sigma - sigma.T).max(initial=0.0) > 1e-6 * np.abs(sigma).max(initial=0.0):
        raise GankitError(f"{name}: covariance is not symmetric; pass np.cov(features, rowvar=False)")
    return mu, 0.5 * (sigma + sigma.T)


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Squared Fréchet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2).

    d^2 = ||mu1 - mu2||^2 + tr(sigma1) + tr(sigma2) - 2 tr sqrt(sigma1 sigma2)   (Dowson & Landau 1982),
    which is FID (Heusel et al. 2017) when the statistics are Inception pool3 features.

    The trace term comes from a Cholesky factor and one symmetric eigenvalue solve in float64 (see
    `_trace_sqrt_product`) rather than scipy.linalg.sqrtm: it agrees with the exact value to ~1e-12 relative on
    well-conditioned inputs, handles singular covariances (fewer samples than features) without
    the complex-part / offset hacks, and is several times faster at D = 2048.

    Args:
        mu1, mu2: means, shape (D,).
        sigma1, sigma2: covariances, shape (D, D), symmetric positive semi-definite.

    Returns:
        The distance as a Python float (>= 0 up to rounding; rounding noise below 0 is reported as 0).
    """
    mu1, sigma1 = _check_stats(mu1, sigma1, "frechet_distance (first set)")
    mu2, sigma2 = _check_stats(mu2, sigma2, "frechet_distance (second set)")
    if len(mu1) != len(mu2):
        raise GankitError(f"frechet_distance: the two sets have {len(mu1)} and {len(mu2)} features; they must match")
    diff = mu1 - mu2
    tr_sqrt = _trace_sqrt_product(_factor(sigma1), sigma2)
    d2 = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_sqrt)
    # d2 is a squared distance; a value like -1e-13 is cancellation noise for identical statistics.
    return max(d2, 0.0)


def feature_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), both float64."""
    x = _as_2d(features, "features", min_rows=2)
    return x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])


def fid_from_features(a, b) -> float:
    """Fréchet distance between the Gaussians fitted to two feature sets (N_a, D) and (N_b, D)."""
    a = _as_2d(a, "first feature set", min_rows=2)
    b = _as_2d(b, "second feature set", min_rows=2)
    _same_dim(a, b, "first feature set", "second feature set")
    return frechet_distance(*feature_stats(a), *feature_stats(b))


def _poly_kernel(x: np.ndarray, y: np.ndarray, gamma: float, coef0: float, degree: int) -> np.ndarray:
    return (x @ y.T * gamma + coef0) ** degree  # (n_x, n_y)


def kid(feat_a, feat_b, subsets: int = 100, subset_size: int = 1000, degree: int = 3,
        gamma: float | None = None, coef0: float = 1, seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD^2 with a polynomial kernel.

    k(x, y) = (gamma x.y + coef0)^degree, by default (x.y / D + 1)^3. For each of `subsets` draws,
    m = min(subset_size, N_a, N_b) rows of each set are taken without replacement and

        MMD^2 = sum_{i != j} [k(a_i, a_j) + k(b_i, b_j)] / (m (m - 1)) - 2 sum_{i, j} k(a_i, b_j) / m^2,

    the estimator used by torch-fidelity and clean-fid (the cross term keeps its diagonal, so it is
    unbiased: a_i and b_i are independent). Can be slightly negative when the sets match.

    Args:
        feat_a, feat_b: features (N_a, D) and (N_b, D).
        subsets: number of random subsets averaged.
        subset_size: rows per subset, clipped to the smaller set.
        degree, gamma, coef0: kernel parameters; gamma None means 1 / D.
        seed: seeds the numpy Generator that draws the subsets.

    Returns:
        (mean, std) of MMD^2 over the subsets (std with ddof=0, as torch-fidelity reports).
    """
    a = _as_2d(feat_a, "feat_a")
    b = _as_2d(feat_b, "feat_b")
    _same_dim(a, b, "feat_a", "feat_b")
    if subsets < 1:
        raise GankitError(f"kid: subsets must be >= 1, got {subsets}")
    m = min(int(subset_size), len(a), len(b))
    if m < 2:
        raise GankitError(f"kid: need at least 2 samples per subset, got {m}; pass more features or a larger subset_size")
    gamma = 1.0 / a.shape[1] if gamma is None else float(gamma)
    rng = np.random.default_rng(seed)
    mmds = np.empty(subsets)
    for s in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]  # (m, D)
        y = b[rng.choice(len(b), m, replace=False)]  # (m, D)
        k_xx = _poly_kernel(x, x, gamma, coef0, degree)
        k_yy = _poly_kernel(y, y, gamma, coef0, degree)
        k_xy = _poly_kernel(x, y, gamma, coef0, degree)
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        mmds[s] = within - 2.0 * k_xy.sum() / (m * m)
    return float(mmds.mean()), float(mmds.std())


def bootstrap_fid(feat_a, feat_b, n_boot: int = 100, seed: int = 0, ci: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval for FID, resampling the generated set `feat_b` with replacement.

    `feat_a` is the reference (real) set and stays fixed, so its factor is computed once and each
    replicate costs one symmetric eigenvalue solve. The interval shows how much FID moves with the choice
    of generated samples; it is not bias-corrected (FID is biased upward at finite N, and duplicate
    rows in a resample shrink the effective N, so replicates sit slightly above the point estimate).

    Returns:
        (low, high): the (1 - ci) / 2 and (1 + ci) / 2 quantiles of the replicate FIDs.
    """
    a = _as_2d(feat_a, "feat_a", min_rows=2)
    b = _as_2d(feat_b, "feat_b", min_rows=2)
    _same_dim(a, b, "feat_a", "feat_b")
    if n_boot < 2:
        raise GankitError(f"bootstrap_fid: n_boot must be >= 2, got {n_boot}")
    if not 0.0 < ci < 1.0:
        raise GankitError(f"bootstrap_fid: ci must be in (0, 1), got {ci}")
    mu_a, sigma_a = feature_stats(a)
    f_a, tr_a = _factor(sigma_a), float(np.trace(sigma_a))
    rng = np.random.default_rng(seed)
    fids = np.empty(n_boot)
    for i in range(n_boot):
        mu_b, sigma_b = feature_stats(b[rng.integers(0, len(b), len(b))])
        diff = mu_a - mu_b
        d2 = diff @ diff + tr_a + np.trace(sigma_b) - 2.0 * _trace_sqrt_product(f_a, sigma_b)
        fids[i] = max(float(d2), 0.0)
    lo, hi = np.quantile(fids, [(1.0 - ci) / 2.0, (1.0 + ci) / 2.0])
    return float(lo), float(hi)
