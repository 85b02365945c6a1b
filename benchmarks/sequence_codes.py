"""Is a GLO run's weak point its G or its sampler? Ask the discriminative score's judge.

A GLO run (sequence.glo_weight > 0) learns a code per training clip; G samples by drawing codes
from a mixture fitted to them (gankit.sequence.nets.MixtureSampler). This benchmark feeds G's body
codes made in different ways and reports the discriminative score of each (TimeGAN's judge, as
`gankit eval-sequence` trains it; n clips against n real ones):

    real codes                     the learned codes of n training clips (with their residuals):
                                   what G can rebuild, the score's floor for this run
    real, residual shuffled        each clip's residual from another clip of its class, as the
                                   bootstrap sampler draws it (independent of the code)
    real, code shuffled            the code from another clip of its class, the residual kept
    mixture codes, real residual   the mixture's codes with the residuals of real clips
    mixture codes, nearest's residual  each with the residual of the training clip (of its class)
                                   whose code is nearest to it
    mixture codes                  what G samples (the mixture's code and a bootstrapped residual)

With net.clock_from_z (the clock, and the start phase, are code entries of their own) also each
of those entries shuffled within the class, and the mixture's code with real clock entries.

    python benchmarks/sequence_codes.py RUN [--n 1000] [--only NAME,...] [--record]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run")
    p.add_argument("--n", type=int, default=1000, help="clips per case (and real clips the judge sees)")
    p.add_argument("--only", help="measure only the cases whose name contains one of these (comma-separated)")
    p.add_argument("--record", action="store_true", help="append the table to benchmarks/results/sequence_codes.md")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()

    from gankit.model import Generator
    from gankit.sequence import metrics as M
    from gankit.sequence.nets import LatentCodes, PhaseGenerator
    from gankit.training import checkpoint as ck

    g = Generator.load(args.run, device="cpu")
    obj, G = g.objective, g.net
    if not getattr(obj, "glo_weight", 0):
        sys.exit(f"{args.run} is not a GLO run (sequence.glo_weight = 0): it has no codes to take apart")
    path = ck.latest_checkpoint(args.run) if Path(args.run).is_dir() else Path(args.run)
    tensors, _ = ck.load_checkpoint(path)
    codes = LatentCodes.SCALE * tensors["nets.C.weight"].float()
    data = obj.load_reference()
    n, d = args.n, G.code_dim
    gen = torch.Generator().manual_seed(123)
    idx = torch.randperm(len(data), generator=gen)[:n]
    y = data.y[idx] if obj.conditional else torch.zeros(n, dtype=torch.long)
    real = codes[idx]

    def shuffled(cols: torch.Tensor) -> torch.Tensor:
        """real codes with the entries `cols` taken from another clip of the same class."""
        c = real.clone()
        for k in y.unique():
            rows = (y == k).nonzero()[:, 0]
            c[rows[:, None], cols] = real[rows[torch.randperm(len(rows), generator=gen)][:, None], cols]
        return c

    with torch.no_grad():
        mix = G.code(torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(0)), y if obj.conditional else None)
    res = torch.arange(d, real.shape[1])  # the residual's entries (none without sequence.glo_residual)
    cases = {"real codes": real}
    if len(res):
        cases["real, residual shuffled"] = shuffled(res)
    cases["real, code shuffled"] = shuffled(torch.arange(d))
    pg = next((m for m in G.modules() if isinstance(m, PhaseGenerator) and m.direct), None)
    if pg is not None:
        cases["real, clock entry shuffled"] = shuffled(torch.tensor([0]))
        cases["real, start phase entry shuffled"] = shuffled(torch.tensor([1]))
        cases["mixture codes, real clock and phase entries"] = torch.cat([real[:, :2], mix[:, 2:d], real[:, d:]], 1)
    if len(res):
        cases["mixture codes, real residual"] = torch.cat([mix[:, :d], real[:, d:]], 1)
        labels = data.y if obj.conditional else torch.zeros(len(codes), dtype=torch.long)
        near = mix.clone()
        for k in y.unique():
            rows, bank = (y == k).nonzero()[:, 0], codes[labels == k]
            near[rows, d:] = bank[torch.cdist(mix[rows, :d], bank[:, :d]).argmin(1), d:]
        cases["mixture codes, nearest's residual"] = near
    cases["mixture codes (G's samples)"] = mix
    if args.only:
        cases = {k: v for k, v in cases.items() if any(w in k for w in args.only.split(","))}
    rows = []
    for name, c in cases.items():
        with torch.no_grad():
            fake = G.body(c, y if obj.conditional else None).float()
        out, _ = M.measure(obj, fake, y, data, ["discriminative", "mmd"], seed=0)
        rows.append(f"| {name} | {out['discriminative']:.4f} | {out['mmd']:.5f} |")
        print(rows[-1], file=sys.stderr, flush=True)
    from sequence_probe import publish  # benchmarks/ is on the path of its scripts
    publish("sequence_codes", "A GLO run's codes taken apart (benchmarks/sequence_codes.py)", argv, t0,
            f"{args.run}, checkpoint {path.name}; judge seed 0, {n} clips per case against {n} real ones.\n\n"
            "| codes | discriminative | MMD |\n|---|---|---|\n" + "\n".join(rows) + "\n", args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
