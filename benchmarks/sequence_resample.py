"""Give a trained GLO run another residual sampler, without training it again.

    python benchmarks/sequence_resample.py RUN OUT                       # bootstrap residuals
    python benchmarks/sequence_resample.py RUN OUT --residuals gaussian  # or nearest
    python benchmarks/sequence.py motion-glo --out OUT --skip-train ...  # then measure OUT

A GLO run's sampler (`sequence.glo_residual_sampler`, seqnets.MixtureSampler) never feeds its
training loss: runs trained with either residual sampler learn the same codes and nets bit for bit
(tests/sequence/test_seq_glo.py). So a finished run becomes the run the other setting writes: OUT
gets RUN's files and its newest checkpoint, with the residual sampler refitted to the run's residual
codes (in G and in its EMA copy) and the setting in the checkpoint's config; the mixture of codes is
kept as the run fitted it. One difference: the run's own last fit saw the codes before the last
step's update and this one sees them after it (at the end of a preset that decays the learning rate
to 0, the last update is a few ten-thousandths of a step at full rate).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch


def resample(run: str, out: str, residuals: str, neighbours: int = 1) -> Path:
    from gankit.config import RunConfig, set_value
    from gankit.errors import GankitError
    from gankit.objectives import DataInfo
    from gankit.sequence.nets import LatentCodes
    from gankit.training import checkpoint as ck
    from gankit.training.loop import build_objective

    src = ck.resolve_checkpoint(run)
    tensors, meta = ck.load_checkpoint(src)
    cfg = RunConfig.from_dict(meta["config"])
    if not cfg.sequence.glo_weight or not cfg.sequence.glo_residual:
        raise GankitError(f"{run} is not a GLO run with a residual (sequence.glo_weight, sequence.glo_residual)")
    set_value(cfg, "sequence.glo_residual_sampler", residuals)
    set_value(cfg, "sequence.glo_residual_neighbours", neighbours)
    obj = build_objective(cfg, DataInfo.from_dict(meta["data_info"]))
    G, d = obj.nets["G"], obj.nets["G"].code_dim
    data = obj.load_reference()
    codes = tensors["nets.C.weight"] * LatentCodes.SCALE
    if len(data) != len(codes):
        raise GankitError(f"{run} keeps codes for {len(codes)} clips and its data set has {len(data)}; "
                          f"resample a run trained without data.limit")
    labels = data.y if obj.conditional else None
    residual_keys = ("res_mean", "res_chol", "res_bank", "res_offsets", "code_bank")
    for prefix in ("nets.G.", "ema."):
        mine = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        if not mine:
            continue
        kept = {k: v for k, v in mine.items() if k not in residual_keys}
        missing = set(G.load_state_dict(kept, strict=False).missing_keys) - set(residual_keys)
        if missing:
            raise GankitError(f"{src} does not match this gankit's GLO sampler (missing {sorted(missing)[:3]})")
        G.fit(codes, labels, seed=cfg.train.seed, mixture=False)
        for k in residual_keys:
            tensors.pop(prefix + k, None)
        tensors.update({prefix + k: v.detach().clone().contiguous() for k, v in G.state_dict().items()
                        if k in residual_keys})
    dest = Path(out)
    if dest.exists() and any(dest.iterdir()):
        raise GankitError(f"{dest} exists; pass another OUT")
    (dest / "checkpoints").mkdir(parents=True)
    for name in ("summary.json", "metrics.jsonl"):
        if (src.parent.parent / name).is_file():
            shutil.copy(src.parent.parent / name, dest / name)
    (dest / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    path = dest / "checkpoints" / src.name
    ck.save_checkpoint(path, tensors, dict(meta, config=cfg.to_dict()))
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a GLO sequence run directory (or checkpoint) trained with sequence.glo_residual")
    p.add_argument("out", help="the new run directory")
    p.add_argument("--residuals", default="bootstrap", help="the residual sampler: gaussian | bootstrap | nearest")
    p.add_argument("--neighbours", type=int, default=1, help="nearest: draw among this many nearest clips' residuals")
    a = p.parse_args(argv)
    from gankit.errors import GankitError

    try:
        print(resample(a.run, a.out, a.residuals, a.neighbours))
    except GankitError as e:
        sys.exit(f"sequence_resample: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
