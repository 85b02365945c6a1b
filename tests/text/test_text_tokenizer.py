"""Tokenizer: round trips, special tokens, unknown characters, empty and very long lines."""
import pytest
import torch

from gankit.errors import GankitError
from gankit.text.tokenizer import EOS, PAD, SPECIALS, UNK, IdTokenizer, Tokenizer, sequence_mask

LINES = ["hello world", "hold the door", "a", "héllo, wörld!"]


def test_char_round_trip_of_every_training_line():
    tok = Tokenizer.build(LINES, "char")
    x, cut = tok.encode_batch(LINES, 20)
    assert cut == 0 and x.shape == (4, 20) and x.dtype == torch.long
    assert [tok.decode(row) for row in x] == LINES


def test_sequences_end_with_eos_then_pad():
    tok = Tokenizer.build(["ab"], "char")
    x, _ = tok.encode_batch(["ab", "b"], 5)
    a, b = tok.index["a"], tok.index["b"]
    assert x.tolist() == [[a, b, EOS, PAD, PAD], [b, EOS, PAD, PAD, PAD]]


def test_word_round_trip_reattaches_punctuation():
    lines = ["Don't panic!", "hello, world (again)."]
    tok = Tokenizer.build(lines, "word")
    assert tok.split("Don't panic!") == ["Don", "'", "t", "panic", "!"]
    x, _ = tok.encode_batch(lines, 12)
    assert tok.decode(x[1]) == "hello, world (again)."
    assert tok.decode_tokens(x[0]) == ["Don", "'", "t", "panic", "!"] and tok.decode(x[0]) == "Don't panic!"


def test_lowercasing_word_tokenizer():
    tok = Tokenizer.build(["The cat", "the dog"], "word", lower=True)
    assert "The" not in tok.index and tok.encode("THE Cat") == [tok.index["the"], tok.index["cat"]]


def test_unknown_characters_become_unk():
    tok = Tokenizer.build(["abc"], "char")
    ids = tok.encode("abz")
    assert ids == [tok.index["a"], tok.index["b"], UNK]
    assert tok.decode(ids) == "ab<unk>"


def test_empty_line_is_just_eos():
    tok = Tokenizer.build(["abc"], "char")
    x, cut = tok.encode_batch([""], 4)
    assert cut == 0 and x.tolist() == [[EOS, PAD, PAD, PAD]]
    assert tok.decode(x[0]) == ""


def test_very_long_lines_are_cut_and_counted():
    long = "ab" * 5000
    tok = Tokenizer.build([long, "a"], "char")
    x, cut = tok.encode_batch([long, "a"], 8)
    assert cut == 1 and x.shape == (2, 8)
    assert EOS not in x[0].tolist() and tok.decode(x[0]) == long[:8]  # the cut line fills its row


def test_vocabulary_is_most_frequent_first_and_capped():
    tok = Tokenizer.build(["b b b a a c"], "word", max_size=2)
    assert tok.vocab == SPECIALS + ["b", "a"]
    assert tok.encode("c") == [UNK]
    assert Tokenizer.build(["x y y"], "word", min_count=2).vocab == SPECIALS + ["y"]


def test_dict_round_trip():
    tok = Tokenizer.build(LINES, "word", lower=True)
    again = Tokenizer.from_dict(tok.to_dict())
    assert again.vocab == tok.vocab and again.level == "word" and again.lower
    assert again.encode("hello door") == tok.encode("hello door")


def test_bad_tokenizers_are_clear_errors():
    with pytest.raises(GankitError, match="level"):
        Tokenizer("byte", SPECIALS)
    with pytest.raises(GankitError, match="<pad>, <eos>, <unk>"):
        Tokenizer("char", ["a", "b"])
    with pytest.raises(GankitError, match="length of at least 2"):
        Tokenizer.build(["a"], "char").encode_batch(["a"], 1)


def test_sequence_mask_scores_up_to_the_first_eos():
    x = torch.tensor([[5, 6, EOS, PAD, PAD], [5, EOS, PAD, EOS, PAD], [5, 6, 7, 8, 9]])
    m = sequence_mask(x, EOS)
    assert m.tolist() == [[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]]
    assert sequence_mask(x, None).sum() == 15  # no <eos> (the oracle): every position


def test_id_tokenizer_reads_ids():
    assert IdTokenizer(10).decode(torch.tensor([3, 0, 9])) == "3 0 9"
