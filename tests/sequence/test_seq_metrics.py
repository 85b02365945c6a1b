"""Sequence metrics on constructed cases whose answer is known without running the code under test."""
import numpy as np
import pytest
import torch

from gankit.errors import GankitError
from gankit.sequence import skeleton as sk
from gankit.sequence.datasets import make_sines
from gankit.sequence.metrics import (accuracy, bone_metrics, check_metrics, discriminative_score, foot_metrics,
                                     mmd_rbf, predictive_score, train_action_classifier)

SKEL = sk.skeleton_info()


def sines(n, seed):
    return torch.from_numpy(2 * make_sines(n, 24, seed=seed) - 1).float()  # [-1, 1], as the dataset


def time_shuffled(x, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.stack([s[torch.randperm(s.shape[0], generator=g)] for s in x])


@pytest.fixture(scope="module")
def real():
    return sines(600, 1)


def test_identical_sets_score_about_zero(real):
    r = discriminative_score(real, real.clone(), iterations=300)
    assert r["discriminative"] < 0.06, r


def test_time_shuffled_sets_are_detected(real):
    r = discriminative_score(real, time_shuffled(real), iterations=300)
    assert r["discriminative"] > 0.3, r


def test_predictive_score_real_vs_itself_and_vs_shuffled(real):
    same = predictive_score(real, sines(600, 9), iterations=300)
    # a "generator" drawing from the data's own distribution matches the real-data baseline
    assert same["predictive_ratio"] == pytest.approx(1.0, abs=0.1), same
    bad = predictive_score(real, time_shuffled(real), iterations=300)
    assert bad["predictive_ratio"] > 1.15, bad


def test_mmd_is_near_zero_for_one_distribution_and_large_for_another(real):
    other_sample = sines(600, 7)
    assert abs(mmd_rbf(real, other_sample)) < 0.01
    assert mmd_rbf(real, time_shuffled(real)) > 0.1
    assert mmd_rbf(real, real) < 0  # unbiased: identical sets sit just below 0 (the diagonal of Kab counts)


def test_metric_inputs_are_checked(real):
    with pytest.raises(GankitError, match="same length and features"):
        discriminative_score(real, real[:, :10], iterations=1)
    with pytest.raises(GankitError, match="NaN"):
        mmd_rbf(real, real * float("nan"))
    with pytest.raises(GankitError, match=r"\(N, T, F\)"):
        mmd_rbf(real[0], real[0])
    with pytest.raises(GankitError, match="unknown sequence metric 'fid'.*discriminative"):
        check_metrics("mmd,fid")


# ----------------------------------------------------------------------------------------------
# skeletons


@pytest.fixture(scope="module")
def clips():
    x, y = sk.make_motion(40, seed=3)
    return x.astype(np.float64), y


def scale_about_root(x, factor):
    p = x.reshape(len(x), x.shape[1], -1, 3)
    return (p[:, :, :1] + factor * (p - p[:, :, :1])).reshape(x.shape)


def test_bone_error_of_true_and_scaled_skeletons(clips):
    x, _ = clips
    assert bone_metrics(x, SKEL)["bone_error"] < 1e-5
    scaled = bone_metrics(scale_about_root(x, 1.1), SKEL)  # every bone 10% too long
    assert scaled["bone_error"] == pytest.approx(0.1, abs=1e-4)
    assert scaled["bone_std"] < 1e-5  # too long, but consistently
    wobble = x.copy()
    p = wobble.reshape(len(x), x.shape[1], -1, 3)
    p[:, 1::2] = scale_about_root(x, 1.2).reshape(p.shape)[:, 1::2]  # odd frames 20% larger
    assert bone_metrics(wobble, SKEL)["bone_std"] == pytest.approx(0.1, abs=2e-3)


def test_foot_metrics_on_constructed_clips(clips):
    x, y = clips
    stand = x[y == sk.ACTIONS.index("wave")]
    base = foot_metrics(stand, SKEL, fps=15)
    assert base["foot_penetration"] < 1e-6 and base["foot_contact"] == 1.0
    sunk = stand.copy().reshape(len(stand), stand.shape[1], -1, 3)
    sunk[..., 1] -= 0.05
    assert foot_metrics(sunk.reshape(stand.shape), SKEL, fps=15)["foot_penetration"] == pytest.approx(0.05, abs=1e-5)
    # slide a standing figure along x at 0.01 m per frame: its planted feet skate at 0.15 m/s more
    slide = stand.copy().reshape(len(stand), stand.shape[1], -1, 3)
    slide[..., 0] += 0.01 * np.arange(stand.shape[1])[None, :, None]
    skate = foot_metrics(slide.reshape(stand.shape), SKEL, fps=15)["foot_skate"]
    assert skate == pytest.approx(0.15, abs=0.03)
    lifted = stand.copy().reshape(len(stand), stand.shape[1], -1, 3)
    lifted[..., 1] += 0.5
    assert foot_metrics(lifted.reshape(stand.shape), SKEL, fps=15)["foot_contact"] == 0.0


def test_action_classifier_separates_the_actions():
    x, y = sk.make_motion(400, seed=11)
    z = torch.from_numpy(x / 3.0).float()  # roughly unit scale
    net = train_action_classifier(z[:300], y[:300], 4, hidden=32, iterations=150)
    assert accuracy(net, z[300:], y[300:]) > 0.9
    assert accuracy(net, z[300:], (y[300:] + 1) % 4) < 0.1  # wrong labels are called wrong
