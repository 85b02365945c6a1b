"""Text datasets: `words` (Debian's wamerican word list, characters), `fortunes` (Debian's fortunes,
words or characters), the SeqGAN `oracle` (and `oracle-small`), and any .txt file (one sequence per line).

Every text dataset is a Data whose x is int64 token ids (N, L) and whose meta["info"]["text"] says
how to read them: the tokenizer (vocabulary built from the training split) or the oracle's spec.
data.tokens (char | word) picks the tokenizer; data.window sets L (tokens per sequence, <eos> included).
"""
from __future__ import annotations

import os
import sys
import zlib
from pathlib import Path

import torch

from ..data import Data
from ..errors import GankitError
from ..registry import DATASETS
from .oracle import DATA_SIZE, ORACLES, Oracle, OracleSpec
from .tokenizer import EOS, PAD, Tokenizer

WORDS_FILE = Path("/usr/share/dict/american-english")
FORTUNES_DIR = Path("/usr/share/games/fortunes")
WORD_VOCAB = 5000  # word level: the most frequent words of the training split; the rest read as <unk>
DEFAULT_MAX_LEN = {"char": 256, "word": 64}  # files: the longest line (+ <eos>) up to these
FORTUNE_MAX_LEN = {"char": 128, "word": 32}  # fortunes: the entries that fit (+ <eos>)


def _say(msg: str) -> None:
    print(f"gankit: {msg}", file=sys.stderr, flush=True)


def _level(cfg, default: str) -> str:
    level = getattr(cfg, "tokens", None)
    if level is None:
        return default
    if level not in ("char", "word"):
        raise GankitError(f"data.tokens={level!r} is not a tokenizer; choose char or word (or leave it unset for the dataset's own)")
    return level


def text_info(tok: Tokenizer, length: int) -> dict:
    return {"text": {"kind": "tokens", "tokenizer": tok.to_dict(), "vocab_size": len(tok), "length": length,
                     "eos": EOS, "pad": PAD}}


def encode_lines(name: str, train_lines: list[str], lines: list[str], level: str, cfg, lower: bool,
                 natural_cap: dict, cut_note: str = "") -> Data:
    """Tokenize `lines` with a vocabulary built from `train_lines` into a Data of (N, L) ids."""
    tok = Tokenizer.build(train_lines, level, lower=lower, max_size=WORD_VOCAB if level == "word" else None)
    longest = max(len(tok.split(line)) for line in lines)
    max_len = getattr(cfg, "window", None)
    if max_len is not None and max_len < 2:
        raise GankitError(f"data.window={max_len} is too short for text; give at least 2 (a token and <eos>)")
    length = max_len if max_len is not None else min(longest + 1, natural_cap[level])
    x, cut = tok.encode_batch(lines, length)
    if cut:
        _say(f"{name}: {cut} of {len(lines)} lines are longer than {length - 1} {level} tokens and were cut"
             f"{cut_note}; set data.window to change that")
    return Data(x, name=name, meta={"info": text_info(tok, length)})


# ----------------------------------------------------------------------------------------------
# any text file: one sequence per line


def read_text_lines(path: Path) -> list[str]:
    """The non-empty lines of a UTF-8 text file (surrounding whitespace stripped); clear errors for
    binary or empty files."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise GankitError(f"cannot read {path} ({e.strerror or e}); check the path and its permissions")
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise GankitError(f"{path} is not a text file (binary data at byte {nul}); give a UTF-8 text file "
                          f"with one sequence per line")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise GankitError(f"{path} is not UTF-8 text (bad byte at position {e.start}); convert it, e.g. with "
                          f"iconv -t UTF-8, and give one sequence per line")
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise GankitError(f"{path} has no text (it is empty or only blank lines); give a file with one sequence "
                          f"per line")
    return lines


@DATASETS.register("txt", help="FILE.txt: any UTF-8 text, one sequence per line, characters (data.tokens=word for "
                               "words; data.window caps the length)", suffixes=(".txt", ".text"), splits=("train",))
def load_text_file(cfg, split: str | None) -> Data:
    """--data FILE.txt: every non-empty line is one sequence, character level unless data.tokens=word."""
    path = Path(os.path.expanduser(cfg.spec))
    if not path.is_file() or path.suffix.lower() not in (".txt", ".text"):
        raise GankitError(f"give the text file itself as the data, e.g. --data corpus.txt (got {cfg.spec!r})")
    lines = read_text_lines(path)
    level = _level(cfg, "char")
    return encode_lines(path.name, lines, lines, level, cfg, lower=False, natural_cap=DEFAULT_MAX_LEN)


# ----------------------------------------------------------------------------------------------
# words: Debian's wamerican


def _words_file(cfg) -> Path:
    for p in ([Path(cfg.root) / "american-english"] if getattr(cfg, "root", None) else []) + [WORDS_FILE]:
        if p.is_file():
            return p
    raise GankitError(f"the word list {WORDS_FILE} is missing; install it with: apt-get install wamerican")


def dictionary_words(cfg=None) -> list[str]:
    """The lowercase a-z entries of the word list (no proper nouns, possessives or accents)."""
    from types import SimpleNamespace

    text = _words_file(cfg or SimpleNamespace(root=None)).read_text(encoding="utf-8", errors="replace")
    return sorted({w for w in text.split() if w.isascii() and w.isalpha() and w.islower()})


WORDS_TRAIN_SHARE = 4  # one word in 4 trains; the other 3 are held out, where novel words can come from


def words_split(words: list[str], split: str) -> list[str]:
    """A fixed split by a hash of each word, stable whatever the list's order or version: a quarter
    for training, three quarters held out. (With half/half, a generator that spells English without
    copying its training words can make at most about half of its real words novel.)"""
    if split not in ("train", "test"):
        raise ValueError(f"words has the splits train and test, not {split!r}")
    train = split == "train"
    return [w for w in words if (zlib.crc32(w.encode()) % WORDS_TRAIN_SHARE == 0) == train]


@DATASETS.register("words", help="English words from Debian's wamerican list, character level (a quarter train, "
                                 "three quarters test, by a hash of each word)", splits=("train", "test"))
def words(cfg, split: str) -> Data:
    allw = dictionary_words(cfg)
    lines = words_split(allw, split)
    return encode_lines(f"words:{split}", words_split(allw, "train"), lines, _level(cfg, "char"), cfg,
                        lower=False, natural_cap=DEFAULT_MAX_LEN)


# ----------------------------------------------------------------------------------------------
# fortunes: Debian's fortunes (fortune-mod) files, one entry per sequence


def fortune_entries(root: Path | None = None) -> list[str]:
    """Every fortune of every file (not the ascii-art ones), whitespace collapsed to single spaces."""
    root = Path(root) if root else FORTUNES_DIR
    if not root.is_dir():
        raise GankitError(f"the fortunes folder {root} is missing; install it with: apt-get install fortunes")
    out = []
    for f in sorted(root.iterdir()):
        if "." in f.name or not f.is_file() or f.name in ("art", "ascii-art"):
            continue  # .dat indexes, .u8 links and the ascii-art collections
        text = f.read_text(encoding="utf-8", errors="replace")
        out += [" ".join(e.split()) for e in text.split("\n%\n")]
    return [e for e in out if e and e != "%"]


@DATASETS.register("fortunes", help="Debian's fortunes, the entries of up to 31 words (data.tokens=char: 127 "
                                    "characters), lowercased; 1 in 10 held out as test", splits=("train", "test"))
def fortunes(cfg, split: str) -> Data:
    level = _level(cfg, "word")
    root = Path(cfg.root) / "fortunes" if getattr(cfg, "root", None) and (Path(cfg.root) / "fortunes").is_dir() \
        else None
    entries = fortune_entries(root)
    window = getattr(cfg, "window", None)
    if window is not None and window < 2:
        raise GankitError(f"data.window={window} is too short for text; give at least 2 (a token and <eos>)")
    limit = (window or FORTUNE_MAX_LEN[level]) - 1
    probe = Tokenizer(level, ["<pad>", "<eos>", "<unk>"], lower=True)
    keep = [e for e in entries if 0 < len(probe.split(e)) <= limit]
    parts = {"train": [e for e in keep if zlib.crc32(e.encode()) % 10 != 0],
             "test": [e for e in keep if zlib.crc32(e.encode()) % 10 == 0]}
    data = encode_lines(f"fortunes:{split}", parts["train"], parts[split], level, cfg, lower=True,
                        natural_cap={level: limit + 1})
    return data


# ----------------------------------------------------------------------------------------------
# the oracle


def _cache_dir() -> Path:
    return Path(os.environ.get("GANKIT_CACHE") or Path.home() / ".cache" / "gankit") / "text"


def oracle_data(spec: OracleSpec, split: str, n: int = DATA_SIZE, cache: bool = True) -> torch.Tensor:
    """n oracle samples for a split (train: seed + 1, test: seed + 2), cached on disk: the large oracle
    takes tens of seconds to sample on a CPU. The cache is keyed by everything that makes the data."""
    seed = spec.seed + (1 if split == "train" else 2)
    key = f"oracle-v{spec.vocab}-l{spec.length}-e{spec.emb}-h{spec.hidden}-s{spec.seed}-{split}-{n}.pt"
    path = _cache_dir() / key
    if cache and path.is_file():
        try:
            x = torch.load(path, weights_only=True)
            if x.shape == (n, spec.length) and x.dtype == torch.long:
                return x
        except Exception:  # a damaged cache file is rebuilt
            pass
    x = Oracle(spec).sample(n, seed)
    if cache and spec.vocab * n > 5_000_000:  # only worth caching for the big oracle
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}")
            torch.save(x, tmp)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only home: no cache, same data
    return x


def _register_oracle(name: str, params: dict) -> None:
    spec = OracleSpec(**params)

    @DATASETS.register(name, help=f"SeqGAN's synthetic data: {DATA_SIZE:,} sequences of {spec.length} tokens "
                                  f"(vocabulary {spec.vocab}) from a random LSTM (emb/hidden {spec.emb}, seed "
                                  f"{spec.seed}); scored by NLL_oracle", splits=("train", "test"))
    def load(cfg, split: str) -> Data:
        x = oracle_data(spec, split)
        info = {"text": {"kind": "oracle", "oracle": spec.to_dict(), "vocab_size": spec.vocab,
                         "length": spec.length, "eos": None, "pad": None}}
        return Data(x, name=f"{name}:{split}", meta={"info": info})


for _name, _params in ORACLES.items():
    _register_oracle(_name, _params)
