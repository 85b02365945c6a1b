"""Sequence GAN targets: train a preset on the CPU, then measure it with evaluate_sequences.

    python benchmarks/sequence.py sines                    # the `sines` preset, TimeGAN's protocol
    python benchmarks/sequence.py motion                   # the `motion` preset (conditional, skeleton head)
    python benchmarks/sequence.py motion-glo               # GLO with code search on motion (no adversary)
    python benchmarks/sequence.py sines --steps 500 --out runs/bench-sines key=value ...

Prints one markdown table per run (also appended to benchmarks/results/sequence.md with --record):
the trained generator, the same net untrained (step 0, the ceiling of the scores), and real data
against itself (the floor: held-out real sequences in place of generated ones).
Targets (issue 7): discriminative <= 0.15, predictive within 10% of real-data training
(predictive_ratio <= 1.10), bone-length error <= 2%.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

METRICS = {"sines": "discriminative,predictive,mmd",
           "motion": "discriminative,predictive,mmd,bone,foot,action",
           "motion-glo": "discriminative,predictive,mmd,bone,foot,action"}


def real_floor(run: str, names: list[str], n: int, repeats: int) -> dict:
    """The scores of held-out real data (the test split) in place of generated sequences."""
    from gankit.model import Generator
    from gankit.sequence import metrics as M

    g = Generator.load(run, device="cpu")
    obj = g.objective
    train = obj.load_reference()
    spec = g.cfg.data.spec.split(":")[0]
    test = obj.load_reference(f"{spec}:test")
    gen = torch.Generator().manual_seed(0)
    real = train.x[torch.randperm(len(train), generator=gen)[:n]]
    other = test.x[torch.randperm(len(test), generator=gen)[:n]]
    out = {}
    if "discriminative" in names:
        runs = [M.discriminative_score(real, other, seed=s)["discriminative"] for s in range(repeats)]
        out["discriminative"] = sum(runs) / len(runs)
    if "predictive" in names:
        runs = [M.predictive_score(real, other, seed=s) for s in range(repeats)]
        out["predictive"] = sum(r["predictive"] for r in runs) / len(runs)
        out["predictive_ratio"] = sum(r["predictive_ratio"] for r in runs) / len(runs)
    if "mmd" in names:
        out["mmd"] = M.mmd_rbf(real, other)
    if obj.kind == "motion":
        units = obj.to_units(other)
        out.update(M.bone_metrics(units, obj.skeleton))
        out.update(M.foot_metrics(units, obj.skeleton, float(g.info.extra.get("fps", 15))))
    return out


def table(rows: dict[str, dict], keys: list[str]) -> str:
    head = "| | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys) + "\n"
    body = ""
    for name, m in rows.items():
        body += f"| {name} | " + " | ".join("" if k not in m else f"{m[k]:.4g}" for k in keys) + " |\n"
    return head + body


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task", choices=sorted(METRICS))
    p.add_argument("--steps", type=int, help="training steps (default: the preset's)")
    p.add_argument("--out", help="run directory (default runs/bench-TASK)")
    p.add_argument("--n", type=int, default=1000, help="generated and real sequences per metric")
    p.add_argument("--repeats", type=int, default=3, help="seeds of the post-hoc scores")
    p.add_argument("--metrics", help="override the metric list")
    p.add_argument("--skip-train", action="store_true", help="measure an existing --out run")
    p.add_argument("--record", action="store_true", help="append the table to benchmarks/results/sequence.md")
    p.add_argument("settings", nargs="*", help="key=value overrides")
    a = p.parse_intermixed_args(argv)  # key=value settings may follow the options
    torch.set_num_threads(1)  # a shared 2-core machine: one thread, stable timings
    from gankit.config import build_config
    from gankit.sequence.metrics import evaluate_sequences
    from gankit.training.loop import Trainer

    names = (a.metrics or METRICS[a.task]).split(",")
    out = Path(a.out or f"runs/bench-{a.task}")
    flags = {"train.progress": False, "train.tensorboard": False}
    if a.steps:
        flags["train.steps"] = a.steps
    cfg = build_config(a.task, flags, a.settings)
    t0 = time.perf_counter()
    if not a.skip_train:
        if out.exists() and any(out.iterdir()):
            sys.exit(f"{out} exists; pass another --out (or --skip-train to measure it)")
        Trainer(cfg, out / "untrained", log=lambda m: None).save()  # the same nets at step 0, kept apart
        Trainer(cfg, out, log=lambda m: print(m, file=sys.stderr)).run()
    train_s = time.perf_counter() - t0
    summary = json.loads((out / "summary.json").read_text())
    rows = {}
    t1 = time.perf_counter()
    rows[f"trained ({summary['step']} steps)"] = evaluate_sequences(out, names, n=a.n, repeats=a.repeats,
                                                                     device="cpu")["metrics"]
    eval_s = time.perf_counter() - t1
    if (out / "untrained" / "checkpoints").is_dir():
        rows["untrained (step 0)"] = evaluate_sequences(out / "untrained", names, n=a.n, repeats=a.repeats,
                                                        device="cpu")["metrics"]
    rows["real test split vs train"] = real_floor(str(out), names, a.n, a.repeats)
    keys = [k for k in ["discriminative", "discriminative_std", "predictive", "predictive_real", "predictive_ratio",
                        "mmd", "bone_error", "bone_std", "foot_penetration", "foot_skate", "foot_contact",
                        "foot_skate_real", "action_accuracy", "action_accuracy_real"]
            if any(k in m for m in rows.values())]
    cmd = "python benchmarks/sequence.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = (f"\n## {a.task}: {time.strftime('%Y-%m-%d %H:%M')}\n\n"
            f"Machine: {platform.machine()} CPU, 2 cores shared with other jobs, no GPU, torch {torch.__version__}, "
            f"1 thread. Command: `{cmd}`\n\n"
            f"Preset `{a.task}` ({cfg.net.name}, loss {cfg.loss.name}, batch {cfg.train.batch_size}, "
            f"{summary['step']} steps): training {summary['train_seconds']:.0f} s of loop time "
            f"({train_s:.0f} s wall with samples and checkpoints); measuring the trained run {eval_s:.0f} s. "
            f"Metrics: n={a.n} generated vs n real, post-hoc scores over {a.repeats} seeds (TimeGAN's protocol).\n\n"
            + table(rows, keys))
    print(text)
    if a.record:
        path = Path(__file__).parent / "results" / "sequence.md"
        if not path.exists():
            path.write_text("# Sequence GANs: measured targets\n\nWritten by benchmarks/sequence.py; newest last.\n")
        with open(path, "a") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
