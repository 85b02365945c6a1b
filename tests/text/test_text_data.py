"""Text datasets: .txt files (and their errors), words, fortunes, the oracle (determinism by seed)."""
import pytest
import torch

from gankit.config import build_config
from gankit.data import load_data
from gankit.errors import GankitError
from gankit.text import data as text_data
from gankit.text.oracle import ORACLES, Oracle, OracleSpec
from gankit.text.tokenizer import EOS, Tokenizer

SMALL = OracleSpec(**ORACLES["oracle-small"])
HAVE_WORDS = text_data.WORDS_FILE.is_file()
HAVE_FORTUNES = text_data.FORTUNES_DIR.is_dir()


def load(spec, **settings):
    return load_data(build_config(None, {"data.spec": spec, **settings}).data)


def text_of(data):
    return data.meta["info"]["text"]


# ----------------------------------------------------------------------------------------------
# files


def test_txt_file_char_level(tmp_path):
    f = tmp_path / "names.txt"
    f.write_text("anna\n\n  bob  \ncarla\n", encoding="utf-8")
    d = load(str(f))
    meta = text_of(d)
    tok = Tokenizer.from_dict(meta["tokenizer"])
    assert d.x.shape == (3, 6) and meta["length"] == 6  # longest line + <eos>; the blank line is skipped
    assert [tok.decode(r) for r in d.x] == ["anna", "bob", "carla"]
    assert meta["eos"] == EOS and tok.level == "char"


def test_txt_file_word_level_and_window(tmp_path, capsys):
    f = tmp_path / "s.txt"
    f.write_text("the cat sat\nthe dog sat on the mat\n")
    d = load(str(f), **{"data.tokens": "word", "data.window": 4})
    tok = Tokenizer.from_dict(text_of(d)["tokenizer"])
    assert d.x.shape == (2, 4) and tok.level == "word"
    assert tok.decode(d.x[0]) == "the cat sat" and tok.decode(d.x[1]) == "the dog sat on"
    assert "1 of 2 lines are longer than 3 word tokens and were cut" in capsys.readouterr().err


@pytest.mark.parametrize("content,match", [
    (b"", "no text"), (b"\n  \n\t\n", "no text"), (b"abc\x00\x01\x02", "binary data at byte 3"),
    (b"caf\xe9\n", "not UTF-8"),
])
def test_bad_text_files_are_clear_errors(tmp_path, content, match):
    f = tmp_path / "bad.txt"
    f.write_bytes(content)
    with pytest.raises(GankitError, match=match):
        load(str(f))


def test_bad_tokens_and_window_settings(tmp_path):
    f = tmp_path / "s.txt"
    f.write_text("abc\n")
    with pytest.raises(GankitError, match="data.tokens='bytes'"):
        load(str(f), **{"data.tokens": "bytes"})
    with pytest.raises(GankitError, match="data.window=1 is too short"):
        load(str(f), **{"data.window": 1})


def test_txt_dataset_by_name_asks_for_the_file():
    with pytest.raises(GankitError, match="give the text file itself"):
        load("txt")


# ----------------------------------------------------------------------------------------------
# words and fortunes (Debian packages wamerican and fortunes)


@pytest.mark.skipif(not HAVE_WORDS, reason="apt-get install wamerican")
def test_words_splits_are_a_disjoint_quarter_and_the_rest_of_lowercase_words():
    train, test = load("words"), load("words:test")
    tok = Tokenizer.from_dict(text_of(train)["tokenizer"])
    assert text_of(test)["tokenizer"] == text_of(train)["tokenizer"]  # one vocabulary, from train
    a = {tok.decode(r) for r in train.x}
    b = {tok.decode(r) for r in test.x}
    assert not a & b and 0.23 < len(a) / (len(a) + len(b)) < 0.27
    assert a | b == set(text_data.dictionary_words())  # nothing lost
    assert all(w.isalpha() and w.islower() for w in list(a)[:2000])
    assert set(tok.vocab[3:]) == set("abcdefghijklmnopqrstuvwxyz")


@pytest.mark.skipif(not HAVE_FORTUNES, reason="apt-get install fortunes")
def test_fortunes_word_and_char_levels():
    d = load("fortunes")
    meta = text_of(d)
    tok = Tokenizer.from_dict(meta["tokenizer"])
    assert tok.level == "word" and tok.lower and len(tok) <= text_data.WORD_VOCAB + 3
    assert d.x.shape[1] == 32 and len(d) > 5000
    assert (d.x == EOS).any(1).all()  # every fortune fits: none was cut
    c = load("fortunes:test", **{"data.tokens": "char", "data.window": 64})
    assert Tokenizer.from_dict(text_of(c)["tokenizer"]).level == "char" and c.x.shape[1] == 64


def test_missing_debian_data_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(text_data, "WORDS_FILE", tmp_path / "nope")
    monkeypatch.setattr(text_data, "FORTUNES_DIR", tmp_path / "nope")
    with pytest.raises(GankitError, match="apt-get install wamerican"):
        load("words")
    with pytest.raises(GankitError, match="apt-get install fortunes"):
        load("fortunes")


# ----------------------------------------------------------------------------------------------
# the oracle


def test_oracle_is_a_function_of_its_seed():
    a, b, c = Oracle(SMALL), Oracle(SMALL), Oracle(OracleSpec(**{**ORACLES["oracle-small"], "seed": 1}))
    assert torch.equal(a.w_out, b.w_out) and not torch.equal(a.w_out, c.w_out)
    assert torch.equal(a.sample(50, seed=3), b.sample(50, seed=3))
    assert not torch.equal(a.sample(50, seed=3), a.sample(50, seed=4))
    assert not torch.equal(a.sample(50, seed=3), c.sample(50, seed=3))


def test_oracle_data_splits_and_info(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    train, test = load("oracle-small"), load("oracle-small:test")
    assert train.x.shape == test.x.shape == (10_000, SMALL.length)
    assert int(train.x.max()) < SMALL.vocab and not torch.equal(train.x, test.x)
    assert torch.equal(train.x, load("oracle-small").x)
    meta = text_of(train)
    assert meta["kind"] == "oracle" and meta["oracle"] == SMALL.to_dict() and meta["eos"] is None


def test_oracle_likes_its_own_samples():
    o = Oracle(SMALL)
    own = o.nll(o.sample(2000, seed=0)).mean()
    uniform = o.nll(torch.randint(0, SMALL.vocab, (2000, SMALL.length), generator=torch.Generator().manual_seed(0)))
    assert own < uniform.mean() - 1.0
    assert own < torch.log(torch.tensor(float(SMALL.vocab)))  # below the uniform distribution's entropy


def test_big_oracle_data_is_cached_and_reused(tmp_path, monkeypatch):
    spec = OracleSpec(vocab=600, length=5, emb=4, hidden=4, seed=7)  # big enough (vocab x n) to be cached
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    x = text_data.oracle_data(spec, "train", n=10_000)
    files = list((tmp_path / "text").glob("oracle-v600-*"))
    assert len(files) == 1
    torch.save(x[:, :3].clone(), files[0])  # a cache of the wrong shape is rebuilt, not trusted
    assert torch.equal(text_data.oracle_data(spec, "train", n=10_000), x)
