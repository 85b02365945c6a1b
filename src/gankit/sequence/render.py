"""Seeing sequences: animated stick figures (GIF via Pillow, MP4 when ffmpeg is on PATH), filmstrip
PNGs of motion for training-time samples, and line plots of series next to real ones."""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np

from ..errors import GankitError


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _project(pos: np.ndarray) -> np.ndarray:
    """World positions (..., 3), y up -> screen (..., 2): a camera looking along -z from the front-right,
    30 degrees of yaw, so depth does not collapse walking along the view axis."""
    a = math.radians(30.0)
    x = pos[..., 0] * math.cos(a) - pos[..., 2] * math.sin(a)
    return np.stack([x, pos[..., 1]], -1)


def _bounds(screen: np.ndarray, pad: float = 0.15) -> tuple[float, float, float, float]:
    """Square limits over all clips and frames: every panel shares one scale, the ground at y = 0."""
    lo, hi = screen.reshape(-1, 2).min(0), screen.reshape(-1, 2).max(0)
    lo[1] = min(lo[1], 0.0)
    half = max(hi - lo) / 2 + pad
    mid = (lo + hi) / 2
    return mid[0] - half, mid[0] + half, mid[1] - half, mid[1] + half


def _draw_pose(ax, pts: np.ndarray, parents, colour="tab:blue") -> None:
    for j, p in enumerate(parents):
        if p >= 0:
            ax.plot([pts[p, 0], pts[j, 0]], [pts[p, 1], pts[j, 1]], "-", color=colour, lw=2, solid_capstyle="round")
    ax.plot(pts[:, 0], pts[:, 1], "o", color="black", ms=2)


def render_motion_gif(clips: np.ndarray, skeleton: dict, path: Path, fps: int = 15, titles=None,
                      cols: int | None = None) -> Path:
    """Clips (N, T, J * 3) in metres -> one animated file with N stick figures side by side.

    `path` ending in .mp4 writes MP4 through ffmpeg (a clear error when ffmpeg is missing); anything
    else writes a looping GIF with Pillow (no external program).
    """
    from matplotlib.animation import FFMpegWriter, FuncAnimation, PillowWriter

    clips = np.asarray(clips, dtype=np.float64)
    n, T = clips.shape[:2]
    pos = clips.reshape(n, T, -1, 3)
    path = Path(path)
    mp4 = path.suffix.lower() == ".mp4"
    if mp4 and shutil.which("ffmpeg") is None:
        raise GankitError(f"cannot write {path}: ffmpeg is not installed; write a .gif instead (or apt-get install "
                          f"ffmpeg)")
    plt = _plt()
    cols = cols or min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.4 * rows), dpi=72, squeeze=False)
    screen = _project(pos)  # (n, T, J, 2)
    for ax in axes.flat:
        ax.set_axis_off()
    # each clip gets its own window that follows its root horizontally (a walker stays in view)
    windows = []
    for i in range(n):
        centred = screen[i].copy()
        centred[..., 0] -= screen[i, :, :1, 0]
        x0, x1, y0, y1 = _bounds(centred)
        windows.append((x0, x1, y0, y1))

    def frame(t):
        for i, ax in enumerate(axes.flat[:n]):
            ax.cla()
            ax.set_axis_off()
            x0, x1, y0, y1 = windows[i]
            cx = screen[i, t, 0, 0]
            ax.set_xlim(cx + x0, cx + x1)
            ax.set_ylim(y0, y1)
            ax.set_aspect("equal")
            ax.axhline(0.0, color="0.6", lw=1)
            _draw_pose(ax, screen[i, t], skeleton["parents"])
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
        return []

    anim = FuncAnimation(fig, frame, frames=T, blit=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = FFMpegWriter(fps=fps) if mp4 else PillowWriter(fps=fps)
    anim.save(str(path), writer=writer)
    plt.close(fig)
    return path


def motion_filmstrip(clips: np.ndarray, skeleton: dict, path: Path, frames: int = 8, titles=None) -> Path:
    """Clips (N, T, J * 3) -> one PNG: a row per clip, `frames` evenly spaced poses across it."""
    clips = np.asarray(clips, dtype=np.float64)
    n, T = clips.shape[:2]
    pos = clips.reshape(n, T, -1, 3)
    screen = _project(pos)
    plt = _plt()
    ts = np.linspace(0, T - 1, frames).round().astype(int)
    fig, ax = plt.subplots(figsize=(1.1 * frames, 1.3 * n), dpi=80)
    ax.set_axis_off()
    ax.set_aspect("equal")
    for i in range(n):
        centred = screen[i] - screen[i, :, :1, :] * np.array([1.0, 0.0])  # follow the root horizontally
        for k, t in enumerate(ts):
            pts = centred[t] + np.array([1.2 * k, -2.2 * i])
            _draw_pose(ax, pts, skeleton["parents"])
        ax.plot([-0.5, 1.2 * frames - 0.6], [-2.2 * i, -2.2 * i], color="0.7", lw=0.8)
        if titles is not None:
            ax.text(-0.6, -2.2 * i + 1.0, str(titles[i]), fontsize=7, ha="right")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_series(fake: np.ndarray, path: Path, real: np.ndarray | None = None, names=None, title: str = "",
                count: int = 6) -> Path:
    """Series (N, T, F) -> one PNG: a panel per feature (at most 6), `count` generated sequences in colour
    and as many real ones in grey beside them (left: real, right: generated) on a shared y range."""
    fake = np.asarray(fake, dtype=np.float64)
    F = fake.shape[2]
    show = list(range(min(F, 6)))
    cols = 2 if real is not None else 1
    plt = _plt()
    fig, axes = plt.subplots(len(show), cols, figsize=(4.2 * cols, 1.6 * len(show) + 0.5), dpi=90, squeeze=False,
                             sharex=True)
    for r, f in enumerate(show):
        data = [fake[:count, :, f]] + ([np.asarray(real)[:count, :, f]] if real is not None else [])
        lo = min(d.min() for d in data)
        hi = max(d.max() for d in data)
        pad = 0.05 * (hi - lo + 1e-9)
        panels = [("real", real, "0.45"), ("generated", fake, None)] if real is not None else [("generated", fake, None)]
        for c, (label, arr, colour) in enumerate(panels):
            ax = axes[r, c]
            for k in range(min(count, len(arr))):
                ax.plot(np.asarray(arr)[k, :, f], color=colour or f"C{k % 10}", lw=1)
            ax.set_ylim(lo - pad, hi + pad)
            ax.grid(alpha=0.3)
            if r == 0:
                ax.set_title(label, fontsize=9)
            if c == 0:
                ax.set_ylabel(names[f] if names is not None and f < len(names) else f"feature {f}", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    axes[-1, 0].set_xlabel("time step")
    fig.tight_layout()
    from ..viz import save_figure
    return save_figure(fig, path)
