"""Sample-quality scores as pure functions of arrays: IS, precision/recall, density/coverage,
class coverage and the PacGAN mode count for 2D toy mixtures.

Inputs may be numpy arrays or torch tensors; everything is computed in float64 and returned as
Python numbers so results go straight into metrics.jsonl.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import xlogy

from ..errors import GankitError
from .distances import _as_2d, _same_dim


# ----------------------------------------------------------------------------- Inception Score

def inception_score(probs, splits: int = 10) -> tuple[float, float]:
    """Inception Score (Salimans et al. 2016): exp E_x KL(p(y|x) || p(y)), mean and std over splits.

    Args:
        probs: class probabilities (N, K), rows summing to 1 (softmax outputs, not logits).
        splits: the N rows are cut into this many contiguous, near-equal parts (boundaries
            i * N // splits, as in the original code); p(y) is the mean of each part.

    Returns:
        (mean, std) of the per-split scores (std with ddof=0, as in the original code).
        Ranges from 1 (every prediction equal) to K (confident and evenly spread).
    """
    p = _as_2d(probs, "probs")
    if (p < 0).any():
        raise GankitError("inception_score: probs has negative entries; pass softmax probabilities, not logits")
    rows = p.sum(axis=1)
    if not np.allclose(rows, 1.0, atol=1e-3):
        raise GankitError(
            "inception_score: rows of probs must sum to 1 (got sums between "
            f"{rows.min():.4g} and {rows.max():.4g}); apply softmax to the classifier logits first"
        )
    p = p / rows[:, None]  # remove float32 softmax rounding so the score is exact for exact inputs
    n = len(p)
    if not 1 <= splits <= n:
        raise GankitError(f"inception_score: splits must be between 1 and the number of samples ({n}), got {splits}")
    scores = []
    for i in range(splits):
        part = p[i * n // splits:(i + 1) * n // splits]  # (n_i, K)
        py = part.mean(axis=0, keepdims=True)  # (1, K) marginal p(y) of this split
        # xlogy gives 0 * log 0 = 0 exactly, so one-hot rows need no eps; py > 0 wherever part > 0.
        kl = (xlogy(part, part) - xlogy(part, py)).sum(axis=1)  # (n_i,)
        scores.append(math.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


# ----------------------------------------------------------------------------- k-NN manifolds

def _sq_dists(x: torch.Tensor, y: torch.Tensor, y_sq: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances (b, N) between rows of x (b, D) and y (N, D), one BLAS matmul.

    The expanded form loses nothing that matters in float64, and comparing squared distances with
    squared radii avoids D-dimensional difference tensors and square roots.
    """
    d = (x * x).sum(1, keepdim=True) + y_sq[None, :] - 2.0 * (x @ y.T)
    return d.clamp_min_(0.0)


def _knn_radii_sq(x: torch.Tensor, k: int, batch: int) -> torch.Tensor:
    """Squared distance (N,) from each row of x to its k-th nearest other row (itself excluded)."""
    x_sq = (x * x).sum(1)
    out = torch.empty(len(x), dtype=x.dtype, device=x.device)
    for s in range(0, len(x), batch):
        d = _sq_dists(x[s:s + batch], x, x_sq)  # (b, N)
        rows = torch.arange(len(d), device=x.device)
        d[rows, rows + s] = math.inf  # exclude self; an exact duplicate elsewhere still counts as 0
        out[s:s + batch] = torch.kthvalue(d, k, dim=1).values
    return out


def _manifold_pass(real: torch.Tensor, fake: torch.Tensor, r_real_sq: torch.Tensor,
                   r_fake_sq: torch.Tensor | None, batch: int):
    """One chunked sweep over all (fake, real) pairs.

    Returns:
        balls_per_fake (M,): how many real balls B(real_i, r_i) contain each fake sample;
        real_hit (N,): whether real_i's ball contains at least one fake sample (coverage);
        real_in_fake (N,) or None: whether real_i lies in at least one fake ball (recall).
    """
    real_sq = (real * real).sum(1)
    balls_per_fake = torch.empty(len(fake), dtype=torch.long, device=real.device)
    real_hit = torch.zeros(len(real), dtype=torch.bool, device=real.device)
    real_in_fake = None if r_fake_sq is None else torch.zeros_like(real_hit)
    for s in range(0, len(fake), batch):
        d = _sq_dists(fake[s:s + batch], real, real_sq)  # (b, N)
        inside_real = d <= r_real_sq[None, :]  # (b, N): fake_j in real_i's ball
        balls_per_fake[s:s + batch] = inside_real.sum(1)
        real_hit |= inside_real.any(0)
        if real_in_fake is not None:
            real_in_fake |= (d <= r_fake_sq[s:s + batch, None]).any(0)  # real_i in fake_j's ball
    return balls_per_fake, real_hit, real_in_fake


def _prepare(real_feats, fake_feats, k: int, batch: int, device, fn: str):
    real = _as_2d(real_feats, "real_feats")
    fake = _as_2d(fake_feats, "fake_feats")
    _same_dim(real, fake, "real_feats", "fake_feats")
    n = min(len(real), len(fake))
    if not 1 <= k < n:
        raise GankitError(f"{fn}: k must be between 1 and the smaller set size minus 1 ({n - 1}), got {k}")
    if batch < 1:
        raise GankitError(f"{fn}: batch must be >= 1, got {batch}")
    return torch.from_numpy(real).to(device), torch.from_numpy(fake).to(device)


def precision_recall(real_feats, fake_feats, k: int = 3, batch: int = 1024,
                     device: str | torch.device = "cpu") -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    Each set's manifold is the union of balls around its samples, with radius the distance to the
    sample's k-th nearest neighbour in the same set (itself excluded). Precision is the fraction of
    fake samples inside the real manifold, recall the fraction of real samples inside the fake one.
    Points exactly on a ball's boundary count as inside.

    Distances are computed in float64 in row chunks of `batch`, so memory is O(batch * N + N * D):
    two 10k x 2048 sets peak at about 1.4 GB resident (float64 copies and torch included) and take
    about a minute on 2 CPU cores. `device` picks where the arithmetic runs (e.g. "cuda").

    Returns:
        {"precision": float, "recall": float}, both in [0, 1].
    """
    real, fake = _prepare(real_feats, fake_feats, k, batch, device, "precision_recall")
    r_real = _knn_radii_sq(real, k, batch)
    r_fake = _knn_radii_sq(fake, k, batch)
    balls_per_fake, _, real_in_fake = _manifold_pass(real, fake, r_real, r_fake, batch)
    return {
        "precision": float((balls_per_fake > 0).double().mean()),
        "recall": float(real_in_fake.double().mean()),
    }


def density_coverage(real_feats, fake_feats, k: int = 5, batch: int = 1024,
                     device: str | torch.device = "cpu") -> dict[str, float]:
    """Density and coverage (Naeem et al. 2020), built on real-sample k-NN balls only.

    density  = 1/(k M) sum_j #{i : fake_j in B(real_i, r_i)}   (about 1 when the sets match; unbounded)
    coverage = 1/N #{i : B(real_i, r_i) contains some fake_j}    (in [0, 1])

    with r_i the distance from real_i to its k-th nearest other real sample. Boundary points count
    as inside. Memory and `device` as in `precision_recall`.

    Returns:
        {"density": float, "coverage": float}.
    """
    real, fake = _prepare(real_feats, fake_feats, k, batch, device, "density_coverage")
    r_real = _knn_radii_sq(real, k, batch)
    balls_per_fake, real_hit, _ = _manifold_pass(real, fake, r_real, None, batch)
    return {
        "density": float(balls_per_fake.double().sum() / (k * len(fake))),
        "coverage": float(real_hit.double().mean()),
    }


# ----------------------------------------------------------------------------- discrete modes

def _smoothed(counts: np.ndarray, eps: float) -> np.ndarray:
    """Histogram (K,) -> probabilities with eps added to each bin, so KL stays finite on empty bins."""
    q = counts / counts.sum()
    return (q + eps) / (1.0 + eps * len(q))


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.sum(p * np.log(p / q)))  # both smoothed: strictly positive


def _as_labels(labels, num_classes: int, name: str) -> np.ndarray:
    if hasattr(labels, "detach"):
        labels = labels.detach().cpu().numpy()
    y = np.asarray(labels).reshape(-1)
    if y.size == 0:
        raise GankitError(f"{name} is empty; pass at least one label")
    integral = y.dtype.kind in "iub" or (y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all())
    if not integral:
        raise GankitError(f"{name} must hold integer class ids, got dtype {y.dtype}; take argmax of the probabilities first")
    y = y.astype(np.int64)
    if y.min() < 0 or y.max() >= num_classes:
        raise GankitError(f"{name} has class ids in [{y.min()}, {y.max()}] but num_classes is {num_classes}")
    return y


def class_coverage(pred_labels, num_classes: int, ref_labels=None, eps: float = 1e-10) -> dict[str, float]:
    """How many classes a generator produces, and how far its class histogram is from a reference.

    Args:
        pred_labels: class ids (N,) that a classifier assigns to generated samples.
        num_classes: K.
        ref_labels: class ids of reference (real) samples; None means a uniform reference.
        eps: added to every bin of both histograms (as probabilities) so the KL is finite.

    Returns:
        {"classes_covered": int (classes predicted at least once),
         "kl_to_ref": KL(p_fake || p_ref) in nats (0 when the histograms match)}.
    """
    if num_classes < 1:
        raise GankitError(f"class_coverage: num_classes must be >= 1, got {num_classes}")
    counts = np.bincount(_as_labels(pred_labels, num_classes, "pred_labels"), minlength=num_classes)
    if ref_labels is None:
        p_ref = np.full(num_classes, 1.0 / num_classes)
    else:
        p_ref = _smoothed(np.bincount(_as_labels(ref_labels, num_classes, "ref_labels"), minlength=num_classes), eps)
    return {"classes_covered": int((counts > 0).sum()), "kl_to_ref": _kl(_smoothed(counts, eps), p_ref)}


def toy_modes(samples, centres, std: float, ref_probs=None, eps: float = 1e-10) -> dict[str, float]:
    """Mode collapse on a Gaussian mixture, with the PacGAN protocol (Lin et al. 2018).

    Each sample goes to its nearest centre and is high quality if within 3 * std of it. A mode is
    captured when at least 20 high-quality samples per 2500 land on it (threshold 20 N / 2500,
    at least 1).

    Args:
        samples: generated points (N, D), usually D = 2.
        centres: mixture means (M, D).
        std: the mixture components' standard deviation.
        ref_probs: true mode probabilities (M,); None means uniform.
        eps: smoothing of both histograms in the KL.

    Returns:
        {"modes": int (captured modes), "high_quality": fraction of samples within 3 std,
         "reverse_kl": KL(q || p) in nats, q the histogram of high-quality samples over modes and
         p the true mode probabilities; nan when no sample is high quality (q undefined)}.
    """
    x = _as_2d(samples, "samples")
    c = _as_2d(centres, "centres")
    _same_dim(x, c, "samples", "centres")
    if not std > 0:
        raise GankitError(f"toy_modes: std must be > 0, got {std}")
    m = len(c)
    if ref_probs is None:
        p = np.full(m, 1.0 / m)
    else:
        p = np.asarray(ref_probs, dtype=np.float64).reshape(-1)
        if p.shape != (m,) or (p < 0).any() or not p.sum() > 0:
            raise GankitError(f"toy_modes: ref_probs must be {m} non-negative numbers (one per centre), got {p.tolist()}")
        p = _smoothed(p, eps)

    d2 = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)  # (N, M); small: M is tens, D is 2
    nearest = d2.argmin(axis=1)  # (N,)
    hq = d2[np.arange(len(x)), nearest] <= (3.0 * std) ** 2  # (N,)
    counts = np.bincount(nearest[hq], minlength=m)  # (M,) high-quality samples per mode
    threshold = max(1.0, 20.0 * len(x) / 2500.0)
    reverse_kl = _kl(_smoothed(counts, eps), p) if counts.sum() > 0 else math.nan
    return {
        "modes": int((counts >= threshold).sum()),
        "high_quality": float(hq.mean()),
        "reverse_kl": reverse_kl,
    }
