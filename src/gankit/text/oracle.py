"""SeqGAN's synthetic oracle (Yu et al. 2017, section 5): a randomly initialised LSTM whose samples are
the training data and whose likelihood scores generators (NLL_oracle).

As in SeqGAN's target LSTM, every weight is drawn from N(0, 1) (which makes the oracle's next-token
distributions peaked, so the data have structure to learn), the state starts at zero and the first
input is token 0's embedding. The weights are a pure function of (vocab, length, emb, hidden, seed):
a checkpoint rebuilds its oracle from those five numbers alone.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from .nets import sample_logits

# The benchmark of the SeqGAN paper, and a small one that tests and demos can learn in seconds.
ORACLES = {
    "oracle": dict(vocab=5000, length=20, emb=32, hidden=32, seed=0),
    "oracle-small": dict(vocab=64, length=10, emb=16, hidden=16, seed=0),
}
DATA_SIZE = 10_000  # sequences per split, as in the paper


@dataclass(frozen=True)
class OracleSpec:
    vocab: int = 5000
    length: int = 20
    emb: int = 32
    hidden: int = 32
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


class Oracle:
    """The oracle LSTM. sample(n, seed) -> (n, length) ids; nll(x) -> per-token NLL (n,)."""

    def __init__(self, spec: OracleSpec, device="cpu"):
        self.spec = spec
        g = torch.Generator().manual_seed(spec.seed)
        V, E, H = spec.vocab, spec.emb, spec.hidden

        def normal(*shape):  # drawn on the CPU in a fixed order: the same oracle on every machine
            return torch.randn(*shape, generator=g).to(device)

        self.embed = normal(V, E)  # (V, E)
        self.w_x, self.w_h, self.b = normal(E, 4 * H), normal(H, 4 * H), normal(4 * H)  # gates i, f, o, g
        self.w_out, self.b_out = normal(H, V), normal(V)
        self.device = torch.device(device)

    def _cell(self, x, h, c):
        gates = x @ self.w_x + h @ self.w_h + self.b  # (B, 4H)
        i, f, o, g = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c

    def _start(self, n: int):
        H = self.spec.hidden
        zeros = torch.zeros(n, H, device=self.device)
        return self.embed[torch.zeros(n, dtype=torch.long, device=self.device)], zeros, zeros.clone()

    @torch.no_grad()
    def sample(self, n: int, seed: int, batch_size: int = 2000) -> torch.Tensor:
        """(n, length) int64 token ids on the CPU, a pure function of (oracle, n, seed, batch_size)."""
        g = torch.Generator().manual_seed(seed)
        out = []
        for i in range(0, n, batch_size):
            m = min(batch_size, n - i)
            x, h, c = self._start(m)
            toks = []
            for _ in range(self.spec.length):
                h, c = self._cell(x, h, c)
                t = sample_logits((h @ self.w_out + self.b_out).cpu(), g)  # (m,)
                toks.append(t)
                x = self.embed[t.to(self.device)]
            out.append(torch.stack(toks, 1))
        return torch.cat(out)

    @torch.no_grad()
    def nll(self, x: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
        """Per-token negative log-likelihood (nats) of each sequence in x (n, length) -> (n,)."""
        out = []
        for i in range(0, x.shape[0], batch_size):
            xb = x[i:i + batch_size].to(self.device)
            inp, h, c = self._start(xb.shape[0])
            total = torch.zeros(xb.shape[0], device=self.device)
            for t in range(xb.shape[1]):
                h, c = self._cell(inp, h, c)
                logp = F.log_softmax(h @ self.w_out + self.b_out, dim=1)
                total -= logp.gather(1, xb[:, t:t + 1]).squeeze(1)
                inp = self.embed[xb[:, t]]
            out.append((total / xb.shape[1]).cpu())
        return torch.cat(out)


def oracle_from_info(extra: dict, device="cpu") -> Oracle:
    """Rebuild the oracle a dataset's DataInfo.extra describes."""
    return Oracle(OracleSpec(**extra["oracle"]), device)
