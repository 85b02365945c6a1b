"""Which rate does a seq-phase GLO run's clock keep for each action? The clock against the data's own.

    python benchmarks/sequence_clock.py RUN [RUN ...]     # GLO runs (or starts: RUN/starts/k) of seq-phase
    python benchmarks/sequence_clock.py RUN --record      # append to benchmarks/results/sequence_clock.md

seq-phase (PhaseGenerator) gives each clip a clock: w radians per frame, from the clip's code. For
every training clip this prints w over the clip's dominant frequency (the peak of the power spectrum
of its root-relative joint positions, Hann window, 8x zero padding), per action: 1 means the clock
ticks once per cycle (a stride, for walk and run); 2 means twice (once per step), and then its first
harmonic cannot draw what differs between the left and the right step. The clock is at most
net.clock_max (by default 2 x PhaseGenerator.base, 0.8 rad/frame); `at cap` is the share of clips
within 1% of it.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch


def dominant(x: np.ndarray, joints: int) -> np.ndarray:
    """(N, T, J * 3) clips -> (N,) the peak frequency (radians per frame) of the root-relative poses."""
    n, T, _ = x.shape
    rel = x.reshape(n, T, joints, 3) - x.reshape(n, T, joints, 3)[:, :, :1]
    sig = rel.reshape(n, T, -1) - rel.reshape(n, T, -1).mean(1, keepdims=True)
    power = (np.abs(np.fft.rfft(sig * np.hanning(T)[None, :, None], n=8 * T, axis=1)) ** 2).sum(2)  # (N, bins)
    return np.fft.rfftfreq(8 * T)[power[:, 1:].argmax(1) + 1] * 2 * np.pi


def clocks(run: str):
    """The run's clock w (N,) for each training clip (its own code, the trained G), the labels, the cap."""
    from gankit.errors import GankitError
    from gankit.model import Generator
    from gankit.sequence.nets import LatentCodes, PhaseGenerator
    from gankit.training import checkpoint as ck

    g = Generator.load(run, device="cpu", ema=False)
    tensors, _ = ck.load_checkpoint(ck.resolve_checkpoint(run))
    if "nets.C.weight" not in tensors:
        raise GankitError(f"{run} is not a GLO run (no learned codes); train it with sequence.glo_weight")
    phase = [m for m in g.net.modules() if isinstance(m, PhaseGenerator)]
    if not phase:
        raise GankitError(f"{run}'s G has no clock; this measures seq-phase runs (net.name=seq-phase)")
    pg, body, obj = phase[0], g.net.body, g.objective
    codes = tensors["nets.C.weight"] * LatentCodes.SCALE  # (N, code + residual)
    data = obj.load_reference()
    seen = {}
    hook = pg.register_forward_hook(lambda m, args, out: seen.__setitem__("args", args))
    w = []
    with torch.no_grad():
        for i in range(0, len(codes), 512):
            y = data.y[i:i + 512] if obj.conditional else None
            body(codes[i:i + 512], y)
            w.append(pg.clock(*seen["args"])[0][:, 0])
    hook.remove()
    labels = data.y.numpy() if obj.conditional else np.zeros(len(codes), dtype=int)
    return torch.cat(w).numpy(), data, labels, pg.clock_max, obj


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="run directories of seq-phase GLO runs")
    p.add_argument("--record", action="store_true", help="append the table to benchmarks/results/sequence_clock.md")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    from gankit.errors import GankitError

    t0 = time.perf_counter()
    lines = ["| run | action | clock / dominant frequency: 10th pct, median, 90th pct | share < 0.7 | "
             "share > 1.4 | at cap |", "|---|---|---|---|---|---|"]
    for run in a.runs:
        try:
            w, data, labels, cap, obj = clocks(run)
        except GankitError as e:
            sys.exit(f"sequence_clock: {e}")
        x = data.x.float().numpy()
        ratio = w / dominant(x, x.shape[2] // 3)
        names = obj.info.class_names or ["all"]
        for k, name in enumerate(names):
            m = labels == k
            r = ratio[m]
            lines.append(f"| {run} | {name} | {np.percentile(r, 10):.2f}, {np.median(r):.2f}, "
                         f"{np.percentile(r, 90):.2f} | {np.mean(r < 0.7):.2f} | {np.mean(r > 1.4):.2f} | "
                         f"{np.mean(w[m] > 0.99 * cap):.2f} |")
            print(lines[-1], file=sys.stderr, flush=True)
    from sequence_probe import publish  # benchmarks/ is on the path of its scripts

    publish("sequence_clock", "The clock of seq-phase GLO runs, per action", argv, t0,
            "Per training clip: the clock w of its own code over the clip's dominant frequency "
            "(see the script's docstring).\n\n" + "\n".join(lines) + "\n", a.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
