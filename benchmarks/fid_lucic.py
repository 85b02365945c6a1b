"""The Fashion-MNIST FID protocol of Lucic et al. 2018 ("Are GANs Created Equal?"), standard Inception.

    .venv/bin/python benchmarks/fid_lucic.py RUN [RUN ...] [--n 10000] [--work runs/bench-lucic] [--threads 1]

Protocol: 10,000 generated images (the EMA generator of each run's last checkpoint, sampling seed 0)
against the 10,000 Fashion-MNIST test images, both at 28x28 grey, through gankit's Inception
extractor (TF 2015-12-05 weights; uint8 -> grey tiled to RGB -> bilinear 299 -> (x-128)/128 ->
pool3, float64 statistics). The floor is the same distance for real images: 10,000 train images
(a fixed random subset, seed 0) against the test set. KID (unbiased, 100 subsets of 1,000) is shown
beside it.

Inception is slow on a CPU (4-9 images/s on these 2 cores), so features are extracted in chunks of
500 images saved under --work; stopping the script (Ctrl-C, a timeout) loses at most one chunk and
running it again continues. The table goes to stdout and, with --record, to
benchmarks/results/fid_lucic.md.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

CHUNK = 500
LUCIC = {"best WGAN": 21.5, "best LSGAN": 30.7}  # Lucic et al. 2018, Fashion-MNIST, 10k vs 10k test


def features(name: str, images, extractor, work: Path, log) -> np.ndarray:
    """Inception features of uint8 images (N, C, H, W), chunk by chunk, resumable: (N, 2048) float64."""
    folder = work / "features" / name
    folder.mkdir(parents=True, exist_ok=True)
    parts, spent, done = [], 0.0, 0
    for start in range(0, len(images), CHUNK):
        path = folder / f"{start:06d}.npy"
        if not path.is_file():
            t = time.perf_counter()
            f = extractor.features(images[start:start + CHUNK])
            spent += time.perf_counter() - t
            done += len(f)
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, f)
            os.replace(tmp, path)  # a stopped run never leaves a half-written chunk
            log(f"{name}: {start + len(f)}/{len(images)} images ({done / spent:.1f} images/s)")
        parts.append(np.load(path))
    return np.concatenate(parts)


def real_images(spec: str, n: int) -> torch.Tensor:
    from gankit.config import DataConfig
    from gankit.data import load_data

    x = load_data(DataConfig(spec=spec, image_size=28, channels=1), None, lambda m: None).x
    if n < len(x):
        idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:n].sort().values
        x = x[idx]
    return x


def generated_images(run: str, n: int, cache: Path) -> tuple[torch.Tensor, dict]:
    """10k samples of a run as uint8 NCHW, written once to an .npz so a resumed extraction sees the same images."""
    from gankit.model import Generator

    if cache.is_file():
        with np.load(cache) as z:
            return torch.from_numpy(z["images"]).permute(0, 3, 1, 2).contiguous(), {"step": int(z["step"])}
    g = Generator.load(run, device="cpu")
    x, _ = g.sample_uint8(n, seed=0)  # (n, H, W, C)
    if g.cfg.data.spec.split(":")[0] != "fashion-mnist" or tuple(x.shape[1:]) != (28, 28, 1):
        sys.exit(f"{run} makes {tuple(x.shape[1:])} images of {g.cfg.data.spec}; this protocol needs "
                 f"fashion-mnist at 28x28x1")
    step = int(g.meta.get("step") or 0)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, images=x.numpy(), step=step)
    return x.permute(0, 3, 1, 2).contiguous(), {"step": step}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="*", help="run directories trained on fashion-mnist at 28 px")
    p.add_argument("--n", type=int, default=10_000, help="images per set (the protocol: 10,000)")
    p.add_argument("--work", default="runs/bench-lucic", help="folder for the resumable feature chunks")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--record", action="store_true", help="append the table to benchmarks/results/fid_lucic.md")
    p.add_argument("--only", choices=["real", "generated"],
                   help="extract only these features and stop (run two processes on two cores: one each)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    from gankit.metrics.distances import fid_from_features, kid
    from gankit.metrics.extractors import InceptionExtractor

    work = Path(args.work)
    log = lambda m: print(m, flush=True)  # noqa: E731
    ext = InceptionExtractor(batch_size=50)
    t0 = time.perf_counter()
    rows = []
    for run in args.runs if args.only != "real" else []:
        name = Path(run).resolve().name
        x, info = generated_images(run, args.n, work / "samples" / f"{name}-{args.n}.npz")
        rows.append((f"{run} (step {info['step']})", features(f"{name}-{args.n}", x, ext, work, log)))
    if args.only == "generated":
        return
    test = features(f"test-{args.n}", real_images("fashion-mnist:test", args.n), ext, work, log)
    rows.insert(0, ("real: train subset vs test (the floor)",
                    features(f"train-{args.n}", real_images("fashion-mnist:train", args.n), ext, work, log)))
    if args.only == "real":
        return
    elapsed = time.perf_counter() - t0

    lines = ["| images vs Fashion-MNIST test | FID | KID x 1000 |", "|---|---|---|"]
    for label, f in rows:
        k_mean, k_std = kid(f, test, subsets=100, subset_size=min(1000, len(f)), seed=0)
        lines.append(f"| {label} | {fid_from_features(f, test):.2f} | {1000 * k_mean:.2f} ± {1000 * k_std:.2f} |")
    for label, v in LUCIC.items():
        lines.append(f"| Lucic et al. 2018, {label} (their table) | {v} | |")
    table = "\n".join(lines)
    print(table)
    if args.record:
        out = Path("benchmarks/results/fid_lucic.md")
        head = "" if out.is_file() else "# Fashion-MNIST FID, the protocol of Lucic et al. 2018\n\nWritten by benchmarks/fid_lucic.py; newest last.\n"
        load = "/".join(f"{v:.1f}" for v in os.getloadavg())
        cmd = "python benchmarks/fid_lucic.py " + " ".join(sys.argv[1:])
        body = (f"\n## {datetime.datetime.now():%Y-%m-%d %H:%M}\n\n"
                f"- machine: {platform.machine()}, {os.cpu_count()} CPU cores, no GPU, {args.threads} torch thread(s), "
                f"torch {torch.__version__}; load average at the end {load}\n"
                f"- command: `{cmd}`\n"
                f"- extractor: {ext.name} ({ext.weights_hash}), {ext.protocol}\n"
                f"- n = {args.n} per set; time of this call (feature chunks not already on disk): {elapsed / 60:.1f} min\n\n"
                f"{table}\n")
        out.write_text((out.read_text() if out.is_file() else head) + body)
        print(f"appended to {out}")


if __name__ == "__main__":
    main()
