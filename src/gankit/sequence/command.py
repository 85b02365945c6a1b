"""`gankit eval-sequence RUN --metrics discriminative,predictive,mmd,bone,foot,action` (sequence runs)."""
from __future__ import annotations

import argparse
import json
import sys

from ..cli import COMMANDS

EPILOG = """examples:
  gankit eval-sequence runs/sines --metrics discriminative,predictive,mmd --n 1000
  gankit eval-sequence runs/motion --metrics discriminative,bone,foot,action --repeats 3 --out motion.json
metrics:
""" 


class EvalSequence:
    name = "eval-sequence"

    def add_parser(self, sub) -> None:
        from .metrics import DEFAULT_METRICS, METRICS

        p = sub.add_parser(self.name, help="measure a sequence run: discriminative/predictive scores, MMD, skeletons",
                           formatter_class=argparse.RawDescriptionHelpFormatter,
                           epilog=EPILOG + "\n".join(f"  {k:<15} {v}" for k, v in METRICS.items()),
                           description="Measure n generated sequences against the run's training data (or --ref) "
                                       "and print one JSON object {metrics, provenance}.")
        p.add_argument("checkpoint", metavar="RUN_DIR_OR_CKPT")
        p.add_argument("--metrics", default=",".join(DEFAULT_METRICS), help="comma-separated (default: %(default)s)")
        p.add_argument("--n", type=int, default=1000, help="generated sequences, and real ones (default 1000)")
        p.add_argument("--seed", type=int, default=0, help="seed of the generated sequences")
        p.add_argument("--ref", help="reference data spec (default: the run's training data)")
        p.add_argument("--repeats", type=int, default=1, help="post-hoc scores averaged over seeds 0..R-1 (+ std)")
        p.add_argument("--hidden", type=int, help="GRU units of the post-hoc nets (default: TimeGAN's, features/2)")
        p.add_argument("--iterations", type=float, default=1.0,
                       help="scale of the post-hoc nets' training steps (1.0 = TimeGAN's 2000 / 5000)")
        p.add_argument("--device", default="auto")
        p.add_argument("--out", help="also write the JSON to this file")

    def run(self, args) -> int:
        from .metrics import evaluate_sequences, write_json

        result = evaluate_sequences(args.checkpoint, args.metrics, n=args.n, seed=args.seed, device=args.device,
                                    ref=args.ref, repeats=args.repeats, hidden=args.hidden,
                                    iterations=args.iterations,
                                    log=lambda m: print(f"gankit: {m}", file=sys.stderr, flush=True))
        print(json.dumps(result, indent=2))
        if args.out:
            write_json(result, args.out)
        return 0


COMMANDS.register(EvalSequence.name, help="measure a sequence run")(EvalSequence())
