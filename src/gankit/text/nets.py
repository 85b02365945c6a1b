"""Text nets: an LSTM generator and two discriminators (SeqGAN's highway CNN, an LSTM).

G works on token ids (B, L) int64. Its samples are hard ids; the Gumbel-softmax objective also
takes G's relaxed one-hot outputs (B, L, V) floats. Both discriminators accept either form (a
relaxed one-hot is embedded as a mixture of embeddings, x @ E) and return raw logits (B,).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GankitError
from .tokenizer import PAD


def sample_logits(logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One draw per row from softmax(logits) (B, V) -> (B,) by the inverse CDF: as exact as
    torch.multinomial and several times faster on the CPU for V in the thousands."""
    w = torch.exp(logits - logits.amax(1, keepdim=True))  # (B, V) unnormalised probabilities
    cdf = w.cumsum(1)
    u = torch.rand(logits.shape[0], 1, generator=generator, device=logits.device) * cdf[:, -1:]
    return torch.searchsorted(cdf, u).squeeze(1).clamp_(max=logits.shape[1] - 1)


class LSTMGenerator(nn.Module):
    """An LSTM language model over a fixed length L. p(x) = prod_t p(x_t | x_<t); the first input is a
    learned start vector. With `eos` set, everything after the first <eos> is forced to <pad>
    (sampling) and left out of the likelihood (scoring). `dropout` drops input embeddings and LSTM
    outputs while training (Zaremba et al. 2014's recipe against memorising a small corpus); sampling
    runs in eval mode, without it."""

    def __init__(self, vocab: int, length: int, emb: int = 32, hidden: int = 32, eos: int | None = None,
                 dropout: float = 0.0):
        super().__init__()
        self.vocab, self.length, self.eos = vocab, length, eos
        self.embed = nn.Embedding(vocab, emb)
        self.start = nn.Parameter(torch.randn(emb) * 0.1)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.out = nn.Linear(hidden, vocab)

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        start = self.start.expand(x.shape[0], 1, -1)  # (B, 1, E)
        return torch.cat([start, self.embed(x[:, :-1])], 1)  # (B, L, E): start, x_0 .. x_{L-2}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Teacher-forced next-token logits (B, L, V) for the sequences x (B, L)."""
        h, _ = self.lstm(self.drop(self._inputs(x)))
        return self.out(self.drop(h))

    def token_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x_t | x_<t) for every position (B, L)."""
        logits = self(x)
        return -F.cross_entropy(logits.transpose(1, 2), x, reduction="none")

    def step(self, inp: torch.Tensor, state=None):
        """One step: inputs (B, E) -> (logits (B, V), state)."""
        h, state = self.lstm(self.drop(inp).unsqueeze(1), state)
        return self.out(self.drop(h.squeeze(1))), state

    def start_input(self, n: int) -> torch.Tensor:
        return self.start.expand(n, -1)

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None,
               return_states: bool = False):
        """n sequences (n, L) int64. return_states also gives the LSTM state before each position t
        (a list of L (h, c) pairs), which Monte-Carlo roll-outs continue from."""
        device = self.start.device
        inp, state = self.start_input(n), None
        done = torch.zeros(n, dtype=torch.bool, device=device)
        toks, states = [], []
        for _ in range(self.length):
            logits, state = self.step(inp, state)
            states.append(state)
            t = sample_logits(logits / temperature, generator)
            if self.eos is not None:  # after <eos>, only <pad>
                t = torch.where(done, torch.full_like(t, PAD), t)
                done = done | (t == self.eos)
            toks.append(t)
            inp = self.embed(t)
        x = torch.stack(toks, 1)
        return (x, states) if return_states else x

    def sample_relaxed(self, n: int, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Gumbel-softmax samples (RelGAN, Nie et al. 2019): per position, g ~ Gumbel(0, 1),
        hard token argmax(o + g) (an exact sample of softmax(o)), relaxed one-hot softmax(beta (o + g))
        (B, V) that carries D's gradient back into G; the next input is the hard token's embedding.
        Returns (ids (n, L), relaxed one-hots (n, L, V))."""
        inp, state = self.start_input(n), None
        toks, soft = [], []
        for _ in range(self.length):
            logits, state = self.step(inp, state)
            u = torch.rand_like(logits).clamp_(1e-10, 1.0 - 1e-7)
            z = logits - torch.log(-torch.log(u))  # (B, V) logits + Gumbel noise
            t = z.argmax(1)
            toks.append(t)
            soft.append(torch.softmax(beta * z, dim=1))
            inp = self.embed(t)
        return torch.stack(toks, 1), torch.stack(soft, 1)


def _embed_any(embed: nn.Embedding, x: torch.Tensor) -> torch.Tensor:
    """Token ids (B, L) or (relaxed) one-hots (B, L, V) -> embeddings (B, L, E)."""
    if x.is_floating_point():
        if x.dim() != 3 or x.shape[-1] != embed.num_embeddings:
            raise GankitError(f"a discriminator over {embed.num_embeddings} tokens got input of shape "
                              f"{tuple(x.shape)}; give ids (B, L) or one-hots (B, L, {embed.num_embeddings})")
        return x @ embed.weight
    return embed(x)


# SeqGAN's discriminator (Yu et al. 2017, appendix; after Kim 2014 and Zhang & LeCun 2015):
# (window, filters) pairs, max-over-time pooling, a highway layer, dropout, a linear head.
SEQGAN_FILTERS = [(1, 100), (2, 200), (3, 200), (4, 200), (5, 200), (6, 100), (7, 100), (8, 100), (9, 100),
                  (10, 100), (15, 160), (20, 160)]


class CNNDiscriminator(nn.Module):
    """SeqGAN's highway CNN. `scale` multiplies the paper's filter counts (1.0 = the paper's 1,720);
    windows longer than the sequence are left out."""

    def __init__(self, vocab: int, length: int, emb: int = 64, scale: float = 1.0, dropout: float = 0.25):
        super().__init__()
        self.embed = nn.Embedding(vocab, emb)
        filters = [(k, max(1, round(n * scale))) for k, n in SEQGAN_FILTERS if k <= length]
        self.convs = nn.ModuleList(nn.Conv1d(emb, n, k) for k, n in filters)
        width = sum(n for _, n in filters)
        self.gate, self.transform = nn.Linear(width, width), nn.Linear(width, width)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor, return_features: bool = False):
        e = _embed_any(self.embed, x).transpose(1, 2)  # (B, E, L)
        h = torch.cat([F.relu(conv(e)).amax(2) for conv in self.convs], 1)  # (B, F) max over time
        t = torch.sigmoid(self.gate(h))  # highway: t * H(h) + (1 - t) * h
        h = t * F.relu(self.transform(h)) + (1.0 - t) * h
        h = self.drop(h)
        logits = self.head(h).squeeze(1)
        return (logits, h) if return_features else logits


class LSTMDiscriminator(nn.Module):
    """An LSTM reads the sequence; its final state and the max over time of its outputs give the logit."""

    def __init__(self, vocab: int, length: int, emb: int = 64, hidden: int = 64, dropout: float = 0.25):
        super().__init__()
        self.embed = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(2 * hidden, 1)

    def forward(self, x: torch.Tensor, return_features: bool = False):
        out, (h, _) = self.lstm(_embed_any(self.embed, x))  # out (B, L, H), h (1, B, H)
        feats = self.drop(torch.cat([h[0], out.amax(1)], 1))  # (B, 2H)
        logits = self.head(feats).squeeze(1)
        return (logits, feats) if return_features else logits


D_NETS = {"cnn": CNNDiscriminator, "lstm": LSTMDiscriminator}
