"""Does a run copy its training clips? Nearest-neighbour distances to the training set.

    python benchmarks/sequence_nearest.py RUN [RUN ...]           # e.g. a GLO run, which fits every training clip
    python benchmarks/sequence_nearest.py RUN --record            # append to benchmarks/results/sequence_nearest.md

For each run, --n generated clips (seed 0, the actions in turn) and --n clips of the data's test split
(made with other seeds than the training split) each find their nearest training clip (the squared
distance between normalised clips, mean over steps and features, against every training clip). A
generator that copies training clips is far nearer to them than fresh real clips are; one that draws
new clips of the same distribution is about as near. Also the discriminative score of the generated
clips against the test split (one judge seed), which a copy of the training set would not fool
better than fresh clips do, and the share of generated clips nearer to a training clip than the
nearest 5% of test clips are (5% for a generator that copies nothing).
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch


def nearest(x: torch.Tensor, train: torch.Tensor, chunk: int = 256) -> np.ndarray:
    """For each clip of x (n, T, F), the mean squared distance to its nearest clip of train (m, T, F)."""
    a, b = x.flatten(1).double(), train.flatten(1).double()
    out = [torch.cdist(a[i:i + chunk], b).min(1).values for i in range(0, len(a), chunk)]
    return (torch.cat(out).square() / a.shape[1]).numpy()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="run directories of sequence runs")
    p.add_argument("--n", type=int, default=1000, help="generated and test clips")
    p.add_argument("--record", action="store_true", help="append the table to benchmarks/results/sequence_nearest.md")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    from gankit.errors import GankitError
    from gankit.model import Generator
    from gankit.sequence.metrics import discriminative_score

    t0 = time.perf_counter()
    lines = ["| run | generated: nearest training clip, median (10th pct) | test split: the same | "
             "generated nearer than the test split's 5th pct | discriminative vs test split |", "|---|---|---|---|---|"]
    for run in a.runs:
        try:
            g = Generator.load(run, device="cpu")
        except GankitError as e:
            sys.exit(f"sequence_nearest: {e}")
        obj = g.objective
        train = obj.load_reference().x.float()
        test = obj.load_reference(g.cfg.data.spec.split(":")[0] + ":test").x.float()
        test = test[torch.randperm(len(test), generator=torch.Generator().manual_seed(0))[:a.n]]
        labels = torch.arange(a.n) % obj.info.num_classes if obj.conditional else None
        with torch.no_grad():
            fake = g.sample(a.n, seed=0, labels=labels).float()
        dg, dt = nearest(fake, train), nearest(test, train)
        score = discriminative_score(test, fake, seed=0)["discriminative"]
        lines.append(f"| {run} | {np.median(dg):.5f} ({np.percentile(dg, 10):.5f}) | "
                     f"{np.median(dt):.5f} ({np.percentile(dt, 10):.5f}) | {(dg < np.percentile(dt, 5)).mean():.1%} | "
                     f"{score:.3f} |")
        print(lines[-1], file=sys.stderr, flush=True)
    from sequence_probe import publish  # benchmarks/ is on the path of its scripts

    publish("sequence_nearest", "Do runs copy their training clips? Nearest-neighbour distances", argv, t0,
            f"{a.n} generated clips and {a.n} test-split clips, each against every training clip "
            f"(squared distance of normalised clips, mean over steps and features).\n\n" + "\n".join(lines) + "\n",
            a.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
