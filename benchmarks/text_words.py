"""The `words` target on gankit: do sampled words exist, and are they new?

Data: Debian's wamerican list, lowercase a-z words, split by a hash of each word: a quarter trains
(15,976), three quarters are held out (47,899). A character-level LSTM G (embedding 64, 256 units,
dropout 0.2) is pre-trained by MLE (2,500 steps, lr decaying over the second half) and sampled
through its EMA; SeqGAN and the Gumbel-softmax GAN continue from that EMA generator. Each generator
writes 2,000 words (seed 0) at several temperatures and is scored by: % of samples that are
dictionary words (train + held out), % of those not in the training split (novel), % distinct
samples, NLL of the held-out words, distinct-n. `mle-s1` repeats the MLE stage with seed 1;
`seqgan-baseline` subtracts the batch's mean reward (less variance than SeqGAN's plain REINFORCE).

    python benchmarks/text_words.py mle        # MLE (about 4 CPU minutes)
    python benchmarks/text_words.py mle-s1     # the same, train.seed=1
    python benchmarks/text_words.py seqgan     # 500 D steps, then ADV_STEPS SeqGAN steps
    python benchmarks/text_words.py seqgan-baseline  # the same with seqgan.baseline=true
    python benchmarks/text_words.py gumbel     # ADV_STEPS Gumbel-softmax GAN steps (RSGAN)
    python benchmarks/text_words.py table      # measure, print and save the table

Stages resume where they stopped (SIGTERM / Ctrl-C save a checkpoint), so every call can be kept short.
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

MLE_STEPS = 2500
D_PRE_STEPS = 500
ADV_STEPS = 300
TEMPERATURES = (1.0, 0.5, 0.4, 0.35, 0.3)  # sharpening by temperature: real words rise, variety falls

COMMON = {"data.spec": "words", "train.batch_size": 64, "train.seed": 0, "train.ema": 0.0, "train.log_every": 50,
          "train.sample_every": 1_000_000, "train.ckpt_every": 100, "train.tensorboard": False,
          "train.progress": False, "train.device": "cpu", "text.emb": 64, "text.hidden": 256, "text.dropout": 0.2}
MLE = {"train.objective": "mle", "train.steps": MLE_STEPS, "text.mle_lr": 0.01, "optim.decay_start": 0.5,
       "train.ema": 0.999}
SEQGAN = {"train.objective": "seqgan", "train.steps": D_PRE_STEPS + ADV_STEPS, "text.init": "{out}/mle",
          "text.pretrain_d": D_PRE_STEPS, "text.d_scale": 0.25, "seqgan.rollouts": 8, "optim.d_steps": 5,
          "optim.lr_g": 1e-3, "optim.lr_d": 1e-3, "optim.beta1": 0.9}
STAGES = {
    "mle": MLE,
    "mle-s1": {**MLE, "train.seed": 1},
    "seqgan": SEQGAN,
    "seqgan-baseline": {**SEQGAN, "seqgan.baseline": True},  # the batch's mean reward subtracted
    "gumbel": {"train.objective": "gumbel", "train.steps": ADV_STEPS, "text.init": "{out}/mle", "text.d_scale": 0.25,
               "optim.d_steps": 5, "optim.lr_g": 1e-4, "optim.lr_d": 1e-4, "optim.beta1": 0.9,
               "gumbel.beta_max": 100.0, "gumbel.anneal": "exp", "gumbel.relativistic": True},
}
METRICS = ["words", "nll-test", "distinct"]


def train(stage: str, out: Path) -> None:
    from gankit.config import build_config
    from gankit.training.checkpoint import latest_checkpoint
    from gankit.training.loop import Trainer

    run = out / stage
    settings = {k: (v.format(out=out) if isinstance(v, str) else v) for k, v in {**COMMON, **STAGES[stage]}.items()}
    if "text.init" in settings and latest_checkpoint(Path(settings["text.init"])) is None:
        sys.exit(f"run the stage that makes {settings['text.init']} first")
    trainer = Trainer.resume(run, settings["train.steps"]) if latest_checkpoint(run) is not None else \
        Trainer(build_config(None, settings), run)
    s = trainer.run()
    print(f"{stage}: step {s['step']}/{s['target_steps']} in {s['train_seconds']:.0f}s"
          f"{' (interrupted: run again to continue)' if s['interrupted'] else ''}; last {s['last']}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=[*STAGES, "table"])
    p.add_argument("--out", default="runs/bench-text-words")
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--results", default="benchmarks/results/text_words.md")
    args = p.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    if args.stage != "table":
        train(args.stage, out)
        return
    from gankit.text.metrics import evaluate_text

    rows = []
    for stage in STAGES:
        summary = out / stage / "summary.json"
        if not summary.is_file() or json.loads(summary.read_text())["step"] < STAGES[stage]["train.steps"]:
            print(f"skipping {stage}: not finished", file=sys.stderr)
            continue
        for t in TEMPERATURES:
            r = evaluate_text(out / stage, METRICS, n=args.n, seed=0, temperature=t)
            r["train_seconds"] = json.loads(summary.read_text())["train_seconds"]
            rows.append((stage, r))
            print(stage, r, file=sys.stderr)
    head = ("| generator | temperature | real words % | novel % of real | novel real % of all | distinct samples % "
            "| NLL_test (nats/char) | distinct-2 | train s (stage) |\n|---|---|---|---|---|---|---|---|---|")
    lines = [head] + [f"| {s} | {r['temperature']:g} | {r['words_real']:.1f} | {r['words_novel']:.1f} | "
                      f"{r['words_real_novel_of_all']:.1f} | {r['unique']:.1f} | {r['nll_test']:.3f} | "
                      f"{r['distinct2']:.3f} | {r['train_seconds']:.0f} |" for s, r in rows]
    text = "\n".join(lines)
    print(text)
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    doc = (f"# Text GANs on `words`\n\n- date: {time.strftime('%Y-%m-%d %H:%M')}\n- machine: {platform.machine()}, "
           f"2 CPU cores shared with other sessions, no GPU; 1 torch thread; torch {torch.__version__}; load average "
           f"at the table (1/5/15 min): {load}\n- command: `python benchmarks/text_words.py STAGE` for each of "
           f"{', '.join(STAGES)} (each stage resumable), then `python {' '.join(sys.argv)}`\n- samples: {args.n:,} "
           f"per row, seed 0; the "
           f"dictionary is every lowercase a-z word of /usr/share/dict/american-english (63,875), the training split "
           f"a quarter of them (by a hash of each word)\n\n{text}\n\nStage settings:\n\n```\n"
           + "\n".join(f"{k}: {json.dumps({**COMMON, **v})}" for k, v in STAGES.items()) + "\n```\n")
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(doc)
    print(f"wrote {args.results}", file=sys.stderr)


if __name__ == "__main__":
    main()
