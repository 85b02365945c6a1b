"""Image-to-image translation targets, measured: train the presets, evaluate on the test split, write a table.

    python benchmarks/translation.py edges2fashion    # pix2pix vs the L1-only baseline (two trainings)
    python benchmarks/translation.py sneaker2boot     # CycleGAN: domain accuracy and cycle error

Each training uses its preset (see src/gankit/presets/) with one torch thread; --steps overrides
the number of steps of every model alike. Evaluation is `gankit translate RUN --input TASK:test
--metrics` on the whole test split. Reference rows put the numbers on a scale: for edges2fashion
the FID between real training and real test images (the floor any generator sits above); for
sneaker2boot the classifier's verdict on untranslated test images.

Results go to benchmarks/results/translation-TASK.md (date, machine, command, load average, table).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import torch

TASKS = {
    "edges2fashion": [("pix2pix", "pix2pix-edges2fashion"), ("L1 only", "l1-edges2fashion")],
    "sneaker2boot": [("CycleGAN", "cyclegan-sneaker2boot")],
}


def train(preset: str, run_dir: Path, overrides: list[str], reuse: bool) -> dict:
    """Train `preset` into run_dir (or, with reuse, take a finished run of the same config from there)."""
    from gankit.config import build_config
    from gankit.training.loop import Trainer

    cfg = build_config(preset, {"train.progress": False}, overrides)
    summary_file = run_dir / "summary.json"
    now = cfg.to_dict()
    if reuse and summary_file.is_file() and all(now.get(k) == v for k, v in json.loads(
            (run_dir / "config.json").read_text()).items()):  # sections registered later are not compared
        summary = json.loads(summary_file.read_text())
        if summary["step"] == cfg.train.steps:
            print(f"  reusing the finished run in {run_dir}", flush=True)
            return {**summary, "cfg": cfg}
    shutil.rmtree(run_dir, ignore_errors=True)
    summary = Trainer(cfg, run_dir, log=lambda m: print(f"  {m}", flush=True)).run()
    return {**summary, "cfg": cfg}


def evaluate(run_dir: Path, task: str, fid_ci: int) -> dict:
    from gankit.model import Generator
    from gankit.translate import evaluate as evaluate_translation

    g = Generator.load(run_dir, device="cpu")
    return evaluate_translation(g, f"{task}:test", log=lambda m: print(f"  {m}", flush=True), fid_ci=fid_ci)


def fid(m: dict, d: str) -> str:
    lo, hi = m.get(f"{d}/fid_clf_ci95_low"), m.get(f"{d}/fid_clf_ci95_high")
    return f"{m[f'{d}/fid_clf']:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if lo is not None else "")


def references(run_dir: Path, task: str) -> list[str]:
    """Rows that put the metrics on a scale, from real images and the same classifier."""
    from gankit.metrics.distances import fid_from_features
    from gankit.model import Generator
    from gankit.translate import load_two_domains, reference_classifier

    g = Generator.load(run_dir, device="cpu")
    quiet = lambda m: None  # noqa: E731
    test = load_two_domains(g, f"{task}:test", None, log=quiet)
    train_ = load_two_domains(g, f"{task}:train", None, log=quiet)
    if task == "edges2fashion":
        clf = reference_classifier(train_, "B", quiet)
        n = len(test.x2)
        fid_real = fid_from_features(clf.features(test.x2), clf.features(train_.x2[:n]))
        return [f"| real training images ({n}) vs the test targets: the floor | | | | | | {fid_real:.3f} |"]
    clf = reference_classifier(train_, "B", quiet)
    boots_a = float((clf.predict(test.x) == 1).double().mean())
    boots_b = float((clf.predict(test.x2) == 1).double().mean())
    return [f"| test sneakers, untranslated (classified as boots) | | | | {boots_a:.3f} | |",
            f"| test boots, real (classified as boots) | | | | {boots_b:.3f} | |"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task", choices=sorted(TASKS))
    p.add_argument("--steps", type=int, help="override train.steps of every model")
    p.add_argument("--runs", default="runs/bench-translation", help="where the run directories go")
    p.add_argument("--out", help="results file (default benchmarks/results/translation-TASK.md)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seeds", default="0", help="comma-separated train.seed values; each model is trained per seed")
    p.add_argument("--fid-ci", type=int, default=100, help="bootstrap resamples for the fid_clf interval (0: none)")
    p.add_argument("--reuse", action="store_true", help="evaluate finished runs of the same config instead of "
                                                        "training them again (their recorded train time is kept)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows, details = [], {}
    load_before = os.getloadavg()
    runs = [(f"{label}" + (f", seed {seed}" if "," in args.seeds else ""), preset, int(seed))
            for seed in args.seeds.split(",") for label, preset in TASKS[args.task]]
    for label, preset, seed in runs:
        overrides = [f"train.seed={seed}"] + ([f"train.steps={args.steps}"] if args.steps else [])
        run_dir = Path(args.runs) / f"{preset}-seed{seed}"
        print(f"{label}: training preset {preset} in {run_dir}", flush=True)
        s = train(preset, run_dir, overrides, args.reuse)
        print(f"{label}: {s['step']} steps, {s['train_seconds']:.0f}s of training; evaluating", flush=True)
        t0 = time.perf_counter()
        r = evaluate(run_dir, args.task, args.fid_ci)
        m, cfg = r["metrics"], s["cfg"]
        details[label] = {"metrics": m, "provenance": r["provenance"], "train_seconds": s["train_seconds"],
                          "img_per_s": s["img_per_s"], "eval_seconds": round(time.perf_counter() - t0, 1)}
        print(json.dumps(details[label], indent=1, default=str), flush=True)
        size = f"{cfg.train.steps} x {cfg.train.batch_size}"
        if args.task == "edges2fashion":
            rows.append(f"| {label} | {size} | {s['train_seconds']:.0f} | {m['AtoB/l1']:.4f} | {m['AtoB/psnr']:.2f} | "
                        f"{m['AtoB/ssim']:.4f} | {fid(m, 'AtoB')} |")
        else:
            for d, what in (("AtoB", "sneaker -> boot"), ("BtoA", "boot -> sneaker")):
                rows.append(f"| {label}: {what} | {size} | {s['train_seconds']:.0f} | {m[f'{d}/cycle_l1']:.4f} | "
                            f"{m[f'{d}/domain_acc']:.3f} | {fid(m, d)} |")
    rows += references(Path(args.runs) / f"{runs[0][1]}-seed{runs[0][2]}", args.task)
    load_after = os.getloadavg()
    clf = next(iter(details.values()))["provenance"]["classifiers"]
    header = {
        "edges2fashion": ["| model | steps x batch | train s | L1 | PSNR (dB) | SSIM | fid_clf [95% bootstrap CI] |",
                          "|---|---|---:|---:|---:|---:|---:|"],
        "sneaker2boot": ["| model: direction | steps x batch | train s | cycle L1 | classified as target | "
                         "fid_clf [95% bootstrap CI] |", "|---|---|---:|---:|---:|---:|"],
    }[args.task]
    text = "\n".join([
        f"# Translation: {args.task}", "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M')}",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPU cores, no GPU; {args.threads} torch thread(s); "
        f"torch {torch.__version__}",
        f"- command: `python {' '.join(sys.argv)}`",
        f"- load average (1/5/15 min) before: {' / '.join(f'{v:.1f}' for v in load_before)}, after: "
        f"{' / '.join(f'{v:.1f}' for v in load_after)} (2.0 = both cores busy; the machine was shared)",
        "- evaluation: the whole test split; L1 on the [-1, 1] scale; PSNR/SSIM from scikit-image; fid_clf = Frechet "
        f"distance of the reference classifier's 128-d features, interval from {args.fid_ci} bootstrap resamples of the "
        "outputs; 'train s' = the trainer's own clock; classifier: "
        + "; ".join(f"{c['kind']} ({c['classes']} classes), accuracy {c['accuracy']:.3f} on {c['accuracy_on']}, "
                    f"weights {c['weights_hash']}" for c in clf.values()),
        "", *header, *rows, "",
        "```json", json.dumps(details, indent=1, default=str), "```", ""])
    out = Path(args.out or f"benchmarks/results/translation-{args.task}.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
