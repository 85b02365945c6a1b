"""Time-to-FID: how good a preset's samples get against wall-clock training minutes (issue 4's `quality`).

    python benchmarks/quality.py train --preset sngan-fashion --out runs/quality-sngan [--device cuda] [key=value ...]
    python benchmarks/quality.py eval runs/quality-sngan [--n 10000] [--device cuda] [--record]

`train` runs the preset keeping every checkpoint (train.keep = 10,000; checkpoint spacing from the
preset or train.ckpt_every=N); each checkpoint records the training seconds spent so far (its
`elapsed`, which leaves out sampling, checkpoint writing and evaluation). `eval` scores every
checkpoint of the run with the protocol of issue 4 and Lucic et al. 2018: 10,000 samples of the EMA
generator (seed 0), quantised to uint8, against the 10,000 Fashion-MNIST test images, standard
Inception (gankit's extractor: TF 2015-12-05 weights, bilinear 299, float64 statistics). It prints
FID against minutes and images seen, draws the curve (PNG beside the run), and says when the run
first reached FID <= 50 (the canonical DCGAN example after its 25 epochs, ~5.5 minutes on an H100)
and FID <= 10 (the issue's target, within 15 minutes).

The test-set features are computed once and kept under --work (shared with fid_lucic.py), so the
curve costs 10,000 Inception passes per checkpoint: seconds on a GPU, about 40 minutes each on a
2-core CPU (use fewer checkpoints or --n there, and say so).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fid_lucic import features, real_images  # noqa: E402  (the resumable, chunked Inception features)

MARKS = {"canonical DCGAN, 25 epochs": 50.0, "issue 4 target": 10.0}


def train(args, overrides: list[str]) -> None:
    from gankit.config import build_config
    from gankit.training.checkpoint import latest_checkpoint
    from gankit.training.loop import Trainer

    settings = {"train.keep": 10_000, "train.progress": True, **dict(o.split("=", 1) for o in overrides)}
    if args.device:
        settings["train.device"] = args.device
    run = Path(args.out)
    if latest_checkpoint(run) is not None:
        trainer = Trainer.resume(run)
    else:
        trainer = Trainer(build_config(args.preset, {}, [f"{k}={v}" for k, v in settings.items()]), run)
    s = trainer.run()
    print(f"{run}: step {s['step']} in {s['train_seconds']:.0f}s of training")


def evaluate(args) -> None:
    from gankit.metrics.distances import fid_from_features
    from gankit.metrics.extractors import InceptionExtractor
    from gankit.model import Generator
    from gankit.training.checkpoint import list_checkpoints

    torch.set_num_threads(args.threads)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    run, work = Path(args.run), Path(args.work)
    ext = InceptionExtractor(device=device, batch_size=200 if device == "cuda" else 50)
    log = lambda m: print(m, flush=True)  # noqa: E731
    test = features(f"test-{args.n}", real_images("fashion-mnist:test", args.n), ext, work, log)
    rows = []
    for step, path in list_checkpoints(run):
        g = Generator.load(path, device=device)
        meta = g.meta  # the checkpoint's header: step, images seen, training seconds
        if g.cfg.data.spec.split(":")[0] != "fashion-mnist":
            sys.exit(f"{run} was trained on {g.cfg.data.spec}; this benchmark scores fashion-mnist runs")
        t = time.perf_counter()
        x, _ = g.sample_uint8(args.n, seed=0)  # (n, H, W, C)
        x = x.permute(0, 3, 1, 2)
        if x.shape[-1] != 28:  # the protocol compares at 28 px, the test images' own size
            x = torch.nn.functional.interpolate(x.float(), size=(28, 28), mode="bilinear", antialias=True,
                                                align_corners=False).round().clamp(0, 255).to(torch.uint8)
        fid = fid_from_features(ext.features(x), test)
        rows.append({"step": step, "images": meta["images"], "minutes": meta["elapsed"] / 60, "fid": fid,
                     "eval_s": time.perf_counter() - t})
        log(f"step {step}: {meta['elapsed'] / 60:.2f} min, FID {fid:.2f} ({rows[-1]['eval_s']:.0f}s to score)")
    if not rows:
        sys.exit(f"{run} has no checkpoints; run `python benchmarks/quality.py train ...` first")
    lines = [f"| step | images seen | training minutes | FID ({args.n:,} vs test) |", "|---:|---:|---:|---:|"]
    lines += [f"| {r['step']} | {r['images']:,} | {r['minutes']:.2f} | {r['fid']:.2f} |" for r in rows]
    for label, level in MARKS.items():
        hit = next((r for r in rows if r["fid"] <= level), None)
        lines.append(f"\nFID <= {level:g} ({label}): " + (f"first at {hit['minutes']:.2f} min (step {hit['step']})"
                                                         if hit else "not reached"))
    table = "\n".join(lines)
    print(table)
    (run / "quality.json").write_text(json.dumps(rows, indent=1))
    from gankit.viz import save_figure
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot([r["minutes"] for r in rows], [r["fid"] for r in rows], marker="o")
    for level in MARKS.values():
        ax.axhline(level, color="grey", lw=0.8, ls="--")
    ax.set(xlabel="training minutes", ylabel=f"FID ({args.n:,} vs Fashion-MNIST test)", yscale="log", title=run.name)
    print(f"curve: {save_figure(fig, run / 'plots' / 'quality.png', dpi=120, bbox_inches='tight')}")
    if args.record:
        out = Path("benchmarks/results/quality.md")
        head = "# Time-to-FID on Fashion-MNIST\n\nWritten by benchmarks/quality.py; newest last.\n"
        gpu = torch.cuda.get_device_name() if device == "cuda" else "no GPU"
        body = (f"\n## {run.name}: {datetime.datetime.now():%Y-%m-%d %H:%M}\n\n- machine: {platform.machine()}, "
                f"{os.cpu_count()} CPU cores, {gpu}, torch {torch.__version__}\n- command: `python "
                f"{' '.join(sys.argv)}`; config: {run / 'config.json'}\n- n = {args.n} per set; extractor "
                f"{ext.name} ({ext.weights_hash})\n\n{table}\n")
        out.write_text((out.read_text() if out.is_file() else head) + body)
        print(f"appended to {out}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train a preset keeping every checkpoint")
    t.add_argument("--preset", default="sngan-fashion")
    t.add_argument("--out", required=True)
    t.add_argument("--device", default=None)
    e = sub.add_parser("eval", help="FID of every checkpoint against training minutes")
    e.add_argument("run")
    e.add_argument("--n", type=int, default=10_000)
    e.add_argument("--device", default=None)
    e.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    e.add_argument("--work", default="runs/bench-lucic", help="where the test-set feature chunks are kept")
    e.add_argument("--record", action="store_true", help="append the table to benchmarks/results/quality.md")
    args, rest = p.parse_known_args()
    if args.cmd == "train":
        train(args, rest)
    elif rest:
        p.error(f"unknown arguments {rest}")
    else:
        evaluate(args)


if __name__ == "__main__":
    main()
