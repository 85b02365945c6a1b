"""Sequence datasets: float (N, T, F) windows, each feature min-max normalised to [-1, 1].

    motion     procedural skeleton clips (walk, run, jump, wave), 17 joints x 3 coordinates, labelled
    sines      TimeGAN's synthetic benchmark: 5 sines with random frequency and phase
    sunspots   yearly sunspot numbers 1700-2008 (statsmodels)
    co2        weekly Mauna Loa CO2 1958-2001 (statsmodels; its 59 gaps are interpolated linearly)
    macrodata  US quarterly macroeconomic series 1959-2009 (statsmodels), 12 numeric columns
    FILE.csv   any CSV: data.columns picks columns, data.window the window length

The normalisation (mid, half per feature: x_norm = (x - mid) / half) goes into DataInfo.extra, so a
checkpoint alone maps generated sequences back to the data's units. Series are cut into sliding
windows with stride 1 (TimeGAN's protocol); their `train`/`test` splits cut the series in time
(first 80% / last 20%) before windowing, so no window straddles the two.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from ..data import Data
from ..errors import GankitError
from ..registry import DATASETS
from . import skeleton as sk

SERIES_SPLITS = ("all", "train", "test")
DEFAULT_WINDOW = 24  # TimeGAN's sequence length


# ----------------------------------------------------------------------------------------------
# normalisation and windowing (pure functions, numpy)


def minmax_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature (mid, half) over every axis but the last: x (..., F) -> two (F,) float64 arrays.
    A constant feature gets half = 1, so it normalises to 0 instead of dividing by zero."""
    flat = np.asarray(x, dtype=np.float64).reshape(-1, x.shape[-1])
    lo, hi = flat.min(0), flat.max(0)
    half = (hi - lo) / 2
    return (lo + hi) / 2, np.where(half > 0, half, 1.0)


def normalise(x, mid, half) -> np.ndarray:
    """Data units -> [-1, 1] per feature (on the set the stats came from)."""
    return (np.asarray(x, dtype=np.float64) - np.asarray(mid)) / np.asarray(half)


def denormalise(x, mid, half) -> np.ndarray:
    """[-1, 1] -> data units: the exact inverse of `normalise`."""
    return np.asarray(x, dtype=np.float64) * np.asarray(half) + np.asarray(mid)


def sliding_windows(series: np.ndarray, window: int, stride: int = 1, name: str = "the series") -> np.ndarray:
    """Series (L, F) -> windows (N, window, F), N = (L - window) // stride + 1, each a copy."""
    series = np.asarray(series)
    if series.ndim != 2:
        raise GankitError(f"{name} must be a table (rows x columns), got shape {series.shape}")
    length = series.shape[0]
    if window < 2:
        raise GankitError(f"data.window must be at least 2 time steps, got {window}")
    if window > length:
        raise GankitError(f"data.window={window} is longer than {name} ({length} rows); set data.window to at "
                          f"most {length}")
    view = np.lib.stride_tricks.sliding_window_view(series, window, axis=0)  # (N, F, window)
    return np.ascontiguousarray(view[::stride].transpose(0, 2, 1))


def _info(kind: str, mid, half, features, window: int, spec: str, **extra) -> dict:
    return {"kind": kind, "mid": [float(v) for v in mid], "half": [float(v) for v in half],
            "features": list(features), "window": int(window), "spec": spec, **extra}


def series_data(series: np.ndarray, features: list[str], split: str | None, window: int, name: str,
                spec: str, **extra) -> Data:
    """A whole series (L, F) -> normalised windows of one split as a Data.

    Stats come from the whole series so every split shares them; the train/test cut is made in time
    first (80/20) and each part windowed separately."""
    series = np.asarray(series, dtype=np.float64)
    mid, half = minmax_stats(series)
    length = len(series)
    if split in ("train", "test"):
        cut = int(round(0.8 * length))
        part = series[:cut] if split == "train" else series[cut:]
        what = f"the {split} part of {name} (the {'first 80' if split == 'train' else 'last 20'}% in time)"
    else:
        part, what = series, name
    x = sliding_windows(normalise(part, mid, half), window, 1, what)
    label = f"{name}:{split}" if split else name
    return Data(torch.from_numpy(x.astype(np.float32)), name=label,
                meta={"info": _info("series", mid, half, features, window, spec, **extra)})


def _window(cfg, default: int) -> int:
    w = cfg.window if cfg.window is not None else default
    if w < 2:
        raise GankitError(f"data.window must be at least 2 time steps, got {w}")
    return int(w)


def select_columns(names: list[str], columns: str | None, source: str) -> list[int]:
    """'a,b' or '0,3' (names or 0-based indices) -> column indices; None -> all."""
    if columns is None or not str(columns).strip():
        return list(range(len(names)))
    out = []
    for item in (c.strip() for c in str(columns).split(",")):
        if not item:
            continue
        if item in names:
            out.append(names.index(item))
        elif item.lstrip("-").isdigit() and 0 <= int(item) < len(names):
            out.append(int(item))
        else:
            raise GankitError(f"{source} has no column {item!r}; its columns are: {', '.join(names)} (give names "
                              f"or 0-based indices in data.columns)")
    if not out:
        raise GankitError(f"data.columns={columns!r} selects no column of {source}")
    return out


# ----------------------------------------------------------------------------------------------
# procedural sets


SINES_SIZE = {"train": 10_000, "test": 2_000}
MOTION_SIZE = {"train": 4096, "test": 1024}
SPLIT_SEED = {"train": 1, "test": 2}


def make_sines(n: int, window: int, dims: int = 5, seed: int = 0) -> np.ndarray:
    """TimeGAN's sines (Yoon 2019): x[t, k] = sin(f_k t + p_k), f_k, p_k ~ U(0, 0.1); (n, window, dims)."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.0, 0.1, (n, 1, dims))
    phase = rng.uniform(0.0, 0.1, (n, 1, dims))
    t = np.arange(window, dtype=np.float64)[None, :, None]
    return np.sin(freq * t + phase)


@DATASETS.register("sines", help="TimeGAN's synthetic benchmark: 5 sines, frequency and phase ~ U(0, 0.1), 24 steps "
                                 "(10k train / 2k test)", splits=("train", "test"))
def sines(cfg, split: str) -> Data:
    window = _window(cfg, DEFAULT_WINDOW)
    x = make_sines(SINES_SIZE[split], window, seed=SPLIT_SEED[split])
    # The values span [0, 1] when window >= 16 (f t + p reaches pi / 2); TimeGAN scales them to [0, 1],
    # we use the same fixed range (split-independent) mapped to [-1, 1].
    mid, half = np.full(5, 0.5), np.full(5, 0.5)
    return Data(torch.from_numpy(normalise(x, mid, half).astype(np.float32)), name=f"sines:{split}",
                meta={"info": _info("series", mid, half, [f"sine{k}" for k in range(5)], window, "sines")})


@functools.lru_cache(maxsize=4)
def _motion_cached(n: int, seed: int, frames: int) -> tuple[np.ndarray, np.ndarray]:
    return sk.make_motion(n, seed, frames)


def motion_stats(frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalisation of the motion set: from its train split, shared by every split."""
    x, _ = _motion_cached(MOTION_SIZE["train"], SPLIT_SEED["train"], frames)
    return minmax_stats(x)


@DATASETS.register("motion", help="procedural skeleton clips: walk/run/jump/wave, 17 joints (51 coordinates), 32 "
                                  "frames at 15 fps, action labels (4096 train / 1024 test)", splits=("train", "test"))
def motion(cfg, split: str) -> Data:
    frames = _window(cfg, sk.FRAMES)
    x, y = _motion_cached(MOTION_SIZE[split], SPLIT_SEED[split], frames)
    mid, half = motion_stats(frames)
    features = [f"{j}.{a}" for j in sk.NAMES for a in "xyz"]
    info = _info("motion", mid, half, features, frames, "motion", fps=sk.FPS, skeleton=sk.skeleton_info())
    return Data(torch.from_numpy(normalise(x, mid, half).astype(np.float32)), torch.from_numpy(y),
                name=f"motion:{split}", num_classes=len(sk.ACTIONS), class_names=list(sk.ACTIONS),
                meta={"info": info})


# ----------------------------------------------------------------------------------------------
# real series bundled with statsmodels (no download)


def _statsmodels(name: str):
    try:
        import statsmodels.api as sm
    except ImportError:
        raise GankitError(f"dataset {name} needs statsmodels; pip install statsmodels")
    return getattr(sm.datasets, name).load_pandas().data


@DATASETS.register("sunspots", help="yearly sunspot numbers 1700-2008 (statsmodels; 309 values, 1 feature)",
                   splits=SERIES_SPLITS)
def sunspots(cfg, split: str) -> Data:
    df = _statsmodels("sunspots")
    return series_data(df[["SUNACTIVITY"]].to_numpy(), ["sunactivity"], split, _window(cfg, DEFAULT_WINDOW),
                       "sunspots", "sunspots")


@DATASETS.register("co2", help="weekly Mauna Loa CO2 1958-2001 (statsmodels; 2284 values, gaps interpolated)",
                   splits=SERIES_SPLITS)
def co2(cfg, split: str) -> Data:
    df = _statsmodels("co2").interpolate(limit_direction="both")  # 59 missing weeks in the original
    return series_data(df[["co2"]].to_numpy(), ["co2"], split, _window(cfg, DEFAULT_WINDOW), "co2", "co2")


@DATASETS.register("macrodata", help="US quarterly macro data 1959-2009 (statsmodels; 203 rows, 12 columns; "
                                     "data.columns picks some)", splits=SERIES_SPLITS)
def macrodata(cfg, split: str) -> Data:
    df = _statsmodels("macrodata").drop(columns=["year", "quarter"])
    names = [str(c) for c in df.columns]
    cols = select_columns(names, cfg.columns, "macrodata")
    return series_data(df.to_numpy()[:, cols], [names[c] for c in cols], split, _window(cfg, DEFAULT_WINDOW),
                       "macrodata", "macrodata")


# ----------------------------------------------------------------------------------------------
# any CSV


def read_csv(path: Path, columns: str | None) -> tuple[np.ndarray, list[str]]:
    """A CSV with a header row -> (values (L, F) float64, column names), or a one-line error saying
    which column or cell is wrong."""
    import pandas as pd

    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as e:
        raise GankitError(f"cannot read {path} as CSV ({str(e).splitlines()[0] if str(e) else type(e).__name__}); "
                          f"give a comma-separated file with a header row")
    names = [str(c) for c in df.columns]
    if df.shape[0] == 0 or not names:
        raise GankitError(f"{path} has no data rows; give a CSV with a header row and one row per time step")
    df = df.iloc[:, select_columns(names, columns, str(path))]
    for name in df.columns:
        col = df[name]
        numeric = pd.to_numeric(col, errors="coerce")
        bad = numeric.isna() & col.notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            numeric_cols = [str(c) for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
            hint = f"data.columns={','.join(numeric_cols)}" if numeric_cols else "data.columns=NAME,..."
            raise GankitError(f"column {name!r} of {path} is not numeric (row {row + 2}: {str(col.iloc[row])!r}); "
                              f"choose numeric columns with {hint}")
        df[name] = numeric
    missing = df.isna().to_numpy()
    if missing.any():
        r, c = np.argwhere(missing)[0]
        raise GankitError(f"{path} has {int(missing.sum())} missing values (first: column {str(df.columns[c])!r}, row "
                          f"{r + 2}); fill or drop them first (e.g. pandas interpolate()) and save the CSV again")
    values = df.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise GankitError(f"{path} contains inf values; clean the data first")
    return values, [str(c) for c in df.columns]


@DATASETS.register("csv", help="FILE.csv: any multivariate series, one row per time step (data.columns, "
                               "data.window)", suffixes=(".csv",), splits=SERIES_SPLITS)
def csv(cfg, split: str | None) -> Data:
    path = Path(cfg.spec).expanduser()
    if not path.is_file() or path.suffix.lower() != ".csv":
        raise GankitError(f"give the CSV file itself as the data, e.g. --data prices.csv (got {cfg.spec!r})")
    values, names = read_csv(path, cfg.columns)
    return series_data(values, names, None, _window(cfg, DEFAULT_WINDOW), path.name, str(path.resolve()),
                       columns=names)
