"""The oracle benchmark (SeqGAN, Yu et al. 2017, section 5) on gankit, sized for a CPU.

The oracle is the issue's: a random LSTM (vocabulary 5,000, length 20, embedding and hidden size 32,
seed 0) whose 10,000 samples are the training data. Every generator is an LSTM of the oracle's size,
scored by NLL_oracle on 10,000 samples (seed 0, temperature 1) and by NLL_test on the oracle's 10,000
held-out sequences. The stages share one MLE pre-training, so the rows differ only in what follows it:

    python benchmarks/text_oracle.py mle        # MLE pre-training, MLE_STEPS steps
    python benchmarks/text_oracle.py mle-more   # the MLE-only baseline: MLE for ADV_STEPS more steps
    python benchmarks/text_oracle.py seqgan     # D pre-training, then ADV_STEPS SeqGAN steps
    python benchmarks/text_oracle.py gumbel     # ADV_STEPS steps of the Gumbel-softmax GAN (RSGAN)
    python benchmarks/text_oracle.py table      # measure every finished run, print and save the table
    python benchmarks/text_oracle.py noise      # NLL_oracle with sampling seeds 0 and 1, and its standard error

A stage that is stopped (Ctrl-C, SIGTERM, `timeout -s TERM 600 ...`) saves a checkpoint; running it again
continues exactly where it stopped, so each call can be kept under ten minutes. `--out` picks the
folder of the runs (default runs/bench-text-oracle); `--results` the Markdown file the table goes to.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

MLE_STEPS = 3000  # about 19 epochs of the 10,000 sequences at batch 64 (SeqGAN pre-trains 120 epochs)
D_PRE_STEPS = 500  # D on real vs MLE samples before the adversarial steps
ADV_STEPS = 150  # adversarial steps (SeqGAN: 200 G updates, each after ~2,300 D updates)

COMMON = {"data.spec": "oracle", "train.batch_size": 64, "train.seed": 0, "train.ema": 0.0, "train.log_every": 25,
          "train.sample_every": 1_000_000, "train.ckpt_every": 50, "train.tensorboard": False,
          "train.progress": False, "train.device": "cpu", "text.emb": 32, "text.hidden": 32}

STAGES = {
    "mle": {"train.objective": "mle", "train.steps": MLE_STEPS, "text.mle_lr": 0.01},
    "mle-more": {"train.objective": "mle", "train.steps": ADV_STEPS, "text.mle_lr": 0.01, "text.init": "{out}/mle"},
    # SeqGAN: the paper's G (lr 0.01 Adam in its code) diffuses under the noisy rewards of a D trained for
    # minutes instead of hours; lr 1e-3 for G and D, a D of a quarter of the paper's filters, 8 roll-outs.
    "seqgan": {"train.objective": "seqgan", "train.steps": D_PRE_STEPS + ADV_STEPS, "text.init": "{out}/mle",
               "text.pretrain_d": D_PRE_STEPS, "text.d_scale": 0.25, "seqgan.rollouts": 8, "optim.d_steps": 5,
               "optim.lr_g": 1e-3, "optim.lr_d": 1e-3, "optim.beta1": 0.9},
    # RelGAN's recipe on the same LSTM G: RSGAN, Adam 1e-4 (0.9, 0.999), beta 1 -> 100 (exp); 5 D steps per G step.
    "gumbel": {"train.objective": "gumbel", "train.steps": ADV_STEPS, "text.init": "{out}/mle",
               "text.d_scale": 0.25, "optim.d_steps": 5, "optim.lr_g": 1e-4, "optim.lr_d": 1e-4, "optim.beta1": 0.9,
               "gumbel.beta_max": 100.0, "gumbel.anneal": "exp", "gumbel.relativistic": True},
}
ROWS = [("oracle (floor)", None), ("MLE (pre-trained)", "mle"), ("MLE, +ADV_STEPS steps", "mle-more"),
        ("SeqGAN", "seqgan"), ("Gumbel-softmax GAN (RSGAN)", "gumbel")]


def train(stage: str, out: Path) -> None:
    from gankit.config import build_config
    from gankit.training.checkpoint import latest_checkpoint
    from gankit.training.loop import Trainer

    run = out / stage
    settings = {k: (v.format(out=out) if isinstance(v, str) else v) for k, v in {**COMMON, **STAGES[stage]}.items()}
    for key in ("text.init",):
        if key in settings and latest_checkpoint(Path(settings[key])) is None:
            sys.exit(f"run the stage that makes {settings[key]} first")
    if latest_checkpoint(run) is not None:
        trainer = Trainer.resume(run, settings["train.steps"])
    else:
        trainer = Trainer(build_config(None, settings), run)
    t0 = time.perf_counter()
    s = trainer.run()
    print(f"{stage}: step {s['step']}/{s['target_steps']} in {time.perf_counter() - t0:.0f}s"
          f"{' (interrupted: run again to continue)' if s['interrupted'] else ''}; last {s['last']}")


def measure(out: Path, n: int) -> dict:
    from gankit.text.data import oracle_data
    from gankit.text.metrics import evaluate_text, nll_oracle
    from gankit.text.oracle import ORACLES, Oracle, OracleSpec

    results = {}
    spec = OracleSpec(**ORACLES["oracle"])
    t0 = time.perf_counter()
    floor = nll_oracle(Oracle(spec), oracle_data(spec, "test"))
    results["oracle (floor)"] = {"nll_oracle": floor, "nll_test": floor, "seconds": time.perf_counter() - t0}
    for label, stage in ROWS[1:]:
        run = out / stage
        summary = run / "summary.json"
        if not summary.is_file() or json.loads(summary.read_text())["step"] < STAGES[stage]["train.steps"]:
            print(f"skipping {stage}: not finished", file=sys.stderr)
            continue
        s = json.loads(summary.read_text())
        t0 = time.perf_counter()
        r = evaluate_text(run, ["nll-oracle", "nll-test"], n=n, seed=0)
        r["seconds"] = time.perf_counter() - t0
        r["train_seconds"] = s["train_seconds"]
        results[label] = r
        print(label, r, file=sys.stderr)
    return results


def noise(out: Path, n: int) -> str:
    """NLL_oracle of the trained generators with two sampling seeds, and the standard error of the mean."""
    from gankit.model import Generator
    from gankit.text.oracle import oracle_from_info

    lines = ["| generator | seed 0 | seed 1 | standard error |", "|---|---|---|---|"]
    for label, stage in ROWS[1:]:
        if not (out / stage / "summary.json").is_file():
            continue
        g = Generator.load(out / stage, device="cpu")
        oracle = oracle_from_info(g.info.extra["text"])
        values = [oracle.nll(g.objective.sample_ids(g.net, n, seed)) for seed in (0, 1)]  # (n,) each
        se = max(float(v.std()) / n ** 0.5 for v in values)
        lines.append(f"| {label.replace('ADV_STEPS', str(ADV_STEPS))} | {float(values[0].mean()):.4f} | "
                     f"{float(values[1].mean()):.4f} | {se:.4f} |")
    return "\n".join(lines)


def table(results: dict, n: int) -> str:
    lines = ["| generator | NLL_oracle | NLL_test | train time (s, this stage) |", "|---|---|---|---|"]
    for label, _ in ROWS:
        r = results.get(label)
        if r is None:
            continue
        label = label.replace("ADV_STEPS", str(ADV_STEPS))
        t = f"{r['train_seconds']:.0f}" if "train_seconds" in r else ""
        lines.append(f"| {label} | {r['nll_oracle']:.3f} | {r['nll_test']:.3f} | {t} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=[*STAGES, "table", "noise"])
    p.add_argument("--out", default="runs/bench-text-oracle", help="folder of the runs")
    p.add_argument("--n", type=int, default=10_000, help="samples for NLL_oracle (the paper: 10,000)")
    p.add_argument("--results", default="benchmarks/results/text_oracle.md")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    if args.stage == "noise":
        print(noise(out, args.n))
        return
    if args.stage != "table":
        train(args.stage, out)
        return
    results = measure(out, args.n)
    text = table(results, args.n)
    print(text)
    cmd = " ".join(["python", *sys.argv])
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    doc = (f"# Text GANs on the SeqGAN oracle\n\n- date: {time.strftime('%Y-%m-%d %H:%M')}\n- machine: "
           f"{platform.machine()}, 2 CPU cores shared with other sessions, no GPU; {torch.get_num_threads()} torch "
           f"thread; torch {torch.__version__}; load average at the table (1/5/15 min): {load}\n\n"
           f"Oracle: random LSTM, vocabulary 5,000, length 20, embedding/hidden 32, seed 0; 10,000 training "
           f"sequences. NLL_oracle: mean per-token NLL (nats) under the oracle of {args.n:,} samples (seed 0, "
           f"temperature 1); NLL_test: per-token NLL of the oracle's 10,000 held-out sequences under the generator. "
           f"Schedule: MLE {MLE_STEPS} steps (batch 64, Adam 0.01), then {ADV_STEPS} steps of MLE, SeqGAN "
           f"({D_PRE_STEPS} D pre-training steps first) or the Gumbel-softmax GAN, all from the same MLE "
           f"checkpoint and seed.\n\n{text}\n\nCommands: `python benchmarks/text_oracle.py mle|mle-more|seqgan|"
           f"gumbel` (each stage resumable), then `{cmd}`.\n\nStage settings:\n\n```\n"
           + "\n".join(f"{k}: {json.dumps({**COMMON, **v})}" for k, v in STAGES.items()) + "\n```\n")
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(doc)
    print(f"wrote {args.results}", file=sys.stderr)


if __name__ == "__main__":
    main()
