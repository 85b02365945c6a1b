"""IS, precision/recall, density/coverage, class coverage and toy modes on inputs with known answers."""
import math

import numpy as np
import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics import class_coverage, density_coverage, inception_score, precision_recall, toy_modes


# ----------------------------------------------------------------------------- Inception Score

def test_is_uniform_predictions_is_one():
    mean, std = inception_score(np.full((500, 10), 0.1), splits=5)
    assert mean == pytest.approx(1.0, abs=1e-6)
    assert std < 1e-6


def test_is_confident_even_predictions_is_k():
    k = 10
    probs = np.eye(k)[np.arange(1000) % k]  # one-hot, every split of 100 holds each class 10 times
    mean, std = inception_score(probs, splits=10)
    assert mean == pytest.approx(k, abs=1e-6)
    assert std < 1e-6


def test_is_matches_loop_formula():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(6, 0.3), size=122)
    splits = 4
    scores = []
    for s in range(splits):  # parts of 30, 31, 30, 31 rows (boundaries s * N // splits, as in the original code)
        part = probs[s * 122 // splits:(s + 1) * 122 // splits]
        py = [sum(row[j] for row in part) / len(part) for j in range(6)]
        kl = [sum(row[j] * (math.log(row[j]) - math.log(py[j])) for j in range(6) if row[j] > 0) for row in part]
        scores.append(math.exp(sum(kl) / len(kl)))
    mean, std = inception_score(probs, splits=splits)
    assert mean == pytest.approx(np.mean(scores), rel=1e-10)
    assert std == pytest.approx(np.std(scores), rel=1e-8)
    # float32 softmax outputs from a torch classifier are accepted.
    logits = torch.from_numpy(np.log(probs)).float()
    assert inception_score(logits.softmax(1), splits=splits)[0] == pytest.approx(mean, rel=1e-5)


def test_is_rejects_logits():
    with pytest.raises(GankitError, match="softmax"):
        inception_score(np.random.default_rng(0).standard_normal((50, 4)))


# ----------------------------------------------------------------------------- k-NN manifolds

def reference_prdc(real, fake, k):
    """Full-matrix numpy version (the way prdc/Kynkäänniemi write it) for comparison."""
    d_rr = np.linalg.norm(real[:, None] - real[None], axis=-1)
    d_ff = np.linalg.norm(fake[:, None] - fake[None], axis=-1)
    d_rf = np.linalg.norm(real[:, None] - fake[None], axis=-1)  # (N, M)
    r_real = np.sort(d_rr, axis=1)[:, k]  # column 0 is the point itself
    r_fake = np.sort(d_ff, axis=1)[:, k]
    inside = d_rf <= r_real[:, None]  # (N, M): fake_j in real_i's ball
    return {
        "precision": inside.any(axis=0).mean(),
        "recall": (d_rf <= r_fake[None, :]).any(axis=1).mean(),
        "density": inside.sum() / (k * len(fake)),
        "coverage": inside.any(axis=1).mean(),
    }


def clusters(rng, centres, per, std=1.0):
    return np.concatenate([c + std * rng.standard_normal((per, len(c))) for c in centres])


@pytest.mark.parametrize("k", [1, 3, 5])
def test_prdc_match_full_matrix_reference(k):
    rng = np.random.default_rng(k)
    real, fake = rng.standard_normal((60, 6)), rng.standard_normal((45, 6)) * 0.8 + 0.6
    ref = reference_prdc(real, fake, k)
    # batch=7 does not divide either set size: exercises the chunk edges.
    pr = precision_recall(real, fake, k=k, batch=7)
    dc = density_coverage(real, fake, k=k, batch=7)
    for name, value in {**pr, **dc}.items():
        assert value == pytest.approx(ref[name], abs=1e-12), name
    assert 0 < pr["recall"] < 1 and 0 < dc["coverage"] < 1  # the case is not degenerate


def test_identical_sets():
    x = np.random.default_rng(0).standard_normal((200, 16))
    assert precision_recall(x, x) == {"precision": 1.0, "recall": 1.0}
    assert density_coverage(x, x)["coverage"] == 1.0


def test_far_away_fake_set():
    rng = np.random.default_rng(1)
    real, fake = rng.standard_normal((150, 8)), rng.standard_normal((120, 8)) + 1000.0
    assert precision_recall(real, fake) == {"precision": 0.0, "recall": 0.0}
    assert density_coverage(real, fake) == {"density": 0.0, "coverage": 0.0}


def test_fake_covers_half_of_the_clusters():
    rng = np.random.default_rng(2)
    centres = 100.0 * np.eye(8)[:4]  # 4 well-separated clusters in 8-D
    real = clusters(rng, centres, per=40)
    fake = real[:80].copy()  # exact copies of the first two clusters
    pr = precision_recall(real, fake, k=3)
    assert pr["precision"] == 1.0
    assert pr["recall"] == pytest.approx(0.5)
    assert density_coverage(real, fake, k=5)["coverage"] == pytest.approx(0.5)


def test_density_counts_overlapping_balls():
    # Pairs of real points 1 apart, pairs 100 apart: with k=1 every real ball has radius 1. A fake
    # point at each pair's midpoint lies in both balls of its pair, so density = 2 / k = 2.
    pairs = 30
    base = 100.0 * np.arange(pairs)[:, None] * np.eye(3)[0]  # (pairs, 3)
    real = np.concatenate([base, base + np.eye(3)[1]])
    fake = base + 0.5 * np.eye(3)[1]
    dc = density_coverage(real, fake, k=1)
    assert dc == {"density": 2.0, "coverage": 1.0}


def test_ball_boundary_counts_as_inside():
    # Real points at 0, 1, 2 on a line, k=1: every radius is exactly 1 (exact in float64).
    real = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    on_boundary, outside = np.array([[3.0, 0.0], [-1.0, 0.0]]), np.array([[3.5, 0.0], [-1.5, 0.0]])
    assert precision_recall(real, on_boundary, k=1)["precision"] == 1.0
    assert density_coverage(real, on_boundary, k=1) == {"density": 1.0, "coverage": 2 / 3}
    assert precision_recall(real, outside, k=1)["precision"] == 0.0


def test_chunking_does_not_change_results():
    rng = np.random.default_rng(3)
    real, fake = rng.standard_normal((97, 5)), rng.standard_normal((83, 5)) + 0.2
    assert precision_recall(real, fake, batch=1) == precision_recall(real, fake, batch=10_000)
    assert density_coverage(real, fake, batch=1) == density_coverage(real, fake, batch=10_000)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_prdc_on_cuda_match_cpu():
    rng = np.random.default_rng(4)
    real, fake = rng.standard_normal((300, 64)), rng.standard_normal((250, 64)) + 0.1
    assert precision_recall(real, fake, device="cuda") == precision_recall(real, fake)
    assert density_coverage(real, fake, device="cuda") == density_coverage(real, fake)


@pytest.mark.parametrize(
    "call",
    [
        lambda: precision_recall(np.zeros((10, 3)), np.zeros((10, 4))),
        lambda: precision_recall(np.zeros((10, 3)), np.zeros((3, 3)), k=3),  # k >= set size
        lambda: density_coverage(np.zeros((10, 3)), np.zeros((10, 3)), k=0),
    ],
)
def test_prdc_bad_inputs(call):
    with pytest.raises(GankitError):
        call()


# ----------------------------------------------------------------------------- class coverage

def test_class_coverage_against_uniform():
    out = class_coverage(np.array([0, 0, 1, 3]), num_classes=5)
    assert out["classes_covered"] == 3
    # p_fake = (1/2, 1/4, 0, 1/4, 0) against 1/5 each; empty bins contribute ~eps log eps ~ 0.
    expected = 0.5 * math.log(0.5 / 0.2) + 2 * 0.25 * math.log(0.25 / 0.2)
    assert out["kl_to_ref"] == pytest.approx(expected, abs=1e-6)


def test_class_coverage_against_reference_labels():
    ref = np.repeat(np.arange(4), [10, 20, 30, 40])
    same = class_coverage(np.repeat(np.arange(4), [1, 2, 3, 4]), 4, ref_labels=ref)
    assert same["classes_covered"] == 4
    assert same["kl_to_ref"] == pytest.approx(0.0, abs=1e-9)
    one = class_coverage(torch.full((7,), 2), 4, ref_labels=ref)  # torch labels work too
    assert one["classes_covered"] == 1
    assert one["kl_to_ref"] == pytest.approx(math.log(1 / 0.3), abs=1e-6)


def test_class_coverage_bad_labels():
    with pytest.raises(GankitError):
        class_coverage(np.array([0, 5]), num_classes=5)
    with pytest.raises(GankitError):
        class_coverage(np.array([0.5, 1.0]), num_classes=5)


# ----------------------------------------------------------------------------- toy modes

RING = 2.0 * np.stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], 1)  # (8, 2)
STD = 0.02


def at_centres(counts, jitter=0.0, seed=0):
    """counts[m] samples at centre m, each displaced by `jitter` (in units of STD) in a random direction."""
    rng = np.random.default_rng(seed)
    pts = np.repeat(RING, counts, axis=0)
    angle = rng.uniform(0, 2 * np.pi, len(pts))
    return pts + jitter * STD * np.stack([np.cos(angle), np.sin(angle)], 1)


def test_toy_six_of_eight_modes():
    counts = [417, 417, 417, 417, 416, 416, 0, 0]  # 2500 samples
    out = toy_modes(at_centres(counts), RING, STD)
    assert out["modes"] == 6
    assert out["high_quality"] == 1.0
    # q = 1/6 on six modes, p = 1/8: KL = log(8/6) up to the eps smoothing and 417 vs 416.
    assert out["reverse_kl"] == pytest.approx(math.log(8 / 6), abs=1e-5)


def test_toy_far_samples_are_low_quality():
    out = toy_modes(np.zeros((2500, 2)), RING, STD)  # the ring's centre, 2 away from every mode
    assert out["modes"] == 0
    assert out["high_quality"] == 0.0
    assert math.isnan(out["reverse_kl"])


def test_toy_even_spread_has_zero_reverse_kl():
    out = toy_modes(at_centres([300] * 8, jitter=2.5), RING, STD)  # all within 3 std
    assert out["modes"] == 8
    assert out["high_quality"] == 1.0
    assert out["reverse_kl"] == pytest.approx(0.0, abs=1e-6)


def test_toy_quality_radius_is_three_std():
    inside = at_centres([100] * 8, jitter=2.9)
    outside = at_centres([100] * 8, jitter=3.1)
    out = toy_modes(np.concatenate([inside, outside]), RING, STD)
    assert out["high_quality"] == pytest.approx(0.5)


def test_toy_mode_threshold_scales_with_n():
    far = np.full((1, 2), 50.0)
    # N = 2500: 20 high-quality samples capture a mode, 19 do not.
    x = np.concatenate([at_centres([19, 20, 0, 0, 0, 0, 0, 0]), np.repeat(far, 2461, 0)])
    assert toy_modes(x, RING, STD)["modes"] == 1
    # N = 5000: the threshold doubles to 40.
    x = np.concatenate([at_centres([39, 40, 0, 0, 0, 0, 0, 0]), np.repeat(far, 4921, 0)])
    assert toy_modes(x, RING, STD)["modes"] == 1
    # Small N: threshold never drops below one sample.
    assert toy_modes(at_centres([1, 0, 0, 0, 0, 0, 0, 1]), RING, STD)["modes"] == 2


def test_toy_reverse_kl_values():
    one_mode = toy_modes(at_centres([800, 0, 0, 0, 0, 0, 0, 0]), RING, STD)
    assert one_mode["reverse_kl"] == pytest.approx(math.log(8), abs=1e-6)
    ref = np.array([0.3, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    matched = toy_modes(at_centres([300, 100, 100, 100, 100, 100, 100, 100]), RING, STD, ref_probs=ref)
    assert matched["reverse_kl"] == pytest.approx(0.0, abs=1e-6)
    uniform = toy_modes(at_centres([100] * 8), RING, STD, ref_probs=ref)
    expected = sum(0.125 * math.log(0.125 / p) for p in ref)
    assert uniform["reverse_kl"] == pytest.approx(expected, abs=1e-6)


def test_toy_accepts_torch_and_dataset_centres():
    from gankit.data.toy import ring8_centres  # the float32 (8, 2) centres the ring8 dataset uses

    centres = ring8_centres()
    out = toy_modes(centres.repeat_interleave(10, 0), centres, 0.01)
    assert out["modes"] == 8 and out["high_quality"] == 1.0
