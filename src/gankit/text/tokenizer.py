"""Character- and word-level tokenizers with a saved vocabulary.

Ids 0, 1, 2 are <pad>, <eos>, <unk>; the vocabulary's own tokens follow. A sequence of L ids is
its tokens, one <eos>, then <pad> to L. The vocabulary travels in the checkpoint (DataInfo.extra),
so a checkpoint alone decodes its samples.
"""
from __future__ import annotations

import re
from collections import Counter

import torch

from ..errors import GankitError

PAD, EOS, UNK = 0, 1, 2
SPECIALS = ["<pad>", "<eos>", "<unk>"]
LEVELS = ("char", "word")

# Words and single punctuation marks: "Don't panic!" -> ["don", "'", "t", "panic", "!"].
_WORD = re.compile(r"\w+|[^\w\s]")


class Tokenizer:
    """tokens <-> ids for one level ('char' or 'word') and vocabulary (list of tokens, specials first)."""

    def __init__(self, level: str, vocab: list[str], lower: bool = False):
        if level not in LEVELS:
            raise GankitError(f"unknown tokenizer level {level!r}; choose one of: {', '.join(LEVELS)}")
        if vocab[:3] != SPECIALS:
            raise GankitError("a text vocabulary must start with <pad>, <eos>, <unk>; rebuild it with "
                              "Tokenizer.build")
        self.level, self.vocab, self.lower = level, list(vocab), lower
        self.index = {t: i for i, t in enumerate(self.vocab)}

    def __len__(self) -> int:
        return len(self.vocab)

    # ------------------------------------------------------------------------------------------

    def split(self, line: str) -> list[str]:
        line = line.lower() if self.lower else line
        return list(line) if self.level == "char" else _WORD.findall(line)

    def join(self, tokens: list[str]) -> str:
        if self.level == "char":
            return "".join(tokens)
        # Re-attach punctuation so "hello , world !" reads "hello, world!" and "don ' t" reads "don't".
        out = ""
        for k, t in enumerate(tokens):
            closing = len(t) == 1 and not t.isalnum() and t not in "([{\""
            after_open = out.endswith(("(", "[", "{"))
            in_word = k >= 2 and tokens[k - 1] == "'" and tokens[k - 2][-1:].isalnum()
            out += ("" if not out or closing or after_open or in_word else " ") + t
        return out

    @classmethod
    def build(cls, lines: list[str], level: str, lower: bool = False, max_size: int | None = None,
              min_count: int = 1) -> "Tokenizer":
        """A vocabulary of the tokens in `lines`, most frequent first (ties alphabetical), at most
        `max_size` tokens besides the specials, each seen at least `min_count` times."""
        probe = cls(level, SPECIALS, lower)
        counts = Counter(t for line in lines for t in probe.split(line))
        ranked = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        if max_size is not None:
            ranked = ranked[:max_size]
        return cls(level, SPECIALS + ranked, lower)

    def encode(self, line: str, max_len: int | None = None) -> list[int]:
        """Ids of one line, <eos> not included; cut to max_len tokens when given."""
        ids = [self.index.get(t, UNK) for t in self.split(line)]
        return ids if max_len is None else ids[:max_len]

    def encode_batch(self, lines: list[str], length: int) -> tuple[torch.Tensor, int]:
        """(N, length) int64: tokens, <eos>, <pad>...; lines longer than length - 1 tokens are cut
        (their <eos> dropped, so the sequence fills the row). Returns (ids, number of lines cut)."""
        if length < 2:
            raise GankitError(f"text sequences need a length of at least 2 (one token and <eos>), got {length}")
        rows, cut = [], 0
        for line in lines:
            ids = self.encode(line)
            if len(ids) >= length:
                cut += 1
                ids = ids[:length]
            else:
                ids = ids + [EOS] + [PAD] * (length - len(ids) - 1)
            rows.append(ids)
        x = torch.tensor(rows, dtype=torch.long).reshape(len(lines), length)
        return x, cut

    def decode_tokens(self, ids) -> list[str]:
        """Tokens up to the first <eos> (or <pad>); <unk> is kept as the string '<unk>'."""
        out = []
        for i in (ids.tolist() if torch.is_tensor(ids) else ids):
            if i in (EOS, PAD):
                break
            out.append(self.vocab[i] if 0 <= i < len(self.vocab) else "<unk>")
        return out

    def decode(self, ids) -> str:
        return self.join(self.decode_tokens(ids))

    def to_dict(self) -> dict:
        return {"level": self.level, "vocab": self.vocab, "lower": self.lower}

    @classmethod
    def from_dict(cls, d: dict) -> "Tokenizer":
        return cls(d["level"], d["vocab"], d.get("lower", False))


class IdTokenizer:
    """Token ids as their own text ("17 4 4093 ..."): the oracle's synthetic vocabulary has no words."""

    level = "id"

    def __init__(self, size: int):
        self.size = size

    def __len__(self) -> int:
        return self.size

    def decode_tokens(self, ids) -> list[str]:
        return [str(i) for i in (ids.tolist() if torch.is_tensor(ids) else ids)]

    def decode(self, ids) -> str:
        return " ".join(self.decode_tokens(ids))

    def split(self, line: str) -> list[str]:
        return line.split()


def sequence_mask(x: torch.Tensor, eos: int | None) -> torch.Tensor:
    """(N, L) float mask of the positions a model is scored on: every token up to and including the
    first <eos> (all positions when the data have no <eos>, as the oracle's)."""
    if eos is None:
        return torch.ones_like(x, dtype=torch.float)
    is_eos = (x == eos).long()
    before = is_eos.cumsum(1) - is_eos  # (N, L): number of <eos> strictly before each position
    return (before == 0).float()
