"""The `gankit` command: train, sample, interpolate, list."""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from .errors import GankitError
from .registry import Registry

# Commands added by GAN families (e.g. `translate`): each entry is an object with
# add_parser(subparsers) and run(args) -> int, registered from the family's own module.
COMMANDS = Registry("command")

EPILOG_TRAIN = """examples:
  gankit train --preset digits                          # the README's main job (~2 min on 2 CPU cores)
  gankit train --data fashion-mnist --loss wgan-gp --steps 20000
  gankit train --data ring8 --net mlp --loss ns train.ema=0
  gankit train --data digits net.conditional=true --out runs/cgan
  gankit train --resume runs/cgan --steps 4000          # continue to 4000 steps in total
settings are key=value (section.key or an unambiguous key); see them all with: gankit list settings"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gankit", description="Train, sample and inspect GANs from the classic "
                                "literature on one small engine.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train a GAN (or --resume one)", epilog=EPILOG_TRAIN,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Train a GAN. Settings resolve as: defaults < the loss's defaults < "
                                   "--preset < flags < key=value.")
    t.add_argument("--preset", help="named preset (gankit list presets)")
    t.add_argument("--data", help="dataset: NAME[:SPLIT] (gankit list datasets), an image folder or an .npz")
    t.add_argument("--net", help="net family (gankit list nets)")
    t.add_argument("--loss", help="GAN loss (gankit list losses)")
    t.add_argument("--objective", help="GAN family (gankit list objectives)")
    t.add_argument("--steps", type=int, help="total G steps (with --resume: the new total)")
    t.add_argument("--batch-size", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument("--device", help="auto | cpu | cuda | cuda:N")
    t.add_argument("--out", help="run directory (default: runs/NAME-TIMESTAMP)")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its newest checkpoint")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--eval-every", type=int, metavar="N", help="evaluate the EMA generator every N steps; keeps "
                   "checkpoints/best.safetensors")
    t.add_argument("--eval-metrics", metavar="LIST", help="metrics for --eval-every, e.g. fid,kid (default fid)")
    t.add_argument("--eval-n", type=int, metavar="N", help="samples per evaluation (default 1000)")
    t.add_argument("settings", nargs="*", metavar="key=value", help="any setting, e.g. net.g_width=32")

    s = sub.add_parser("sample", help="write samples from a trained generator",
                       description="Write N samples: OUT.npz (uint8 images NHWC + labels), OUT.png (a grid), or a "
                                   "folder of PNGs (any other OUT).")
    s.add_argument("checkpoint", metavar="RUN_DIR_OR_CKPT")
    s.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    s.add_argument("--out", required=True, help="OUT.npz, OUT.png or a directory")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--label", type=int, help="class to generate (conditional generators)")
    s.add_argument("--device", default="auto")
    s.add_argument("--no-ema", action="store_true", help="use G's raw weights instead of their EMA")
    s.add_argument("--temperature", type=float, default=None, help="text generators: sampling temperature (default: the run's)")

    i = sub.add_parser("interpolate", help="write a latent interpolation grid",
                       description="Each row walks from one random latent to another (slerp by default).")
    i.add_argument("checkpoint", metavar="RUN_DIR_OR_CKPT")
    i.add_argument("--out", required=True, help="PNG file")
    i.add_argument("--rows", type=int, default=8)
    i.add_argument("--steps", type=int, default=10, help="images per row")
    i.add_argument("--seed", type=int, default=0)
    i.add_argument("--mode", default="slerp", choices=["slerp", "lerp"])
    i.add_argument("--label", type=int, help="class for every row (conditional generators)")
    i.add_argument("--device", default="auto")

    ls = sub.add_parser("list", help="show what is registered",
                        description="List nets, losses, regularizers, datasets, objectives, presets or settings.")
    ls.add_argument("what", nargs="?", default="all",
                    choices=["all", "nets", "losses", "regularizers", "datasets", "objectives", "metrics", "extractors",
                             "presets", "settings"])
    import gankit  # noqa: F401  (families register their commands on import)
    from .metrics.eval_cli import add_eval_parser

    add_eval_parser(sub)

    for entry in COMMANDS:
        entry.obj.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        builtin = {"train": cmd_train, "sample": cmd_sample, "interpolate": cmd_interpolate, "list": cmd_list,
                   "eval": cmd_eval}
        if args.command in builtin:
            return builtin[args.command](args)
        return COMMANDS.get(args.command).run(args)
    except GankitError as e:
        print(f"gankit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return 130


def log(msg: str) -> None:
    print(f"gankit: {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------


def cmd_train(args) -> int:
    from .config import build_config, parse_overrides, resolve_key
    from .training.loop import Trainer

    if args.resume:
        given = [k for k in ("preset", "data", "net", "loss", "objective", "batch_size", "seed", "device", "out",
                             "eval_every", "eval_metrics", "eval_n")
                 if getattr(args, k) is not None]
        allowed = {"progress", "log_every", "sample_every", "ckpt_every", "keep", "tensorboard", "max_rollbacks"}
        overrides = {}
        for k, v in parse_overrides(args.settings):
            section, name = resolve_key(k)
            if section != "train" or name not in allowed:
                given.append(k)
            overrides[name] = v
        if given:
            raise GankitError(f"--resume continues a run with its own settings; drop {', '.join(given)} (only "
                              f"--steps and train.{{{','.join(sorted(allowed))}}} may change)")
        if args.no_progress:
            overrides["progress"] = False
        from .config import RunConfig, set_value
        tmp = RunConfig()
        for k, v in overrides.items():
            set_value(tmp, f"train.{k}", v)
        trainer = Trainer.resume(Path(args.resume), args.steps,
                                 {k: getattr(tmp.train, k) for k in overrides}, log=log)
    else:
        flags = {"data.spec": args.data, "net.name": args.net, "loss.name": args.loss,
                 "train.objective": args.objective, "train.steps": args.steps, "train.batch_size": args.batch_size,
                 "train.seed": args.seed, "train.device": args.device, "train.eval_every": args.eval_every,
                 "train.eval_metrics": args.eval_metrics, "train.eval_n": args.eval_n}
        if args.no_progress:
            flags["train.progress"] = False
        cfg = build_config(args.preset, flags, args.settings)
        out = Path(args.out) if args.out else default_run_dir(cfg)
        from .training.checkpoint import latest_checkpoint
        if latest_checkpoint(out) is not None:
            raise GankitError(f"{out} already holds a run; continue it with gankit train --resume {out}, or pick "
                              f"another --out")
        trainer = Trainer(cfg, out, log=log)
    t = trainer
    say = log if t.main else (lambda msg: None)  # under torchrun, rank 0 speaks for the run
    n_g = sum(p.numel() for p in t.objective.nets[t.objective.ema_net].parameters())
    n_all = sum(p.numel() for p in t.objective.nets.parameters())
    say(f"run {t.run_dir} | data {t.data.name}: {len(t.data)} x {tuple(t.data.shape)} | net {t.cfg.net.name} "
        f"({n_g / 1e6:.2f}M G params, {n_all / 1e6:.2f}M total) | loss {t.cfg.loss.name} | objective "
        f"{t.cfg.train.objective} | device {t.device} | {t.cfg.train.steps} steps of batch {t.cfg.train.batch_size}")
    from .training import distributed
    try:
        s = t.run()
    finally:
        distributed.shutdown()
    if not t.main:
        return 130 if s["interrupted"] else 0
    if s["interrupted"]:
        say(f"stopped by {s['interrupted']} at step {s['step']}; checkpoint saved. Continue with: gankit train "
            f"--resume {s['run_dir']}")
        return 130
    last = " ".join(f"{k}={v:.3g}" for k, v in s["last"].items() if k.startswith("loss/"))
    print(f"done: {s['step']} steps, {s['images']} images in {s['train_seconds']:.1f}s ({s['img_per_s']:.0f} img/s)"
          f"{' | ' + last if last else ''} | samples {s['samples']} | curves {s['curves']} | checkpoint "
          f"{s['checkpoint']}", flush=True)
    return 0


def default_run_dir(cfg) -> Path:
    name = cfg.preset or f"{Path(cfg.data.spec).name.split(':')[0]}-{cfg.net.name}-{cfg.loss.name}"
    return Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def cmd_sample(args) -> int:
    from .model import Generator

    if args.n < 1:
        raise GankitError("--n must be at least 1")
    g = Generator.load(args.checkpoint, device=args.device, ema=not args.no_ema)
    print(g.objective.write_samples(g, args))
    return 0


def cmd_eval(args) -> int:
    """Image metrics for image runs and sample files; a text or sequence run goes to its family's evaluator."""
    from .metrics.eval_cli import cmd_eval as eval_images
    from .registry import OBJECTIVES

    source = Path(args.source)
    cfg = None
    if source.suffix == ".safetensors" or (source.is_dir() and (source / "checkpoints").is_dir()):
        from .config import RunConfig
        from .training.checkpoint import load_checkpoint, resolve_checkpoint
        cfg = RunConfig.from_dict(load_checkpoint(resolve_checkpoint(source))[1]["config"])
        family_command = getattr(OBJECTIVES.get(cfg.train.objective), "eval_command", None)
        if family_command:
            argv = [family_command, str(source), "--n", str(args.n), "--seed", str(args.seed), "--device", args.device]
            if args.metrics:
                argv += ["--metrics", args.metrics]
            return main(argv)
    if args.ref is None:
        if cfg is None:
            raise GankitError("--ref is needed to score samples: name the reference data, e.g. --ref digits:test")
        from .objectives.gan import default_reference
        args.ref = default_reference(cfg.data.spec)
    args.metrics = args.metrics or "fid"
    return eval_images(args)


def cmd_interpolate(args) -> int:
    from .model import Generator
    from .viz import save_grid

    g = Generator.load(args.checkpoint, device=args.device)
    x = g.interpolate(args.rows, args.steps, args.seed, args.mode,
                      labels=None if args.label is None else [args.label] * (args.rows * args.steps))
    if x.dim() != 4:
        raise GankitError("interpolation grids are for image generators")
    save_grid(x, Path(args.out), nrow=args.steps)
    print(f"wrote a {args.rows}x{args.steps} interpolation grid to {args.out}")
    return 0


def cmd_list(args) -> int:
    from .config import RunConfig, preset_description, preset_names
    from . import metrics  # noqa: F401  (registers metrics and extractors)
    from .registry import DATASETS, EXTRACTORS, LOSSES, METRICS, NETS, OBJECTIVES, REGULARIZERS

    regs = {"nets": NETS, "losses": LOSSES, "regularizers": REGULARIZERS, "datasets": DATASETS,
            "objectives": OBJECTIVES, "metrics": METRICS, "extractors": EXTRACTORS}
    want = list(regs) + ["presets", "settings"] if args.what == "all" else [args.what]
    for what in want:
        print(f"{what}:")
        if what in regs:
            for e in regs[what]:
                print(f"  {e.name:<14} {e.help}")
        elif what == "presets":
            for n in preset_names():
                print(f"  {n:<14} {preset_description(n)}")
        else:
            cfg = RunConfig()
            from .config import sections
            for section in sections():
                for f in dataclasses.fields(getattr(cfg, section)):
                    print(f"  {section}.{f.name} = {getattr(getattr(cfg, section), f.name)!r}")
    return 0
