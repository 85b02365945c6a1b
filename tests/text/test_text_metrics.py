"""Text metrics on hand-built cases, and the fast BLEU path against plain nltk."""
import random

import pytest
import torch
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from gankit.errors import GankitError
from gankit.text.metrics import (ReferenceIndex, bleu, distinct_n, nll_model, nll_oracle, self_bleu,
                                 sentence_bleus, word_rates)
from gankit.text.nets import LSTMGenerator
from gankit.text.oracle import ORACLES, Oracle, OracleSpec
from gankit.text.tokenizer import EOS, PAD

S1 = "the cat sat on the mat today".split()
S2 = "a dog ran in the park at noon".split()


def test_bleu_of_identical_texts_is_one():
    r = bleu([S1, S2], [S1, S2])
    assert r == pytest.approx({"bleu2": 1.0, "bleu3": 1.0, "bleu4": 1.0, "bleu5": 1.0})


def test_bleu_without_shared_words_is_zero():
    r = bleu([["x", "y", "z"]], [S1, S2])
    assert all(v == 0 for v in r.values())


def test_bleu_falls_with_the_order_for_a_partial_match():
    r = bleu([["the", "cat", "sat", "in", "the", "park", "at", "noon"]], [S1, S2])
    assert 0 < r["bleu5"] < r["bleu4"] < r["bleu3"] < r["bleu2"] < 1


def test_self_bleu_of_identical_samples_is_one_and_of_distinct_samples_low():
    assert self_bleu([S1] * 4) == pytest.approx({f"self_bleu{n}": 1.0 for n in (2, 3, 4, 5)})
    low = self_bleu([S1, S2, ["x", "y", "z", "w"]])
    assert low["self_bleu2"] < 0.5


def test_self_bleu_leaves_each_sample_out():
    # Against itself every sample would score 1; against the others, the unique one scores 0.
    r = self_bleu([S1, S1, ["x", "y", "z", "w", "v"]])
    assert r["self_bleu2"] == pytest.approx(2 / 3)


def _random_corpus(rng, n, vocab, lo, hi):
    return [[rng.choice(vocab) for _ in range(rng.randint(lo, hi))] for _ in range(n)]


def test_reference_index_gives_nltks_exact_numbers():
    rng = random.Random(0)
    vocab = list("abcdefg")
    refs = _random_corpus(rng, 60, vocab, 1, 12)
    hyps = _random_corpus(rng, 30, vocab, 0, 12)
    index = ReferenceIndex(refs)
    weights = [tuple([1 / n] * n) for n in (2, 3, 4, 5)]
    for h in hyps:
        full = sentence_bleu(refs, h, weights=weights, smoothing_function=SmoothingFunction().method1)
        assert sentence_bleus(h, index.subset(h)) == pytest.approx(full, abs=1e-12)
        assert len(index.subset(h)) <= len(refs)
    # Self-BLEU: each sample against all the others, by brute force
    brute = [sentence_bleu(hyps[:i] + hyps[i + 1:], h, weights=weights[0],
                           smoothing_function=SmoothingFunction().method1) for i, h in enumerate(hyps)]
    assert self_bleu(hyps, orders=(2,))["self_bleu2"] == pytest.approx(sum(brute) / len(brute), abs=1e-12)


def test_bleu_needs_input():
    with pytest.raises(GankitError, match="at least one reference"):
        bleu([S1], [])
    with pytest.raises(GankitError, match="at least 2 samples"):
        self_bleu([S1])


def test_distinct_n_by_hand():
    samples = [["a", "b", "a"], ["a", "b"]]
    assert distinct_n(samples, 1) == pytest.approx(2 / 5)
    assert distinct_n(samples, 2) == pytest.approx(2 / 3)  # ab, ba, ab
    assert distinct_n([["a"]], 2) == 0.0


def test_word_rates_by_hand():
    r = word_rates(["cat", "cat", "dog", "zzq", "emu"], dictionary={"cat", "dog", "emu"}, train={"cat"})
    assert r["words_real"] == pytest.approx(80.0)
    assert r["words_novel"] == pytest.approx(50.0)  # dog and emu of cat, cat, dog, emu
    assert r["words_real_novel_of_all"] == pytest.approx(40.0)
    assert r["unique"] == pytest.approx(80.0)


def test_nll_model_matches_a_hand_count():
    torch.manual_seed(0)
    G = LSTMGenerator(6, 4, 4, 4, eos=EOS)
    x = torch.tensor([[4, 5, EOS, PAD], [3, 4, 5, 3]])
    logp = G.token_log_probs(x)
    expected = -(logp[0, :3].sum() + logp[1].sum()) / 7  # 3 scored tokens + 4
    assert nll_model(G, x, EOS) == pytest.approx(float(expected.detach()), rel=1e-6)


def test_nll_oracle_rewards_the_oracle_over_noise():
    o = Oracle(OracleSpec(**ORACLES["oracle-small"]))
    own = nll_oracle(o, o.sample(1000, seed=5))
    noise = nll_oracle(o, torch.randint(0, 64, (1000, 10)))
    assert own < noise - 1.0
