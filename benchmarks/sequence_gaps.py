"""Where a motion run's clips differ from the data: gait statistics per action, in metres.

    python benchmarks/sequence_gaps.py RUN [RUN ...]            # EMA generator and raw G of each run
    python benchmarks/sequence_gaps.py RUN/checkpoints/step-0003000.safetensors   # one checkpoint
    python benchmarks/sequence_gaps.py RUN --record             # append to benchmarks/results/sequence_gaps.md

For each run (or checkpoint), its EMA generator (what `gankit sample` uses) and its raw G each make
--n clips (seed 0, the actions in turn); the run's training data gives as many real clips. Per action
(walk, run: the gaits), in metres:
- ankle swing: a clip's standard deviation of the left ankle's height over time, mean over clips
  (how high the swing foot rises);
- pelvis spread: the standard deviation over clips of a clip's mean pelvis height (how much the
  stride and the noise vary from clip to clip: a GAN that collapses the stride spread shows it here);
- travel: the distance the pelvis covers over the clip, mean over clips;
- worst features: the three coordinates whose per-clip standard deviation over time (mean over clips)
  is furthest from the data's, in units of the data's overall spread of that coordinate.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

GAITS = ("walk", "run")


def gait_stats(units: np.ndarray) -> dict[str, float]:
    """Clips (n, T, J * 3) metres -> {ankle swing, pelvis spread, travel} (see the module doc)."""
    from gankit.sequence import skeleton as sk

    p = units.reshape(len(units), units.shape[1], sk.J, 3)
    ankle, pelvis = p[:, :, sk.NAMES.index("l_ankle")], p[:, :, sk.NAMES.index("pelvis")]
    travel = np.linalg.norm(pelvis[:, -1, [0, 2]] - pelvis[:, 0, [0, 2]], axis=1)
    return {"ankle swing": float(ankle[:, :, 1].std(1).mean()), "pelvis spread": float(pelvis[:, :, 1].mean(1).std()),
            "travel": float(travel.mean())}


def worst_features(real: np.ndarray, fake: np.ndarray, k: int = 3) -> str:
    """The k coordinates whose mean per-clip std over time differs most (in units of the real spread)."""
    from gankit.sequence import skeleton as sk

    gap = np.abs(real.std(1).mean(0) - fake.std(1).mean(0)) / (real.reshape(-1, real.shape[2]).std(0) + 1e-9)
    top = np.argsort(-gap)[:k]
    return ", ".join(f"{sk.NAMES[i // 3]}.{'xyz'[i % 3]} {gap[i]:.2f}" for i in top)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="run directories or .safetensors checkpoints of motion runs")
    p.add_argument("--n", type=int, default=2000, help="clips a side")
    p.add_argument("--record", action="store_true", help="append the table to benchmarks/results/sequence_gaps.md")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    from gankit.errors import GankitError
    from gankit.model import Generator

    t0 = time.perf_counter()
    head = "| clips | " + " | ".join(f"{g}: ankle swing / pelvis spread / travel (m) | {g}: worst features"
                                     for g in GAITS) + " |"
    lines, real_row = [head, "|" + "---|" * (1 + 2 * len(GAITS))], None
    for run in a.runs:
        for ema in (True, False):
            g = Generator.load(run, device="cpu", ema=ema)
            if ema and not g.cfg.train.ema:
                continue  # no EMA kept: the raw G only
            obj = g.objective
            if getattr(obj, "kind", None) != "motion":
                raise GankitError(f"{run} is not a motion run; sequence_gaps measures skeleton gaits")
            names = list(obj.info.class_names or [])
            labels = torch.arange(a.n) % obj.info.num_classes
            fake, _, fy = obj.sample_sequences(g, a.n, 0, labels)
            data = obj.load_reference()
            real, ry = obj.to_units(data.x[:a.n]), data.y[:a.n].numpy()
            fy = fy.numpy()
            cells, real_cells = [], []
            for gait in GAITS:
                k = names.index(gait)
                s, r = gait_stats(fake[fy == k]), gait_stats(real[ry == k])
                cells += [" / ".join(f"{s[key]:.3f}" for key in s), worst_features(real[ry == k], fake[fy == k])]
                real_cells += [" / ".join(f"{r[key]:.3f}" for key in r), "-"]
            if real_row is None:
                real_row = f"| data ({data.name}) | " + " | ".join(real_cells) + " |"
                lines.append(real_row)
            lines.append(f"| {run} ({'EMA' if ema else 'raw G'}, step {g.meta.get('step')}) | " + " | ".join(cells) + " |")
            print(lines[-1], file=sys.stderr, flush=True)
    from sequence_probe import publish  # benchmarks/ is on the path of its scripts

    publish("sequence_gaps", "Where motion runs' gaits differ from the data", argv, t0,
            f"n = {a.n} clips a side (generated: seed 0, the actions in turn).\n\n" + "\n".join(lines) + "\n", a.record)
    return 0


if __name__ == "__main__":
    from gankit.errors import GankitError

    try:
        sys.exit(main())
    except GankitError as e:  # a missing run, a run of other data: one line, not a traceback
        sys.exit(f"sequence_gaps: {e}")
