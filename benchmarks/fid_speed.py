"""Fréchet distance: gankit's eigenvalue route vs the scipy.linalg.sqrtm formula (pytorch-fid style).

Builds two full-rank sample covariances of random correlated features (N = 2 D rows each, a decaying
spectrum like CNN features), computes the distance both ways and prints a table:

    python benchmarks/fid_speed.py                # D = 2048, the Inception pool3 size
    python benchmarks/fid_speed.py --dims 512,1024

sqrtm dominates the run time (a dense Schur decomposition of a non-symmetric D x D product); at
D = 2048 it takes from ~10 s on a 16-core machine to over a minute on 2 cores.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.linalg

from gankit.metrics import feature_stats, frechet_distance


def sqrtm_distance(mu1, s1, mu2, s2) -> float:
    """The textbook formula as pytorch-fid writes it (without its offset fallback)."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean).real)


def random_stats(rng, d: int, shift: float):
    """Mean (D,) and covariance (D, D) of 2 D correlated Gaussian features with a 1/i spectrum."""
    scale = 1.0 / np.sqrt(1.0 + np.arange(d))  # (D,) per-direction std before mixing
    mix = np.eye(d) + 0.5 * rng.standard_normal((d, d)) / np.sqrt(d)  # well-conditioned, dense
    x = (rng.standard_normal((2 * d, d)) * scale) @ mix + shift  # (2D, D)
    return feature_stats(x)


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dims", default="2048", help="comma-separated feature dimensions (default 2048)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    header = f"{'D':>6} {'FID eig':>16} {'FID sqrtm':>16} {'rel diff':>9} {'t eig s':>8} {'t sqrtm s':>9} {'sqrtm/eig':>9}"
    print(header)
    print("-" * len(header))
    for d in (int(v) for v in args.dims.split(",")):
        rng = np.random.default_rng(args.seed)
        stats = (*random_stats(rng, d, 0.0), *random_stats(rng, d, 0.05))
        fid_eig, t_eig = timed(frechet_distance, *stats)
        fid_sqrtm, t_sqrtm = timed(sqrtm_distance, *stats)
        rel = abs(fid_eig - fid_sqrtm) / abs(fid_sqrtm)
        print(f"{d:>6} {fid_eig:>16.10f} {fid_sqrtm:>16.10f} {rel:>9.1e} {t_eig:>8.2f} {t_sqrtm:>9.2f} {t_sqrtm / t_eig:>9.1f}",
              flush=True)


if __name__ == "__main__":
    main()
