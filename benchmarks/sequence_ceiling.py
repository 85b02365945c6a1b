"""How well can a motion generator draw the gait at all? Fit it by regression, then ask the judge.

    python benchmarks/sequence_ceiling.py              # the table (about 15 minutes, 1 thread)
    python benchmarks/sequence_ceiling.py --record     # append it to benchmarks/results/sequence_ceiling.md

Each row builds the `motion` preset's generator (with the row's settings: net, pose) and trains it
without any adversary: its latent is each clip's true parameters (speed, amplitude, cos/sin of the
start phase and of the facing; the action is the label), and its loss the mean squared error against
the clip, in D's view (the preset's skeleton view) or in D's view and the normalised world positions
the judge sees. The clips have no joint-angle noise (`make_motion(noise=0)`), since no parameter
describes it. Then TimeGAN's discriminative score of the fitted generator's clips for 1,000 fresh
parameter sets against 1,000 fresh noise-free clips (mean over --repeats judge seeds).

So a row is a ceiling for a GAN with that generator: what it can reach when told exactly what to
draw. Compare with the score of real clips without noise against real clips with it (0.106,
benchmarks/results/sequence_probe.md) and with issue 7's target (<= 0.15).
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

ROWS = [  # (row, settings, weight of the world-position error)
    ("seq-phase, error in D's view (the preset's G)", [], 0.0),
    ("seq-phase, error in D's view + world positions", [], 1.0),
    ("seq-phase pose=rotations, error in D's view", ["sequence.pose=rotations"], 0.0),
    ("seq-phase pose=rotations, error in D's view + world", ["sequence.pose=rotations"], 1.0),
    ("seq-harmonic, error in D's view", ["net.name=seq-harmonic"], 0.0),
    ("seq-harmonic, error in D's view + world", ["net.name=seq-harmonic"], 1.0),
]


def latents(params: dict) -> np.ndarray:
    """The clips' parameters as G's latent (n, 8): speed and amplitude scaled to about unit spread,
    cos/sin of start phase and facing, and two zeros (z_dim 8)."""
    s, a, p, y = params["speed"], params["amp"], params["phase0"], params["yaw"]
    z = [(s - 1.025) / 0.13, (a - 1.0) / 0.144, np.cos(p), np.sin(p), np.cos(y), np.sin(y), 0 * s, 0 * s]
    return np.stack(z, 1).astype(np.float32)


def fit_row(settings: list[str], world: float, steps: int, n_train: int, n: int, repeats: int, log) -> dict:
    from gankit.config import build_config
    from gankit.data import load_data
    from gankit.registry import OBJECTIVES
    from gankit.sequence import skeleton as sk
    from gankit.sequence.datasets import normalise
    from gankit.sequence.metrics import discriminative_score
    from gankit.training.loop import build_objective

    cfg = build_config("motion", {"train.progress": False}, ["net.z_dim=8", *settings])
    info = OBJECTIVES.get("sequence").data_info(load_data(cfg.data, None, log=lambda m: None))
    mid, half = np.array(info.extra["mid"]), np.array(info.extra["half"])
    torch.manual_seed(0)
    obj = build_objective(cfg, info)
    G, view = obj.nets["G"], obj._view

    def clips(count: int, seed: int):
        x, y, params = sk.make_motion(count, seed, noise=0.0, return_params=True)
        return (torch.from_numpy(latents(params)), torch.from_numpy(y),
                torch.from_numpy(normalise(x, mid, half).astype(np.float32)))

    z, y, x = clips(n_train, 11)
    with torch.no_grad():
        seen = view(x)  # the targets in D's view, once
    opt = torch.optim.Adam(G.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for step in range(steps):
        for group in opt.param_groups:  # constant, then linearly to 0 over the second half
            group["lr"] = 1e-3 * min(1.0, 2.0 * (1.0 - step / steps))
        i = torch.randint(len(z), (64,), generator=g)
        out = G(z[i], y[i])
        loss = (view(out) - seen[i]).square().mean() + world * (out - x[i]).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    zt, yt, xt = clips(n, 12)
    with torch.no_grad():
        fake = G(zt, yt)
    real = clips(n, 13)[2]
    scores = [discriminative_score(real, fake, seed=s)["discriminative"] for s in range(repeats)]
    row = {"view_mse": float((view(fake) - view(xt)).square().mean()), "world_mse": float((fake - xt).square().mean()),
           "score": float(np.mean(scores)), "scores": scores, "seconds": time.perf_counter() - t0}
    log(f"{settings} world={world}: {row}")
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--n", type=int, default=1000, help="clips a side for the judge")
    p.add_argument("--repeats", type=int, default=2, help="judge seeds per row")
    p.add_argument("--record", action="store_true", help="append the table to benchmarks/results/sequence_ceiling.md")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    lines = ["| generator, regression loss | test MSE, D's view | test MSE, world | discriminative (judge seeds) |",
             "|---|---|---|---|"]
    for name, settings, world in ROWS:
        r = fit_row(settings, world, a.steps, 4096, a.n, a.repeats, lambda m: print(m, file=sys.stderr, flush=True))
        seeds = ", ".join(f"{s:.3f}" for s in r["scores"])
        lines.append(f"| {name} | {r['view_mse']:.5f} | {r['world_mse']:.5f} | {r['score']:.3f} ({seeds}) |")
        print(lines[-1], file=sys.stderr, flush=True)
    from sequence_probe import publish  # benchmarks/ is on the path of its scripts

    publish("sequence_ceiling", "What the motion generators can draw when told exactly what to draw", argv, t0,
            f"{a.steps} Adam steps of 64 clips (4,096 noise-free training clips, seed 11), lr 1e-3 falling to 0 "
            f"over the second half; judged on {a.n} clips a side, mean over {a.repeats} judge seeds.\n\n"
            + "\n".join(lines) + "\n", a.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
