"""Text metrics: NLL_oracle, NLL of held-out text, BLEU-2..5 and Self-BLEU (nltk), dictionary and
novelty rates for `words`, distinct-n, and `evaluate_text`, which measures a run.

BLEU and Self-BLEU follow Texygen (Zhu et al. 2018): the mean over hypotheses of nltk's sentence_bleu
against every reference, uniform weights, smoothing method 1. nltk compares each hypothesis with each
reference, which is hours for 10,000 references; `ReferenceIndex` hands nltk only the references that
decide the score (for each of the hypothesis's n-grams, one reference holding it most often, and one
of the closest length), which gives nltk's number exactly (tests/text/test_metrics.py checks it).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ..errors import GankitError
from ..registry import Registry
from .tokenizer import sequence_mask

BLEU_ORDERS = (2, 3, 4, 5)


# ----------------------------------------------------------------------------------------------
# likelihoods


@torch.no_grad()
def nll_oracle(oracle, ids: torch.Tensor) -> float:
    """Mean per-token NLL (nats) of generated sequences (n, L) under the oracle: SeqGAN's NLL_oracle."""
    return float(oracle.nll(ids).mean())


@torch.no_grad()
def nll_model(G, ids: torch.Tensor, eos: int | None, batch_size: int = 500) -> float:
    """Mean NLL (nats) per scored token of real sequences (n, L) under the generator G (positions after
    <eos> left out): how well G covers held-out text."""
    device = next(G.parameters()).device
    total, count = 0.0, 0.0
    was = G.training
    G.eval()
    try:
        for i in range(0, ids.shape[0], batch_size):
            x = ids[i:i + batch_size].to(device)
            mask = sequence_mask(x, eos)
            total += float(-(G.token_log_probs(x) * mask).sum())
            count += float(mask.sum())
    finally:
        G.train(was)
    return total / max(count, 1.0)


# ----------------------------------------------------------------------------------------------
# BLEU (nltk)


def _ngrams(tokens, n):
    return zip(*(tokens[i:] for i in range(n)))


class ReferenceIndex:
    """References indexed so each nltk call sees only the few that decide its score.

    For every n-gram (n <= max_n) it keeps the two references holding it most often; for every length,
    two references of that length. Two, so Self-BLEU can leave the hypothesis itself out.
    """

    def __init__(self, references: list[list[str]], max_n: int = max(BLEU_ORDERS)):
        self.refs = [list(r) for r in references]
        if not self.refs:
            raise GankitError("BLEU needs at least one reference sequence; give a non-empty reference set")
        self.max_n = max_n
        self.best: dict[tuple, list[tuple[int, int]]] = {}  # n-gram -> [(count, ref index)] (best first, <= 2)
        self.by_len: dict[int, list[int]] = {}
        for i, ref in enumerate(self.refs):
            lst = self.by_len.setdefault(len(ref), [])
            if len(lst) < 2:
                lst.append(i)
            for n in range(1, max_n + 1):
                for g, c in Counter(_ngrams(ref, n)).items():
                    top = self.best.setdefault(g, [])
                    if len(top) < 2:
                        top.append((c, i))
                        top.sort(key=lambda e: -e[0])
                    elif c > top[1][0]:
                        top[1] = (c, i)
                        top.sort(key=lambda e: -e[0])
        self.lengths = sorted(self.by_len)

    def subset(self, hyp: list[str], exclude: int | None = None) -> list[list[str]]:
        keep = set()
        for n in range(1, self.max_n + 1):
            for g in set(_ngrams(hyp, n)):
                for _, i in self.best.get(g, ()):
                    if i != exclude:
                        keep.add(i)
                        break
        # nltk's closest_ref_length: min over references of (|len - hyp len|, len)
        for length in sorted(self.lengths, key=lambda x: (abs(x - len(hyp)), x)):
            others = [i for i in self.by_len[length] if i != exclude]
            if others:
                keep.add(others[0])
                break
        return [self.refs[i] for i in sorted(keep)]


def _weights(orders):
    return [tuple([1.0 / n] * n) for n in orders]


def sentence_bleus(hyp: list[str], references: list[list[str]], orders=BLEU_ORDERS) -> list[float]:
    """nltk's sentence BLEU of one hypothesis for each order in `orders` (smoothing method 1)."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    scores = sentence_bleu(references, hyp, weights=_weights(orders), smoothing_function=SmoothingFunction().method1)
    return list(scores) if isinstance(scores, (list, tuple)) else [scores]


def bleu(hypotheses: list[list[str]], references: list[list[str]] | ReferenceIndex, orders=BLEU_ORDERS) -> dict:
    """Mean sentence BLEU-n of the hypotheses against all references: {'bleu2': ..., 'bleu5': ...}."""
    if not hypotheses:
        raise GankitError("BLEU needs at least one generated sequence")
    index = references if isinstance(references, ReferenceIndex) else ReferenceIndex(references, max(orders))
    sums = [0.0] * len(orders)
    for hyp in hypotheses:
        for k, s in enumerate(sentence_bleus(list(hyp), index.subset(list(hyp)), orders)):
            sums[k] += s
    return {f"bleu{n}": v / len(hypotheses) for n, v in zip(orders, sums)}


def self_bleu(samples: list[list[str]], orders=BLEU_ORDERS) -> dict:
    """Self-BLEU (Zhu et al. 2018): each sample's BLEU against all the other samples; high means the
    samples repeat each other (low diversity). {'self_bleu2': ..., ...}"""
    if len(samples) < 2:
        raise GankitError("Self-BLEU needs at least 2 samples; raise --n")
    index = ReferenceIndex(samples, max(orders))
    sums = [0.0] * len(orders)
    for i, hyp in enumerate(index.refs):
        for k, s in enumerate(sentence_bleus(hyp, index.subset(hyp, exclude=i), orders)):
            sums[k] += s
    return {f"self_bleu{n}": v / len(samples) for n, v in zip(orders, sums)}


# ----------------------------------------------------------------------------------------------
# counts


def distinct_n(samples: list[list[str]], n: int) -> float:
    """Distinct-n (Li et al. 2016): distinct n-grams / all n-grams over the samples (0 when none)."""
    grams = [g for s in samples for g in _ngrams(list(s), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def word_rates(samples: list[str], dictionary: set[str], train: set[str]) -> dict:
    """For generated words: % that are real dictionary words, % of those not in the training split
    (novel), and % of samples that are distinct."""
    real = [w for w in samples if w in dictionary]
    novel = [w for w in real if w not in train]
    n = max(len(samples), 1)
    return {"words_real": 100.0 * len(real) / n, "words_novel": 100.0 * len(novel) / max(len(real), 1),
            "words_real_novel_of_all": 100.0 * len(novel) / n, "unique": 100.0 * len(set(samples)) / n}


# ----------------------------------------------------------------------------------------------
# evaluate a run


@dataclass
class TextEval:
    """What the metric functions see: a generator, its samples, and lazily loaded references."""
    generator: object  # gankit.model.Generator
    objective: object  # a TextObjective
    ids: torch.Tensor  # (n, L) generated token ids
    seed: int
    reference: str | None
    log: Callable[[str], None]

    @property
    def meta(self) -> dict:
        return self.objective.info.extra["text"]

    @property
    def tokens(self) -> list[list[str]]:
        if not hasattr(self, "_tokens"):
            self._tokens = [self.objective.tokenizer.decode_tokens(r) for r in self.ids]
        return self._tokens

    @property
    def texts(self) -> list[str]:
        return [self.objective.tokenizer.join(t) if hasattr(self.objective.tokenizer, "join") else " ".join(t)
                for t in self.tokens]

    def reference_ids(self) -> torch.Tensor:
        """Held-out real sequences (n, L): --reference, else the test split of the run's dataset."""
        if not hasattr(self, "_ref"):
            self._ref = load_reference_ids(self.objective, self.generator.cfg, self.reference)
        return self._ref

    def reference_tokens(self) -> list[list[str]]:
        return [self.objective.tokenizer.decode_tokens(r) for r in self.reference_ids()]


def load_reference_ids(objective, cfg, reference: str | None) -> torch.Tensor:
    from ..data import load_data, parse_spec
    from .data import read_text_lines

    meta = objective.info.extra["text"]
    if reference is not None and Path(reference).suffix.lower() in (".txt", ".text"):
        if meta.get("kind") == "oracle":
            raise GankitError("an oracle run is measured against the oracle's test split; drop --reference")
        lines = read_text_lines(Path(reference))
        x, _ = objective.tokenizer.encode_batch(lines, objective.length)
        return x
    spec = reference
    if spec is None:
        name, _ = parse_spec(cfg.data.spec)
        if Path(name).exists() or "/" in name:
            raise GankitError(f"this run trained on the file {name}; give held-out text with --reference FILE.txt")
        spec = f"{name}:test"
    data_cfg = type(cfg.data)(**{**vars(cfg.data), "spec": spec, "limit": None})
    data = load_data(data_cfg)
    theirs = (data.meta.get("info") or {}).get("text") or {}
    if {k: theirs.get(k) for k in ("tokenizer", "oracle", "length")} != \
            {k: meta.get(k) for k in ("tokenizer", "oracle", "length")}:
        raise GankitError(f"the reference {spec} is not tokenized like this run's data ({cfg.data.spec}); give a "
                          f"split of the same dataset or a .txt file")
    return data.x


TEXT_METRICS = Registry("text metric")


@TEXT_METRICS.register("nll-oracle", help="NLL_oracle: per-token NLL of the samples under the oracle (oracle data only)")
def _nll_oracle(e: TextEval) -> dict:
    from .oracle import oracle_from_info

    if e.meta.get("kind") != "oracle":
        raise GankitError("nll-oracle needs a run trained on oracle data (--data oracle); drop it for real text")
    return {"nll_oracle": nll_oracle(oracle_from_info(e.meta), e.ids)}


@TEXT_METRICS.register("nll-test", help="per-token NLL of held-out real text under the generator (NLL_test)")
def _nll_test(e: TextEval) -> dict:
    return {"nll_test": nll_model(e.generator.net, e.reference_ids(), e.objective.eos)}


@TEXT_METRICS.register("bleu", help="BLEU-2..5 of the samples against held-out text (nltk, Texygen's protocol)")
def _bleu(e: TextEval) -> dict:
    return bleu(e.tokens[:BLEU_SAMPLES], e.reference_tokens())


@TEXT_METRICS.register("self-bleu", help="Self-BLEU-2..5: each sample against the others (diversity: lower is more "
                                         "diverse)")
def _self_bleu(e: TextEval) -> dict:
    return self_bleu(e.tokens[:BLEU_SAMPLES])


@TEXT_METRICS.register("words", help="words data: % of samples that are dictionary words, % of those not in the "
                                     "training split, % distinct")
def _words(e: TextEval) -> dict:
    from .data import dictionary_words, words_split
    from ..data import parse_spec

    if parse_spec(e.generator.cfg.data.spec)[0] != "words":
        raise GankitError("the words metric is for runs on --data words; use novel or distinct for other text")
    allw = dictionary_words(e.generator.cfg.data)
    return word_rates(e.texts, set(allw), set(words_split(allw, "train")))


@TEXT_METRICS.register("novel", help="% of samples that are not a sequence of the training data")
def _novel(e: TextEval) -> dict:
    from ..data import load_data

    cfg = e.generator.cfg
    train = load_data(type(cfg.data)(**{**vars(cfg.data), "limit": None}))
    seen = {tuple(e.objective.tokenizer.decode_tokens(r)) for r in train.x}
    return {"novel": 100.0 * sum(tuple(t) not in seen for t in e.tokens) / max(len(e.tokens), 1)}


@TEXT_METRICS.register("distinct", help="distinct-1..4: distinct n-grams / all n-grams over the samples")
def _distinct(e: TextEval) -> dict:
    return {f"distinct{n}": distinct_n(e.tokens, n) for n in (1, 2, 3, 4)}


BLEU_SAMPLES = 500  # hypotheses for BLEU and Self-BLEU (the first of the n samples)
DEFAULT_METRICS = {"oracle": ["nll-oracle", "nll-test", "distinct"],
                   "words": ["words", "nll-test", "distinct"],
                   "tokens": ["nll-test", "bleu", "self-bleu", "distinct"]}


def default_metrics(generator) -> list[str]:
    from ..data import parse_spec

    meta = generator.info.extra["text"]
    if meta.get("kind") == "oracle":
        return DEFAULT_METRICS["oracle"]
    if parse_spec(generator.cfg.data.spec)[0] == "words":
        return DEFAULT_METRICS["words"]
    if Path(parse_spec(generator.cfg.data.spec)[0]).exists():
        return ["distinct", "novel"]
    return DEFAULT_METRICS["tokens"]


def evaluate_text(run, metrics=None, n: int = 1000, seed: int = 0, temperature: float | None = None,
                  reference: str | None = None, device: str = "auto", log=None) -> dict:
    """Measure a text generator: `run` is a run dir, a checkpoint or a loaded gankit.model.Generator;
    metrics a list or comma-separated names (default: the ones that fit its data). Returns
    {metric: float} plus n, temperature and the checkpoint step."""
    from ..model import Generator

    log = log or (lambda msg: None)
    g = run if isinstance(run, Generator) else Generator.load(run, device=device)
    objective = g.objective
    if not hasattr(objective, "tokenizer"):
        raise GankitError(f"{g.meta.get('checkpoint', run)} is not a text generator ({g.cfg.train.objective}); use "
                          f"gankit eval for images")
    if n < 2:
        raise GankitError(f"--n must be at least 2 for text metrics, got {n}")
    names = default_metrics(g) if not metrics else \
        [m.strip() for m in (metrics.split(",") if isinstance(metrics, str) else metrics) if m.strip()]
    fns = {m: TEXT_METRICS.get(m) for m in names}  # unknown names fail here, before any sampling
    t = objective.cfg.text.temperature if temperature is None else temperature
    ids = objective.sample_ids(g.net, n, seed, t)
    ctx = TextEval(g, objective, ids, seed, reference, log)
    out = {"n": n, "temperature": t, "step": g.meta.get("step")}
    for name, fn in fns.items():
        log(f"{name} ...")
        out.update(fn(ctx))
    return out
