"""Pictures of a run: sample grids, 2D scatter plots, loss curves."""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from ..data import to_uint8


def save_grid(images: torch.Tensor, path: Path, nrow: int | None = None) -> Path:
    """Float images in [-1, 1], (N, C, H, W) -> one PNG grid."""
    from PIL import Image
    from torchvision.utils import make_grid

    nrow = nrow or max(1, int(math.sqrt(images.shape[0])))
    images = images.detach().cpu().float()
    if images.shape[-1] < 48:  # small images: enlarge (nearest) so a grid is readable on screen
        images = torch.nn.functional.interpolate(images, scale_factor=48 // images.shape[-1] + 1, mode="nearest")
    grid = make_grid(to_uint8(images), nrow=nrow, padding=2, pad_value=255)  # (3, H, W) uint8
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid.permute(1, 2, 0).numpy()).save(path)
    return path


def save_figure(fig, path: Path, **kwargs) -> Path:
    """Write a matplotlib figure (creating its folder) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, **kwargs)
    plt.close(fig)
    return path


def save_scatter(points: torch.Tensor, path: Path, reference: torch.Tensor | None = None, title: str = "") -> Path:
    """2D samples (N, 2) over the real data (grey), for the toy mixtures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    if reference is not None:
        ref = reference[:2500].cpu()
        ax.scatter(ref[:, 0], ref[:, 1], s=2, c="0.75", label="data")
    pts = points.detach().float().cpu()
    ax.scatter(pts[:, 0], pts[:, 1], s=2, c="tab:red", label="samples")
    ax.set_aspect("equal")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=7, markerscale=4)
    return save_figure(fig, path, bbox_inches="tight")


def plot_curves(metrics_jsonl: Path, path: Path) -> Path | None:
    """Loss and logit curves from metrics.jsonl, one panel per group (loss/, logits/, reg/, ...)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in Path(metrics_jsonl).read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "step" in r and r.get("kind", "train") == "train"]
    if not rows:
        return None
    keys = sorted({k for r in rows for k in r if "/" in k or k.startswith("D(")})
    groups: dict[str, list[str]] = {}
    for k in keys:
        groups.setdefault(k.split("/")[0] if "/" in k else "D outputs", []).append(k)
    fig, axes = plt.subplots(len(groups), 1, figsize=(7, 2.6 * len(groups)), dpi=100, squeeze=False)
    for ax, (group, ks) in zip(axes[:, 0], groups.items()):
        for k in ks:
            pts = [(r["step"], r[k]) for r in rows if k in r and r[k] is not None and math.isfinite(r[k])]
            if pts:
                ax.plot(*zip(*pts), label=k)
        ax.set_title(group)
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)
