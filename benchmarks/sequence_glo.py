"""Where a GLO run's score goes: its reconstructions, its residuals, its mixture.

    python benchmarks/sequence_glo.py RUN [RUN ...]            # a run trained with sequence.glo_weight
    python benchmarks/sequence_glo.py RUN --repeats 3 --record # append to benchmarks/results/sequence_glo.md

A GLO run (docs/sequence.md) keeps one learned code per training clip (and, with
sequence.glo_residual, a smooth residual beside it) and samples from a per-class Gaussian mixture
fitted to the codes (and residuals from its residual sampler, sequence.glo_residual_sampler: one
Gaussian per class, or a random real clip's residual). Each row below feeds the
run's sampling generator (the EMA net where there is one) other inputs, and asks the discriminative
score's judge (judge seeds 0..repeats-1, mean) to tell --n of them from real clips:

- rebuilt: training clips from their own code and residual (what G can draw at best: its floor),
- other residual: a clip's own code with a random same-class clip's residual (are the two independent,
  as the sampler assumes?),
- drawn residual: a clip's own code with a residual drawn by the run's residual sampler,
- no residual: a clip's own code alone,
- sampled code, other residual: the mixture's codes with real residuals of random same-class clips,
- sampled code, no residual: the mixture's codes alone,
- sampled (the run's G): the mixture's codes with drawn residuals, as `gankit sample` draws.

The error column is the rebuilt clips' mean squared error against the clips (normalised units).
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch


def inputs(sampler, codes: torch.Tensor, labels: torch.Tensor, n: int, seed: int) -> dict[str, tuple]:
    """The rows' inputs of the sampler's body: {row: (codes (n, dim), labels (n,), clip indices or None)}."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % int(labels.max() + 1)

    def same_class() -> torch.Tensor:  # (n,) a random training clip of each wanted class
        pools = [torch.nonzero(labels == k)[:, 0] for k in range(int(labels.max() + 1))]
        return torch.stack([pools[k][torch.randint(len(pools[k]), (1,), generator=g)][0] for k in y.tolist()])

    d = sampler.code_dim
    own, other = same_class(), same_class()
    none = torch.zeros(n, codes.shape[1] - d)
    drawn = sampler.code(torch.randn(n, sampler.z_dim, generator=g), y)
    rows = {"rebuilt": (codes[own], own), "other residual": (torch.cat([codes[own, :d], codes[other, d:]], 1), None),
            "drawn residual": (torch.cat([codes[own, :d], drawn[:, d:]], 1), None),
            "no residual": (torch.cat([codes[own, :d], none], 1), None),
            "sampled code, other residual": (torch.cat([drawn[:, :d], codes[other, d:]], 1), None),
            "sampled code, no residual": (torch.cat([drawn[:, :d], none], 1), None),
            "sampled (the run's G)": (drawn, None)}
    if codes.shape[1] == d:  # a run without a residual: only the rows that differ
        rows = {k: rows[k] for k in ("rebuilt", "sampled (the run's G)")}
    return {k: (c, y, idx) for k, (c, idx) in rows.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="run directories (or checkpoints) of GLO sequence runs")
    p.add_argument("--n", type=int, default=1000, help="clips per row")
    p.add_argument("--repeats", type=int, default=1, help="judge seeds per row")
    p.add_argument("--record", action="store_true", help="append the table to benchmarks/results/sequence_glo.md")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    from sequence_probe import publish

    from gankit.errors import GankitError
    from gankit.model import Generator
    from gankit.sequence.metrics import discriminative_score
    from gankit.training import checkpoint as ck

    t0 = time.perf_counter()
    lines = ["| run | row | discriminative | error |", "|---|---|---|---|"]
    for run in a.runs:
        try:
            g = Generator.load(run, device="cpu")
            tensors, _ = ck.load_checkpoint(ck.resolve_checkpoint(run))
        except GankitError as e:
            sys.exit(f"sequence_glo: {e}")
        obj = g.objective
        if "C" not in obj.nets or "nets.C.weight" not in tensors:
            sys.exit(f"sequence_glo: {run} is not a GLO run (train it with sequence.glo_weight)")
        C, sampler = obj.nets["C"], g.net
        C.weight.data.copy_(tensors["nets.C.weight"])
        data = obj.load_reference()
        if len(data) != len(C.weight):
            sys.exit(f"sequence_glo: {run} keeps codes for {len(C.weight)} clips and its data set has {len(data)}; "
                     f"measure a run trained without data.limit")
        labels = data.y if obj.conditional else torch.zeros(len(data), dtype=torch.long)
        real = data.x[torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:a.n]].float()
        with torch.no_grad():
            codes = C(torch.arange(len(C.weight)))
            rows = {k: (sampler.body(z, y if obj.conditional else None).float(), idx)
                    for k, (z, y, idx) in inputs(sampler, codes, labels, a.n, seed=0).items()}
        for row, (fake, idx) in rows.items():
            scores = [discriminative_score(real, fake, seed=s)["discriminative"] for s in range(a.repeats)]
            err = f"{(fake - data.x[idx].float()).square().mean().item():.2e}" if idx is not None else ""
            lines.append(f"| {run} | {row} | {np.mean(scores):.4f} | {err} |")
            print(lines[-1], file=sys.stderr, flush=True)
    body = (f"{a.n} clips a row against {a.n} training clips; discriminative: mean over {a.repeats} judge "
            f"seed(s).\n\n" + "\n".join(lines) + "\n")
    publish("sequence_glo", "Where a GLO run's score goes", argv, t0, body, a.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
