"""`gankit translate`: run a trained pix2pix / l1-only / CycleGAN model on images, and measure it.

    gankit translate runs/p2p --input edges2fashion:test --out out/          # PNGs (+ grid.png)
    gankit translate runs/p2p --input my_edges/ --out out/                    # any folder of images
    gankit translate runs/cg --input sneaker2boot:test --direction BtoA --out boots2sneakers.npz
    gankit translate runs/p2p --input edges2fashion:test --metrics            # L1, PSNR, SSIM, FID ...

The input is a folder of images, an .npz of uint8 images (N, H, W, C) under 'images', or a
two-domain dataset spec (NAME[:SPLIT], split test by default; `--root` for aligned / paired /
unpaired folders). Inputs are fitted to the model's size and channels. Outputs: a folder of PNGs
(named after the inputs), an .npz (translated 'images' uint8 (N, H, W, C) and the 'inputs'), or one
.png grid of input | output | target (CycleGAN: input | output | reconstruction).
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from .cli import COMMANDS
from .data import Data, fit_images, load_data, parse_spec, to_float, to_uint8
from .errors import GankitError
from .registry import DATASETS, NETS

EPILOG = """examples:
  gankit translate runs/p2p --input edges2fashion:test --out out/          # PNGs, one per input, and grid.png
  gankit translate runs/p2p --input sketches/ --out out.npz                # a folder of images -> .npz
  gankit translate runs/cg --input sneaker2boot:test --direction BtoA --out grid.png
  gankit translate runs/p2p --input edges2fashion:test --metrics           # L1, PSNR, SSIM, fid_clf
  gankit translate runs/cg --input sneaker2boot:test --metrics --json      # domain_acc, cycle_l1, fid_clf
  gankit translate runs/facades --input aligned:test --root data/facades --metrics
"""

METRICS_HELP = """metrics (per direction, on the first --n inputs):
  l1 / psnr / ssim   agreement with the paired targets (l1 on the [-1, 1] scale; scikit-image PSNR, SSIM)
  fid_clf            Frechet distance between classifier features of the outputs and of real target images
                     (--fid-ci: with a 95% bootstrap interval over the outputs)
  domain_acc         share of outputs that the classifier assigns to the target domain (unpaired data)
  cycle_l1           |G_BA(G_AB(a)) - a| on the [-1, 1] scale (models that translate both ways)
  the classifier is a small CNN gankit trains once on the training split's real images (class labels if the
  data have them, else domain A vs B) and caches; numbers compare only under the same weights_hash."""

EVAL_EXAMPLES = """examples:
  gankit eval runs/p2p                                   # comes here: the run's own test split, first 1000 inputs
  gankit eval-translation runs/p2p --fid-ci              # all 10,000 test pairs, fid_clf with a 95% interval
  gankit eval-translation runs/cg --metrics domain_acc,cycle_l1 --json
  gankit eval-translation runs/facades --data aligned:val --root data/facades
"""


class TranslateCommand:
    @staticmethod
    def add_parser(subparsers) -> argparse.ArgumentParser:
        p = subparsers.add_parser("translate", help="translate images with a pix2pix / CycleGAN model (and measure it)",
                                  description="Translate a folder, an .npz or a dataset split with a trained "
                                              "translation model; --metrics measures it against the targets.",
                                  epilog=EPILOG + METRICS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("checkpoint", metavar="RUN_DIR_OR_CKPT")
        p.add_argument("--input", required=True, metavar="DIR_NPZ_OR_SPEC",
                       help="folder of images, .npz of uint8 images, or a two-domain dataset NAME[:SPLIT] (default "
                            "split: test)")
        p.add_argument("--out", help="folder (PNGs), OUT.npz or OUT.png (a grid); optional with --metrics")
        p.add_argument("--direction", choices=["AtoB", "BtoA"], help="default: the model's own direction")
        p.add_argument("--root", help="data.root for aligned / paired / unpaired dataset specs")
        p.add_argument("--metrics", action="store_true", help="measure the translations (dataset specs only)")
        p.add_argument("--json", action="store_true", help="print the metrics as JSON")
        p.add_argument("--fid-ci", type=int, nargs="?", const=100, default=0, metavar="B",
                       help="add a 95%% bootstrap interval for fid_clf from B resamples (default B=100)")
        p.add_argument("--n", type=int, help="translate only the first N inputs")
        p.add_argument("--batch-size", type=int, default=256)
        p.add_argument("--device", default="auto")
        p.add_argument("--no-ema", action="store_true", help="use G's raw weights instead of their EMA")
        return p

    @staticmethod
    def run(args) -> int:
        from .model import Generator

        if args.out is None and not args.metrics:
            raise GankitError("say where the translations go with --out DIR|OUT.npz|OUT.png, or measure with --metrics")
        if args.n is not None and args.n < 1:
            raise GankitError("--n must be at least 1")
        g = Generator.load(args.checkpoint, device=args.device, ema=not args.no_ema)
        if not hasattr(g.objective, "translate"):
            raise GankitError(f"{args.checkpoint} is a {g.cfg.train.objective} model, not a translation model "
                              f"(pix2pix, l1-only, cyclegan); use gankit sample for it")
        direction = g.objective.check_direction(args.direction)
        data = None
        if args.metrics:
            data = load_two_domains(g, args.input, args.root)
            result = evaluate(g, args.input, root=args.root, n=args.n, batch_size=args.batch_size, log=_log, data=data,
                              fid_ci=args.fid_ci)
            print(json.dumps(result, indent=2) if args.json else format_result(result))
        if args.out:
            x, names, target = read_inputs(g, args.input, direction, args.root, log=_log, data=data)
            if args.n is not None:
                x, names = x[: args.n], names[: args.n]
                target = None if target is None else target[: args.n]
            y = translate_all(g, x, direction, args.batch_size)
            print(write_outputs(g, x, y, target, names, Path(args.out), direction))
        return 0


COMMANDS.register("translate", help="translate images with a trained translation model")(TranslateCommand)

METRIC_NAMES = ("l1", "psnr", "ssim", "fid_clf", "domain_acc", "cycle_l1")


class EvalTranslationCommand:
    """`gankit eval RUN` hands translation runs here (objective.eval_command): the run's own test split."""

    @staticmethod
    def add_parser(subparsers) -> argparse.ArgumentParser:
        p = subparsers.add_parser("eval-translation", help="measure a translation run on its test split",
                                  description="Measure a pix2pix / l1-only / CycleGAN run on a two-domain test split "
                                              "(default: the run's own dataset). `gankit eval RUN` comes here for "
                                              "translation runs; `gankit translate --metrics` measures the same way.",
                                  epilog=EVAL_EXAMPLES + METRICS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("checkpoint", metavar="RUN_DIR_OR_CKPT")
        p.add_argument("--data", help="two-domain dataset NAME[:SPLIT] (default: the run's dataset, split test)")
        p.add_argument("--root", help="data.root for aligned / paired / unpaired")
        p.add_argument("--metrics", help=f"comma-separated subset of {', '.join(METRIC_NAMES)} (default: all that apply)")
        p.add_argument("--n", type=int, help="measure the first N test inputs of each domain (default: all)")
        p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resamples")
        p.add_argument("--fid-ci", type=int, nargs="?", const=100, default=0, metavar="B",
                       help="add a 95%% bootstrap interval for fid_clf from B resamples (default B=100)")
        p.add_argument("--json", action="store_true", help="print the metrics as JSON")
        p.add_argument("--batch-size", type=int, default=256)
        p.add_argument("--device", default="auto")
        return p

    @staticmethod
    def run(args) -> int:
        from .model import Generator

        wanted = None if not args.metrics else [m.strip() for m in args.metrics.split(",") if m.strip()]
        unknown = [m for m in wanted or [] if m not in METRIC_NAMES]
        if unknown:
            raise GankitError(f"unknown translation metric {unknown[0]!r}; choose from {', '.join(METRIC_NAMES)}")
        if args.n is not None and args.n < 1:
            raise GankitError("--n must be at least 1")
        g = Generator.load(args.checkpoint, device=args.device)
        if not hasattr(g.objective, "translate"):
            raise GankitError(f"{args.checkpoint} is not a translation model; use gankit eval for it")
        spec = args.data or parse_spec(g.cfg.data.spec)[0]
        result = evaluate(g, spec, root=args.root, n=args.n, batch_size=args.batch_size, fid_ci=args.fid_ci,
                          seed=args.seed)
        if wanted:
            result["metrics"] = {k: v for k, v in result["metrics"].items()
                                 if k.split("/", 1)[1].split("_ci95_")[0] in wanted}
        print(json.dumps(result, indent=2) if args.json else format_result(result))
        return 0


COMMANDS.register("eval-translation", help="measure a translation run on its test split")(EvalTranslationCommand)


def _log(msg: str) -> None:
    print(f"gankit: {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# inputs


def model_size(g) -> int:
    return int(g.info.shape[-1])


def load_two_domains(g, spec: str, root: str | None, default_split: str = "test", log=_log) -> Data:
    """A two-domain dataset spec at the model's size and channels (as training saw it)."""
    name, split = parse_spec(spec)
    if name not in DATASETS:
        raise GankitError(f"{spec} is not a dataset name; measuring needs a two-domain dataset such as "
                          f"edges2fashion:test or unpaired:test with --root DIR (gankit list datasets)")
    splits = DATASETS.entry(name).meta.get("splits", ("train", "test"))
    split = split or (default_split if default_split in splits else splits[0])
    cfg = replace(g.cfg.data, spec=f"{name}:{split}", root=root or g.cfg.data.root, image_size=model_size(g), limit=None)
    data = load_data(cfg, NETS.entry(g.cfg.net.name).meta.get("sizes"), log=log)
    if data.x2 is None:
        raise GankitError(f"{spec} has one image domain; translation data have two (gankit list datasets)")
    return data


def _fit(x: torch.Tensor, g, channels: int, what: str, log) -> torch.Tensor:
    """uint8 (N, C, H, W) -> the model's size and `channels`, as training data were fitted."""
    from .config import DataConfig

    if x.shape[1] != channels:
        log(f"converting {what} from {x.shape[1]} to {channels} channel(s) to fit the model")
    return fit_images(Data(x, name=what), DataConfig(image_size=model_size(g), channels=channels), None, log).x


def read_inputs(g, source: str, direction: str, root: str | None = None, log=_log, data: Data | None = None):
    """(uint8 inputs (N, C, S, S), names, uint8 targets or None) from a folder, an .npz or a dataset spec
    (`data`: that spec already loaded)."""
    from .data.images import load_npz
    from .data.translation import fit_pil, image_files, open_image

    shape = g.objective.input_shape(direction)
    path = Path(source).expanduser()
    if path.is_dir():
        files = image_files(path)
        if not files:
            raise GankitError(f"no images found in {path}; give a folder of images, an .npz or a dataset spec")
        x = fit_pil([open_image(p) for p in files], model_size(g))
        names = [str(p.relative_to(path).with_suffix(".png")) for p in files]
        return _fit(x, g, shape[0], str(path), log), names, None
    if path.suffix == ".npz":
        if not path.is_file():
            raise GankitError(f"{path} does not exist")
        x = load_npz(path).x
        return _fit(x, g, shape[0], str(path), log), [f"{i:06d}.png" for i in range(len(x))], None
    if "/" in source:
        raise GankitError(f"{source} does not exist; give a folder of images, an .npz or a dataset spec")
    data = data if data is not None else load_two_domains(g, source, root, log=log)
    src, tgt = (data.x, data.x2) if direction == "AtoB" else (data.x2, data.x)
    return src, [f"{i:06d}.png" for i in range(len(src))], tgt if data.paired else None


@torch.no_grad()
def translate_all(g, x: torch.Tensor, direction: str, batch_size: int = 256) -> torch.Tensor:
    """uint8 or float inputs (N, C, S, S) -> float translations (N, C_out, S, S) in [-1, 1], on the CPU."""
    out = [g.objective.translate(g.net, to_float(x[s:s + batch_size]).to(g.device), direction).float().cpu()
           for s in range(0, len(x), batch_size)]
    if not out:
        raise GankitError("there is nothing to translate: the input holds no images")
    return torch.cat(out)


# ----------------------------------------------------------------------------------------------
# outputs


def write_outputs(g, x: torch.Tensor, y: torch.Tensor, target, names: list[str], out: Path, direction: str) -> str:
    """Write translations y of inputs x: a folder of PNGs (and grid.png), an .npz, or a .png grid."""
    from PIL import Image

    from .objectives.translation import side_by_side

    def grid(path: Path) -> Path:
        k = min(len(x), 64)
        panels = [to_float(x[:k]), y[:k]]
        if target is not None:
            panels.append(to_float(target[:k]))
        elif len(g.objective.directions()) == 2:  # CycleGAN: show the way back
            back = "BtoA" if direction == "AtoB" else "AtoB"
            panels.append(translate_all(g, y[:k], back))
        return g.objective.save_samples(side_by_side(*panels), path)

    images = to_uint8(y).permute(0, 2, 3, 1).numpy()  # (N, H, W, C)
    if out.suffix == ".png":
        return f"wrote a grid of {min(len(x), 64)} translations ({direction}) to {grid(out)}"
    if out.suffix == ".npz":
        out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(out, images=images, inputs=to_uint8(to_float(x)).permute(0, 2, 3, 1).numpy())
        return f"wrote {len(images)} translations ({direction}) to {out} (images uint8 {images.shape}, inputs)"
    out.mkdir(parents=True, exist_ok=True)
    for name, im in zip(names, images):
        p = out / name
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(im[..., 0] if im.shape[-1] == 1 else im).save(p)
    grid(out / "grid.png")
    return f"wrote {len(images)} translations ({direction}) to {out}/ and a grid to {out / 'grid.png'}"


def write_translations(g, inputs: dict, out: Path) -> str:
    """`gankit sample` for translation models: the held-out inputs of `inputs` (floats), translated."""
    direction = g.objective.direction
    x = to_uint8(inputs[direction[0]].cpu())
    target = to_uint8(inputs[direction[-1]].cpu()) if g.info.extra.get("paired") else None
    y = translate_all(g, x, direction)
    return write_outputs(g, x, y, target, [f"{i:06d}.png" for i in range(len(x))], out, direction)


# ----------------------------------------------------------------------------------------------
# evaluation


def by_class(train: Data) -> bool:
    """Whether the reference classifier learns the data's class labels (paired, labelled) or the domains."""
    return train.paired and train.y is not None and train.num_classes > 1


def reference_classifier(train: Data, target: str, log):
    """The reference classifier for outputs in domain `target`: the class labels of that domain's images
    when the data have them (features that know garments), else domain A vs B (for domain_acc)."""
    from .metrics.translation import TranslationClassifier

    if by_class(train):
        return TranslationClassifier(train.x2 if target == "B" else train.x, train.y,
                                     train.class_names or [str(i) for i in range(train.num_classes)], "classes", log=log)
    c = max(train.x.shape[1], train.x2.shape[1])
    xa, xb = (t.expand(-1, c, -1, -1) for t in (train.x, train.x2))
    y = torch.cat([torch.zeros(len(xa), dtype=torch.long), torch.ones(len(xb), dtype=torch.long)])
    return TranslationClassifier(torch.cat([xa, xb]), y, ["A", "B"], "domains", log=log)


def evaluate(g, spec: str, root: str | None = None, n: int | None = None, batch_size: int = 256,
             log=_log, data: Data | None = None, fid_ci: int = 0, seed: int = 0) -> dict:
    """Metrics of a translation model on a two-domain dataset split (default: test), per direction
    (`data`: that split already loaded; fid_ci > 0 adds a bootstrap interval for fid_clf).

    Returns {"metrics": {"AtoB/l1": ..., ...}, "provenance": {...}} (see the module docstring of
    gankit.metrics.translation and `gankit translate --help` for what each number means).
    """
    from .metrics.distances import bootstrap_fid, fid_from_features
    from .metrics.translation import pixel_metrics

    data = data if data is not None else load_two_domains(g, spec, root, log=log)
    name = parse_spec(spec)[0]
    train = load_two_domains(g, f"{name}:train", root, log=log) if "train" in DATASETS.entry(name).meta.get(
        "splits", ()) else data
    domains = {"A": data.x, "B": data.x2}
    metrics, prov = {}, {"data": data.name, "checkpoint": g.meta.get("checkpoint"), "step": g.meta.get("step"),
                         "objective": g.cfg.train.objective, "paired": data.paired}
    classifiers = {}
    for d in g.objective.directions():
        src, tgt = d[0], d[-1]
        x = domains[src][:n] if n else domains[src]
        y = translate_all(g, x, d, batch_size)
        y8 = to_uint8(y)
        ref = domains[tgt][: len(x)] if data.paired else domains[tgt]
        if data.paired:
            metrics.update({f"{d}/{k}": v for k, v in pixel_metrics(y8, ref).items()})
        key = tgt if by_class(train) else "domains"
        if key not in classifiers:
            classifiers[key] = reference_classifier(train, tgt, log)
        clf = classifiers[key]
        c = max(data.x.shape[1], data.x2.shape[1]) if clf.kind == "domains" else y8.shape[1]
        y8c, refc = y8.expand(-1, c, -1, -1), ref.expand(-1, c, -1, -1)
        feats_ref, feats_out = clf.features(refc), clf.features(y8c)
        metrics[f"{d}/fid_clf"] = fid_from_features(feats_ref, feats_out)
        if fid_ci:  # resamples the outputs; the reference stays fixed
            lo, hi = bootstrap_fid(feats_ref, feats_out, n_boot=fid_ci, seed=seed)
            metrics[f"{d}/fid_clf_ci95_low"], metrics[f"{d}/fid_clf_ci95_high"] = lo, hi
        if clf.kind == "domains":
            metrics[f"{d}/domain_acc"] = float((clf.predict(y8c) == (1 if tgt == "B" else 0)).double().mean())
        if len(g.objective.directions()) == 2:
            back = translate_all(g, y, tgt + "to" + src, batch_size)
            metrics[f"{d}/cycle_l1"] = float((back - to_float(x)).abs().mean())
        prov[f"{d}/images"] = len(x)
        prov[f"{d}/reference_images"] = len(ref)
    prov["classifiers"] = {k: v.describe() for k, v in classifiers.items()}
    return {"metrics": metrics, "provenance": prov}


def format_result(result: dict) -> str:
    m = result["metrics"]
    rows = [f"{k:<22} {v:.4g}" + (f"  [95% CI {m[k + '_ci95_low']:.4g}, {m[k + '_ci95_high']:.4g}]"
                                  if k + "_ci95_low" in m else "")
            for k, v in m.items() if "_ci95_" not in k]
    p = result["provenance"]
    rows.append(f"data {p['data']} ({'paired' if p['paired'] else 'unpaired'}) | {p['objective']} step {p['step']} | "
                + " | ".join(f"{k} {v}" for k, v in p.items() if k.endswith("images")))
    for k, c in p["classifiers"].items():
        rows.append(f"classifier ({c['kind']}, {c['classes']} classes): accuracy {c['accuracy']:.3f} on "
                    f"{c['accuracy_on']}, weights {c['weights_hash']}")
    return "\n".join(rows)
