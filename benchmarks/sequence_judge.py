"""What gives generated motion away? Ask the discriminative score's judge.

Trains the post-hoc judge of the discriminative score (TimeGAN's GRU classifier,
gankit.sequence.metrics.fit_judge, as the score trains it) on real `motion` clips against a run's
generated clips, then shows it clips changed one way at a time and reports the share it calls real,
per action:

    real (fresh seed)          real clips it has not seen: the judge's own accuracy on real data
    real, no noise             the data without its smooth joint-angle noise
    real, noise x2             twice the data's noise (0.06 rad)
    real + generated jitter    real clips plus the generated clips' frame-to-frame jitter
                               (a clip minus its [1 2 1]/4 smoothing along time)
    generated (fresh seed)     generated clips it has not seen
    generated, smoothed        those, smoothed once along time

If the generated clips were only missing the noise, "real, no noise" would read as fake; if they
were only jittery, "real + generated jitter" would read as fake and "generated, smoothed" as real.

    python benchmarks/sequence_judge.py RUN [--n 1000] [--iterations 1500] [--record]
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch


def smooth(x: torch.Tensor) -> torch.Tensor:
    """One [1 2 1]/4 pass along time (N, T, F); the end frames stay."""
    s = x.clone()
    s[:, 1:-1] = 0.25 * x[:, :-2] + 0.5 * x[:, 1:-1] + 0.25 * x[:, 2:]
    return s


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run")
    p.add_argument("--n", type=int, default=1000, help="real and generated clips to train the judge on")
    p.add_argument("--iterations", type=int, default=1500, help="judge training steps (batches of 64 real + 64 generated)")
    p.add_argument("--record", action="store_true", help="append the table to benchmarks/results/sequence_judge.md")
    args = p.parse_args()
    torch.set_num_threads(1)

    from gankit.model import Generator
    from gankit.sequence import skeleton as sk
    from gankit.sequence.datasets import normalise
    from gankit.sequence.metrics import fit_judge

    g = Generator.load(args.run, device="cpu")
    obj = g.objective
    if getattr(obj, "kind", None) != "motion" or not obj.conditional:
        sys.exit(f"{args.run} is not an action-conditional motion run")
    mid, half = np.array(obj.info.extra["mid"]), np.array(obj.info.extra["half"])
    n, actions = args.n, len(sk.ACTIONS)
    data = obj.load_reference(None)
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:n]
    real = data.x[perm].float()
    _, fake, _ = obj.sample_sequences(g, n, 0, torch.arange(n) % actions)
    fake = fake.float()

    net = fit_judge(real, fake, torch.Generator().manual_seed(0), iterations=args.iterations)

    def clips(noise: float) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = sk.make_motion(n, 99, noise=noise)
        return torch.tensor(normalise(x, mid, half)).float(), torch.from_numpy(y)

    fresh, fresh_y = obj.sample_sequences(g, n, 5, torch.arange(n) % actions)[1:]
    fresh = fresh.float().cpu()
    base, base_y = clips(0.03)
    jitter = fresh - smooth(fresh)  # the generated clips' frame-to-frame part, given to real clips of the same action
    jittered = base.clone()
    for a in range(actions):
        rows, src = torch.nonzero(base_y == a)[:, 0], torch.nonzero(fresh_y == a)[:, 0]
        jittered[rows] += jitter[src[torch.arange(len(rows)) % len(src)]]
    cases = [("real (fresh seed)", base, base_y), ("real, no noise", *clips(0.0)), ("real, noise x2", *clips(0.06)),
             ("real + generated jitter", jittered, base_y), ("generated (fresh seed)", fresh, fresh_y),
             ("generated, smoothed", smooth(fresh), fresh_y)]
    rows = []
    with torch.no_grad():
        for name, x, y in cases:
            called = (net(x).squeeze(1) > 0).float()
            rows.append([name, called.mean().item()] + [called[y == a].mean().item() for a in range(actions)])
    head = "| clips | called real | " + " | ".join(sk.ACTIONS) + " |\n|---|---|" + "---|" * actions
    table = "\n".join([head] + ["| " + r[0] + " | " + " | ".join(f"{v:.2f}" for v in r[1:]) + " |" for r in rows])
    print(table)
    if args.record:
        path = Path("benchmarks/results/sequence_judge.md")
        doc = (f"\n## {args.run}: {time.strftime('%Y-%m-%d %H:%M')}\n\nMachine: {platform.machine()} CPU, 1 torch "
               f"thread, torch {torch.__version__}. Command: `python {' '.join(sys.argv)}`. Judge: TimeGAN's GRU, "
               f"{args.iterations} steps on {n} real vs {n} generated clips (step {g.meta.get('step')}).\n\n{table}\n")
        if not path.exists():
            doc = "# What gives generated motion away (benchmarks/sequence_judge.py)\n" + doc
        with path.open("a") as f:
            f.write(doc)
        print(f"appended to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
