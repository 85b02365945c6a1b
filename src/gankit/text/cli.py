"""`gankit eval-text RUN --metrics nll-oracle,bleu,self-bleu,...` (text runs)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..cli import COMMANDS

EPILOG = """examples:
  gankit eval-text runs/seqgan-oracle                          # NLL_oracle, NLL_test, distinct-n
  gankit eval-text runs/words --metrics words,distinct --n 2000 --temperature 0.8
  gankit eval-text runs/fortunes --metrics bleu,self-bleu,nll-test
  gankit eval-text runs/mytext --reference held-out.txt --json
metrics (default: those that fit the run's data):
"""


class EvalText:
    name = "eval-text"

    def add_parser(self, sub) -> None:
        from .metrics import BLEU_SAMPLES, TEXT_METRICS

        p = sub.add_parser(self.name, help="measure a text run: NLL_oracle, NLL_test, BLEU, Self-BLEU, words, distinct-n",
                           formatter_class=argparse.RawDescriptionHelpFormatter,
                           epilog=EPILOG + "\n".join(f"  {e.name:<11} {e.help}" for e in TEXT_METRICS),
                           description=f"Sample N sequences from a text run and measure them. BLEU and Self-BLEU "
                                       f"use the first {BLEU_SAMPLES} samples.")
        p.add_argument("checkpoint", metavar="RUN_DIR_OR_CKPT")
        p.add_argument("--metrics", help="comma-separated metric names (default: those that fit the data)")
        p.add_argument("--n", type=int, default=1000, help="generated sequences (default 1000; the paper's "
                                                           "NLL_oracle uses 10000)")
        p.add_argument("--seed", type=int, default=0, help="seed of the generated sequences")
        p.add_argument("--temperature", type=float, help="sampling temperature (default: the run's text.temperature)")
        p.add_argument("--reference", metavar="SPEC_OR_FILE",
                       help="held-out text: a dataset split (words:test) or a .txt file (default: the run's test split)")
        p.add_argument("--device", default="auto")
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")
        p.add_argument("--out", help="also write the JSON to this file")

    def run(self, args) -> int:
        from .metrics import evaluate_text

        result = evaluate_text(args.checkpoint, args.metrics, n=args.n, seed=args.seed, temperature=args.temperature,
                               reference=args.reference, device=args.device,
                               log=lambda m: print(f"gankit: {m}", file=sys.stderr, flush=True))
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            for k, v in result.items():
                print(f"{k:<24} {v:.4g}" if isinstance(v, float) else f"{k:<24} {v}")
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        return 0


COMMANDS.register(EvalText.name, help="measure a text run")(EvalText())
