"""Sequence data: the procedural motion set's determinism and physics, windowing and normalisation
round trips, statsmodels series, CSV files and their errors."""
import numpy as np
import pandas as pd
import pytest
import torch

from gankit.config import DataConfig
from gankit.data import load_data
from gankit.errors import GankitError
from gankit.sequence import skeleton as sk
from gankit.sequence.datasets import denormalise, minmax_stats, normalise, sliding_windows


def load(spec, **kw):
    return load_data(DataConfig(spec=spec, **kw), None, log=lambda m: None)


def joints(clips):
    return np.asarray(clips, dtype=np.float64).reshape(len(clips), clips.shape[1], sk.J, 3)


# ----------------------------------------------------------------------------------------------
# motion


@pytest.fixture(scope="module")
def clips():
    return sk.make_motion(64, seed=5)


def test_motion_is_deterministic_per_seed(clips):
    again = sk.make_motion(64, seed=5)
    other = sk.make_motion(64, seed=6)
    assert np.array_equal(clips[0], again[0]) and np.array_equal(clips[1], again[1])
    assert not np.allclose(clips[0], other[0])


def test_bone_lengths_are_the_skeletons_in_every_frame(clips):
    x, _ = clips
    p = joints(x)
    parents = np.array(sk.PARENTS)
    lengths = np.linalg.norm(p[:, :, 1:] - p[:, :, parents[1:]], axis=-1)  # (N, T, J - 1)
    true = np.linalg.norm(sk.OFFSETS[1:], axis=1)  # from the joint table, not from the generator
    np.testing.assert_allclose(lengths, np.broadcast_to(true, lengths.shape), rtol=2e-5)
    assert lengths.std(axis=1).max() < 1e-5  # constant across frames


def test_feet_stay_on_or_above_the_ground_and_stance_feet_do_not_slide(clips):
    x, y = clips
    p = joints(x)
    feet = p[:, :, list(sk.FEET)]  # (N, T, 2, 3)
    assert feet[..., 1].min() >= sk.FOOT_HEIGHT - 1e-5  # never below the ground
    lowest = feet[..., 1].min(-1)  # (N, T)
    grounded = y != sk.ACTIONS.index("jump")  # everything but jumps keeps a foot down in every frame
    assert np.abs(lowest[grounded] - sk.FOOT_HEIGHT).max() < 1e-5
    # the foot that carries the body at frame t has the same ground position at t + 1
    walk = np.nonzero(y == sk.ACTIONS.index("walk"))[0]
    stance = feet[walk, :, :, 1].argmin(-1)  # (n, T)
    n, T = stance.shape
    rows = np.arange(n)[:, None]
    ts = np.arange(T - 1)[None, :]
    now = feet[walk][rows, ts, stance[:, :-1]][..., [0, 2]]
    nxt = feet[walk][rows, ts + 1, stance[:, :-1]][..., [0, 2]]
    assert np.abs(nxt - now).max() < 1e-4


def test_actions_differ_the_way_they_should(clips):
    x, y = clips
    p = joints(x)
    travel = np.linalg.norm(p[:, -1, 0, [0, 2]] - p[:, 0, 0, [0, 2]], axis=-1)
    by = {a: travel[y == k].mean() for k, a in enumerate(sk.ACTIONS)}
    assert by["run"] > by["walk"] > 0.5 > by["wave"]  # locomotion moves the root, waving does not
    r_wrist, head = sk.NAMES.index("r_wrist"), sk.NAMES.index("head")
    wave = y == sk.ACTIONS.index("wave")
    assert (p[wave][:, :, r_wrist, 1] > p[wave][:, :, head, 1] - 0.2).mean() > 0.9  # the hand is up
    jump = y == sk.ACTIONS.index("jump")
    assert p[jump][:, :, list(sk.FEET), 1].min(-1).max() > sk.FOOT_HEIGHT + 0.1  # both feet leave the ground


def test_motion_dataset_normalises_and_round_trips():
    data = load("motion:test")
    assert data.x.shape == (1024, 32, 51) and data.x.dtype == torch.float32
    assert data.num_classes == 4 and torch.bincount(data.y).tolist() == [256] * 4
    info = data.meta["info"]
    assert info["kind"] == "motion" and len(info["skeleton"]["parents"]) == 17
    raw, _ = sk.make_motion(1024, seed=2)
    back = denormalise(data.x.numpy(), info["mid"], info["half"])
    np.testing.assert_allclose(back, raw, atol=1e-5)
    train = load("motion:train")
    assert train.x.abs().max() <= 1.0 + 1e-6  # the stats come from the train split


# ----------------------------------------------------------------------------------------------
# windowing and normalisation


def test_sliding_windows_are_the_consecutive_rows():
    series = np.arange(20, dtype=np.float64).reshape(10, 2)  # row r = (2r, 2r + 1)
    w = sliding_windows(series, 4)
    assert w.shape == (7, 4, 2)
    for k in range(7):
        assert np.array_equal(w[k], series[k:k + 4])
    assert sliding_windows(series, 4, stride=3).shape == (3, 4, 2)
    assert sliding_windows(series, 10).shape == (1, 10, 2)


def test_window_longer_than_the_series_is_a_clear_error():
    with pytest.raises(GankitError, match=r"data.window=11 is longer than the series \(10 rows\).*at most 10"):
        sliding_windows(np.zeros((10, 1)), 11)


def test_normalise_round_trip_and_constant_columns():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(5, 3, (50, 8, 2)), np.full((50, 8, 1), 7.0)], axis=2)
    mid, half = minmax_stats(x)
    z = normalise(x, mid, half)
    assert np.isclose(z[..., :2].min(), -1) and np.isclose(z[..., :2].max(), 1)
    assert np.all(z[..., 2] == 0)  # a constant column maps to 0, not to NaN
    np.testing.assert_allclose(denormalise(z, mid, half), x, rtol=1e-12, atol=1e-12)


def test_sines_follow_timegan():
    data = load("sines:test")
    assert data.x.shape == (2000, 24, 5)
    raw = data.x.double() * 0.5 + 0.5  # back to sin values
    assert raw.min() >= -1e-6 and raw.max() <= 1 + 1e-6
    # x_t = sin(f t + p) with f, p in [0, 0.1]: x_0 = sin(p) <= sin(0.1), increments at most 0.1
    assert raw[:, 0].max() <= np.sin(0.1) + 1e-6
    assert (raw[:, 1:] - raw[:, :-1]).abs().max() <= 0.1 + 1e-6
    assert not torch.equal(load("sines:train").x[:5], data.x[:5])


# ----------------------------------------------------------------------------------------------
# statsmodels series


def test_sunspots_windows_and_splits():
    import statsmodels.api as sm

    values = sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy()
    data = load("sunspots")
    assert data.x.shape == (len(values) - 23, 24, 1)
    info = data.meta["info"]
    np.testing.assert_allclose(denormalise(data.x[0].numpy(), info["mid"], info["half"])[:, 0], values[:24],
                               atol=1e-3)
    np.testing.assert_allclose(denormalise(data.x[-1].numpy(), info["mid"], info["half"])[:, 0], values[-24:],
                               atol=1e-3)
    cut = int(round(0.8 * len(values)))
    assert len(load("sunspots:train")) == cut - 23 and len(load("sunspots:test")) == len(values) - cut - 23
    assert load("sunspots", window=100).x.shape == (len(values) - 99, 100, 1)


def test_co2_gaps_are_filled_and_macrodata_columns_are_selected():
    co2 = load("co2")
    assert torch.isfinite(co2.x).all() and co2.x.shape[1:] == (24, 1)
    macro = load("macrodata", columns="realgdp,unemp", window=8)
    assert macro.x.shape == (203 - 7, 8, 2) and macro.meta["info"]["features"] == ["realgdp", "unemp"]
    assert load("macrodata").x.shape[2] == 12
    with pytest.raises(GankitError, match="no column 'gdp'.*realgdp"):
        load("macrodata", columns="gdp")


# ----------------------------------------------------------------------------------------------
# CSV


@pytest.fixture
def csv_file(tmp_path):
    t = np.arange(60)
    df = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=60).astype(str), "open": np.sin(t / 5) + 10,
                       "close": np.cos(t / 5) * 3, "volume": t * 100})
    path = tmp_path / "prices.csv"
    df.to_csv(path, index=False)
    return path, df


def test_csv_columns_window_and_round_trip(csv_file):
    path, df = csv_file
    data = load(str(path), columns="open,close", window=10)
    assert data.x.shape == (51, 10, 2) and data.meta["info"]["features"] == ["open", "close"]
    info = data.meta["info"]
    back = denormalise(data.x.numpy(), info["mid"], info["half"])
    np.testing.assert_allclose(back[7], df[["open", "close"]].to_numpy()[7:17], atol=1e-5)
    by_index = load(str(path), columns="1,3", window=10)
    assert by_index.meta["info"]["features"] == ["open", "volume"]


def test_csv_non_numeric_column_is_a_clear_error(csv_file):
    path, _ = csv_file
    with pytest.raises(GankitError, match=r"column 'date' of .*prices.csv is not numeric.*data.columns=open,close,volume"):
        load(str(path))


def test_csv_missing_values_are_a_clear_error(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("a,b\n1,2\n3,\n5,6\n7,8\n")
    with pytest.raises(GankitError, match=r"1 missing values \(first: column 'b', row 3\); fill or drop them"):
        load(str(path), window=2)


def test_csv_window_longer_than_the_file_is_a_clear_error(csv_file):
    path, _ = csv_file
    with pytest.raises(GankitError, match="data.window=61 is longer than prices.csv \\(60 rows\\)"):
        load(str(path), columns="open", window=61)


def test_csv_unknown_column_and_csv_without_a_path(csv_file):
    path, _ = csv_file
    with pytest.raises(GankitError, match="has no column 'high'"):
        load(str(path), columns="high")
    with pytest.raises(GankitError, match="give the CSV file itself"):
        load("csv")


def test_unreadable_csv_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\xff\xfe\x00garbage\x00\n\x81")
    with pytest.raises(GankitError, match="bad.csv"):
        load(str(path))


def test_motion_probe_knobs_leave_the_data_alone_and_jitter_only_what_is_asked():
    base, y = sk.make_motion(32, seed=5)
    same, y2 = sk.make_motion(32, seed=5, jitter=0.0, speed_range=(0.8, 1.25), amp_range=(0.75, 1.25))
    assert np.array_equal(base, same) and np.array_equal(y, y2)
    shaken, _ = sk.make_motion(32, seed=5, jitter=0.05, jitter_joints=[13])  # the left ankle's own rotation
    p0, p1 = base.reshape(32, -1, sk.J, 3), shaken.reshape(32, -1, sk.J, 3)
    lengths = np.linalg.norm(sk.OFFSETS, axis=1)
    bones = np.linalg.norm(p1[:, :, 1:] - p1[:, :, [sk.PARENTS[j] for j in range(1, sk.J)]], axis=-1)
    np.testing.assert_allclose(bones, np.broadcast_to(lengths[1:], bones.shape), atol=1e-5)
    # the ankle is an end joint: rotating it moves nothing relative to the body, only where it meets the ground
    rel0, rel1 = p0 - p0[:, :, :1], p1 - p1[:, :, :1]
    np.testing.assert_allclose(rel0, rel1, atol=1e-5)
    knee, _ = sk.make_motion(32, seed=5, jitter=0.05, jitter_joints=[12])
    rel2 = knee.reshape(32, -1, sk.J, 3) - knee.reshape(32, -1, sk.J, 3)[:, :, :1]
    moved = np.abs(rel2 - rel0).max(axis=(0, 1, 3))  # (J,) how far each joint moved relative to the root
    assert moved[13] > 0.005 and moved[:12].max() < 1e-5 and moved[14:].max() < 1e-5


def test_motion_returns_the_parameters_it_drew():
    base, y = sk.make_motion(64, seed=5)
    clips, y2, params = sk.make_motion(64, seed=5, return_params=True)
    assert np.array_equal(base, clips) and np.array_equal(y, y2)  # asking for them changes nothing
    assert set(params) == {"speed", "amp", "phase0", "yaw"} and all(v.shape == (64,) for v in params.values())
    assert params["speed"].min() >= 0.8 and params["speed"].max() <= 1.25
    assert params["amp"].min() >= 0.75 and params["amp"].max() <= 1.25
    # the facing yaw is the one the clip shows: a walk travels along its body's +z turned by the yaw
    p = joints(clips)
    walks = np.nonzero(y == sk.ACTIONS.index("walk"))[0]
    travel = p[walks, -1, 0, :] - p[walks, 0, 0, :]
    travel = travel[:, [0, 2]] / np.linalg.norm(travel[:, [0, 2]], axis=1, keepdims=True)
    facing = np.stack([np.sin(params["yaw"][walks]), np.cos(params["yaw"][walks])], 1)
    assert (travel * facing).sum(1).min() > 0.9
