"""Writing samples for `gankit sample`: images as .npz / PNG grid / PNG folder, 2D vectors as .npz / scatter."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import to_uint8
from ..viz import save_grid, save_scatter


def write_image_samples(g, args) -> str:
    out = Path(args.out)
    x, y = g.sample(args.n, seed=args.seed, labels=args.label, return_labels=True)
    extra = {"labels": y.numpy()} if y is not None else {}
    if x.dim() != 4:  # vectors (toy data)
        if out.suffix == ".png":
            save_scatter(x, out, title=f"{args.n} samples")
        else:
            out = out if out.suffix == ".npz" else out.with_suffix(".npz")
            out.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(out, samples=x.numpy(), **extra)
        return f"wrote {args.n} samples to {out}"
    if out.suffix == ".png":
        save_grid(x, out)
        return f"wrote a grid of {args.n} samples to {out}"
    images = to_uint8(x).permute(0, 2, 3, 1).numpy()  # (N, H, W, C) uint8
    if out.suffix == ".npz":
        out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(out, images=images, **extra)
        return f"wrote {args.n} samples to {out} (images uint8 {images.shape}{', labels' if extra else ''})"
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    for k, im in enumerate(images):
        tag = f"_class{int(y[k])}" if y is not None else ""
        Image.fromarray(im[..., 0] if im.shape[-1] == 1 else im).save(out / f"{k:06d}{tag}.png")
    return f"wrote {args.n} PNG files to {out}/"
