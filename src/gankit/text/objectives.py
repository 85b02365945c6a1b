"""Text objectives: `mle` (an LSTM language model, the baseline), `seqgan` (Yu et al. 2017: policy
gradient with Monte-Carlo roll-outs) and `gumbel` (a relaxed text GAN in RelGAN's manner, Nie et al.
2019: Gumbel-softmax outputs, inverse temperature annealed, a standard GAN loss).

A run is a schedule of stages over train.steps (one optimiser update per step and stage phase):

    steps [0, text.pretrain_g)                       MLE pre-training of G       phase "mle"
    then text.pretrain_d steps                       D on real vs G's samples    phase "D"
    the rest                                         adversarial                 phases "G" and "D"

so a single run follows a paper's whole recipe, resumes exactly in any stage, and text.init=RUN
starts from another run's pre-trained weights instead (set pretrain_g=0 then). "mle" and "G" are two
optimisers over G's weights (MLE's Adam state does not leak into the adversarial one, as in SeqGAN's code).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..config import register_section
from ..errors import GankitError
from ..losses import GanLoss
from ..objectives import DataInfo, Objective, Phase
from ..registry import LOSSES, OBJECTIVES
from ..training.stats import report
from .nets import D_NETS, LSTMGenerator
from .tokenizer import IdTokenizer, Tokenizer, sequence_mask


@register_section("text")
@dataclass
class TextConfig:
    emb: int = 32  # G's token embedding size
    hidden: int = 32  # G's LSTM units
    dropout: float = 0.0  # G's dropout on input embeddings and LSTM outputs while training (MLE and PG)
    d_net: str = "cnn"  # cnn (SeqGAN's highway CNN) | lstm
    d_emb: int = 64  # D's token embedding size
    d_scale: float = 1.0  # CNN D: the paper's filter counts (1,720 in all) times this
    d_hidden: int = 64  # LSTM D: units
    d_dropout: float = 0.25  # SeqGAN keeps 0.75
    pretrain_g: int = 0  # MLE steps before anything adversarial
    pretrain_d: int = 0  # then D-only steps on real data vs G's samples
    mle_lr: float = 0.01  # Adam learning rate of the MLE phase (SeqGAN: 0.01)
    temperature: float = 1.0  # sampling temperature of the sample files (gankit sample/eval: --temperature)
    init: str = ""  # run dir or checkpoint whose G (and D, when it has one of the same shape) start this run


@register_section("seqgan")
@dataclass
class SeqGANConfig:
    rollouts: int = 16  # Monte-Carlo roll-outs per prefix (SeqGAN: 16)
    rollout_update: float = 0.8  # roll-out policy <- u * itself + (1 - u) * G after each G update (SeqGAN: 0.8)
    g_steps: int = 1  # policy-gradient updates per adversarial step (then optim.d_steps D updates)
    d_l2: float = 0.2  # L2 weight on D's output layer (SeqGAN: 0.2, as tf.nn.l2_loss)
    baseline: bool = False  # subtract the batch's mean reward at each position (less variance; not in SeqGAN)


@register_section("gumbel")
@dataclass
class GumbelConfig:
    beta_max: float = 100.0  # final inverse temperature of the Gumbel-softmax (RelGAN: 100 or 1000)
    anneal: str = "exp"  # beta from 1 to beta_max over the adversarial steps: exp (RelGAN) | linear | const (beta_max)
    relativistic: bool = True  # RSGAN (loss.name=ns -> relativistic standard GAN, RelGAN's choice); false: loss as is


# Settings of the shared engine tests (tests/test_training.py): the small oracle and tiny nets; the
# adversarial objectives spend their first step on MLE, so 2 steps cross a stage boundary.
TINY = {"data.spec": "oracle-small", "text.emb": 8, "text.hidden": 8, "text.d_emb": 8, "text.d_scale": 0.05,
        "text.d_hidden": 8}


def text_meta(info: DataInfo) -> dict:
    return info.extra.get("text") or {}


def tokenizer_of(info: DataInfo):
    """The run's tokenizer: the saved vocabulary, or ids as text for the oracle."""
    meta = text_meta(info)
    if meta.get("kind") == "oracle":
        return IdTokenizer(meta["vocab_size"])
    return Tokenizer.from_dict(meta["tokenizer"])


class TextObjective(Objective):
    """Shared by the text families: the LSTM generator, the stage schedule, samples as text."""

    has_d = False
    eval_command = "eval-text"  # `gankit eval RUN` hands text runs to this command

    def __init__(self, cfg, info: DataInfo):
        super().__init__(cfg, info)
        meta = text_meta(info)
        name = cfg.train.objective
        if not meta:
            raise GankitError(f"the {name} objective trains on text, and {info.name or cfg.data.spec} is not text; use "
                              f"--data words, fortunes, oracle or a .txt file")
        t = cfg.text
        for key in ("emb", "hidden", "d_emb", "d_hidden"):
            if getattr(t, key) < 1:
                raise GankitError(f"text.{key} must be a positive integer, got {getattr(t, key)}")
        for key in ("pretrain_g", "pretrain_d"):
            if getattr(t, key) < 0:
                raise GankitError(f"text.{key} must be 0 or more steps, got {getattr(t, key)}")
        if t.temperature <= 0 or t.mle_lr <= 0 or t.d_scale <= 0:
            raise GankitError("text.temperature, text.mle_lr and text.d_scale must be positive")
        for key in ("dropout", "d_dropout"):
            if not 0.0 <= getattr(t, key) < 1.0:
                raise GankitError(f"text.{key} must be in [0, 1), got {getattr(t, key)}")
        self.vocab, self.length, self.eos = meta["vocab_size"], meta["length"], meta.get("eos")
        self.tokenizer = tokenizer_of(info)
        self.nets["G"] = LSTMGenerator(self.vocab, self.length, t.emb, t.hidden, self.eos, t.dropout)
        if self.has_d:
            if t.d_net not in D_NETS:
                raise GankitError(f"text.d_net={t.d_net!r} is not a text discriminator; choose one of: "
                                  f"{', '.join(D_NETS)}")
            if t.d_net == "cnn":
                self.nets["D"] = D_NETS["cnn"](self.vocab, self.length, t.d_emb, t.d_scale, t.d_dropout)
            else:
                self.nets["D"] = D_NETS["lstm"](self.vocab, self.length, t.d_emb, t.d_hidden, t.d_dropout)
        self._next_step = 0  # the step the trainer runs next (phases() depends on the stage)
        self._initialized = not t.init  # text.init is loaded at the first step, not when a checkpoint is read

    @property
    def z_dim(self):
        # Generator.sample/interpolate draw latent vectors; a text G starts from its learned start token.
        raise GankitError("text generators have no latent vector to sample or interpolate; write text with "
                          "gankit sample RUN --out FILE.txt (or TextObjective.sample_ids in Python)")

    # ------------------------------------------------------------------------------------------
    # schedule

    def stage(self, step: int) -> str:
        t = self.cfg.text
        if step < t.pretrain_g:
            return "mle"
        if step < t.pretrain_g + t.pretrain_d:
            return "D"
        return "adv"

    @property
    def adv_start(self) -> int:
        return self.cfg.text.pretrain_g + self.cfg.text.pretrain_d

    def phases(self) -> list[Phase]:
        stage = self.stage(self._next_step)
        if stage == "mle":
            return [Phase("mle", 1)]
        if stage == "D":
            return [Phase("D", 1)]
        return self.adversarial_phases()

    def adversarial_phases(self) -> list[Phase]:
        raise NotImplementedError

    def param_groups(self) -> dict:
        groups = {"mle": list(self.nets["G"].parameters())}
        if self.has_d:
            groups["G"] = list(self.nets["G"].parameters())
            groups["D"] = list(self.nets["D"].parameters())
        return groups

    def learning_rates(self) -> dict:
        return {"mle": self.cfg.text.mle_lr, "G": self.cfg.optim.lr_g, "D": self.cfg.optim.lr_d}

    def loss(self, phase: str, batch, step: int) -> torch.Tensor:
        self._next_step = step + 1
        if not self._initialized:
            self.load_init(self.cfg.text.init)
            self._initialized = True
        real = batch[0]  # (B, L) token ids
        if phase == "mle":
            loss = self.mle_loss(real)
            report("loss/mle", loss)
            return loss
        return self.gan_loss(phase, real, step)

    def gan_loss(self, phase: str, real: torch.Tensor, step: int) -> torch.Tensor:
        raise NotImplementedError

    def mle_loss(self, x: torch.Tensor) -> torch.Tensor:
        """Mean NLL per scored token (nats): teacher forcing, positions after <eos> left out."""
        nll = -self.nets["G"].token_log_probs(x)  # (B, L)
        mask = sequence_mask(x, self.eos)
        return (nll * mask).sum() / mask.sum()

    def extra_state(self) -> dict:
        return {"next_step": self._next_step, "initialized": self._initialized}

    def load_extra_state(self, state: dict) -> None:
        self._next_step = int(state.get("next_step", 0))
        self._initialized = bool(state.get("initialized", self._initialized))

    # ------------------------------------------------------------------------------------------
    # text.init: start from another run's weights

    def load_init(self, path: str) -> None:
        from ..training import checkpoint as ck

        try:
            ckpt = ck.resolve_checkpoint(path)
        except GankitError as e:
            raise GankitError(f"text.init={path}: {e}")
        tensors, meta = ck.load_checkpoint(ckpt)
        theirs = text_meta(DataInfo.from_dict(meta["data_info"]))
        mine = text_meta(self.info)
        same = {k: theirs.get(k) for k in ("vocab_size", "length", "tokenizer", "oracle")} == \
            {k: mine.get(k) for k in ("vocab_size", "length", "tokenizer", "oracle")}
        if not same:
            raise GankitError(f"text.init={path} was trained on other text ({meta['data_info'].get('name')}: a different "
                              f"vocabulary or length); start from a run on {self.info.name}")
        loaded = []
        for name, net in self.nets.items():
            prefix = f"nets.{name}."
            if name == meta.get("ema_net") and any(k.startswith("ema.") for k in tensors):
                prefix = "ema."  # G starts as the generator that run samples with: its EMA when it kept one
            state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
            own = net.state_dict()
            if state and state.keys() == own.keys() and all(state[k].shape == own[k].shape for k in own):
                with torch.no_grad():
                    net.load_state_dict(state)
                loaded.append(name)
        if "G" not in loaded:
            raise GankitError(f"text.init={path} has no generator of this shape (text.emb={self.cfg.text.emb}, "
                              f"text.hidden={self.cfg.text.hidden}); use the same text.emb and text.hidden")
        self.after_init(loaded)

    def after_init(self, loaded: list[str]) -> None:
        pass

    # ------------------------------------------------------------------------------------------
    # samples

    def fixed_inputs(self, n: int, seed: int, device) -> dict:
        return {"n": n, "seed": seed}

    def sample_ids(self, G, n: int, seed: int, temperature: float | None = None, batch_size: int = 1000):
        """(n, L) token ids from G, a pure function of (weights, n, seed, temperature)."""
        temperature = self.cfg.text.temperature if temperature is None else temperature
        if temperature <= 0:
            raise GankitError(f"the sampling temperature must be positive, got {temperature}")
        device = next(G.parameters()).device
        g = torch.Generator(device=device).manual_seed(seed)
        was = G.training
        G.eval()
        try:
            out = [G.sample(min(batch_size, n - i), temperature, g).cpu() for i in range(0, n, batch_size)]
        finally:
            G.train(was)
        return torch.cat(out) if out else torch.empty(0, self.length, dtype=torch.long)

    def generate(self, G, inputs: dict) -> torch.Tensor:
        return self.sample_ids(G, inputs["n"], inputs["seed"])

    def decode(self, ids: torch.Tensor) -> list[str]:
        return [self.tokenizer.decode(row) for row in ids]

    def save_samples(self, outputs: torch.Tensor, path: Path, data=None, title: str = "") -> Path:
        path = Path(path).with_suffix(".txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(line + "\n" for line in self.decode(outputs)), encoding="utf-8")
        return path

    def write_samples(self, generator, args) -> str:
        """gankit sample RUN --n N --out FILE.txt (one decoded sequence per line) or FILE.npz (token ids)."""
        if getattr(args, "label", None) is not None:
            raise GankitError("text generators are not conditional; drop --label")
        out = Path(args.out)
        if out.suffix not in (".txt", ".npz"):
            raise GankitError(f"write text samples to FILE.txt (one per line) or FILE.npz (token ids), not {out}")
        ids = self.sample_ids(generator.net, args.n, args.seed, getattr(args, "temperature", None))
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".npz":
            import numpy as np

            np.savez_compressed(out, tokens=ids.numpy())
            return f"wrote {args.n} token sequences {tuple(ids.shape)} to {out}"
        out.write_text("".join(line + "\n" for line in self.decode(ids)), encoding="utf-8")
        return f"wrote {args.n} samples to {out}, one per line"

    def evaluate(self, generator, metrics=None, n: int = 1000, seed: int = 0, temperature: float | None = None,
                 reference: str | None = None, log=None) -> dict:
        """Text metrics of this generator (the hook `gankit eval` calls for text runs)."""
        from .metrics import evaluate_text

        return evaluate_text(generator, metrics, n=n, seed=seed, temperature=temperature, reference=reference,
                             log=log)


# ----------------------------------------------------------------------------------------------


@OBJECTIVES.register("mle", help="text: maximum-likelihood LSTM language model (the baseline the text GANs start "
                                 "from)", data="text", tiny=dict(TINY))
class MLEObjective(TextObjective):
    def stage(self, step: int) -> str:
        return "mle"


# ----------------------------------------------------------------------------------------------


def rollout_rewards(R, D, y: torch.Tensor, rollouts: int, eos: int | None, chunk: int = 4096) -> torch.Tensor:
    """SeqGAN's Monte-Carlo reward Q (B, L) of each token of the sequences y (B, L).

    For t < L - 1, Q[:, t] is D's mean probability of "real" over `rollouts` completions of the prefix
    y[:, :t + 1] drawn from the roll-out policy R; Q[:, L - 1] = D(y). All prefixes run together in one
    staircase: at position s the batch holds the roll-outs of every prefix shorter than s + 1, so L - 1
    LSTM steps cover all (L - 1) * rollouts * B completions. Output layers and D run `chunk` rows at a
    time, which bounds memory for large vocabularies.
    """
    from .nets import sample_logits
    from .tokenizer import PAD

    B, L = y.shape
    K = rollouts
    with torch.no_grad():
        _, state = R.step(R.start_input(B), None)  # R has read the start input
        states = []  # states[t]: R has read y_0 .. y_t, so its output predicts y_{t+1}
        for t in range(L - 1):
            _, state = R.lstm(R.embed(y[:, t]).unsqueeze(1), state)
            states.append(state)
        h = c = None  # (1, rows, H): the running roll-outs, grouped by prefix length
        seqs, done = [], []
        for s in range(1, L):  # position s is drawn for the roll-outs of every prefix shorter than s + 1
            hs, cs = states[s - 1]  # the new group: prefixes y_0 .. y_{s-1}, K copies each
            h = hs.repeat(1, K, 1) if h is None else torch.cat([h, hs.repeat(1, K, 1)], 1)
            c = cs.repeat(1, K, 1) if c is None else torch.cat([c, cs.repeat(1, K, 1)], 1)
            prefix = y[:, :s].repeat(K, 1)  # (K*B, s): row k*B + b is y[b]
            seqs.append([prefix])
            done.append((prefix == eos).any(1) if eos is not None else
                        torch.zeros(K * B, dtype=torch.bool, device=y.device))
            tok = torch.cat([sample_logits(R.out(part)) for part in h[0].split(chunk)])  # (s*K*B,)
            if eos is not None:  # after <eos>, only <pad>
                all_done = torch.cat(done)
                tok = torch.where(all_done, torch.full_like(tok, PAD), tok)
                done = list((all_done | (tok == eos)).split(K * B))
            for g, part in enumerate(tok.split(K * B)):
                seqs[g].append(part.unsqueeze(1))
            if s < L - 1:
                _, (h, c) = R.lstm(R.embed(tok).unsqueeze(1), (h, c))
        completed = torch.cat([torch.cat(parts, 1) for parts in seqs])  # ((L-1)*K*B, L)
        was = D.training
        D.eval()  # SeqGAN scores roll-outs without dropout
        try:
            p = torch.cat([torch.sigmoid(D(part)) for part in completed.split(chunk)])  # ((L-1)*K*B,)
            last = torch.sigmoid(D(y))  # (B,)
        finally:
            D.train(was)
        q = p.view(L - 1, K, B).mean(1).t()  # (B, L-1)
        return torch.cat([q, last.unsqueeze(1)], 1)


def policy_gradient_loss(G, y: torch.Tensor, rewards: torch.Tensor, eos: int | None) -> torch.Tensor:
    """REINFORCE: -mean over scored tokens of Q_t * log G(y_t | y_<t); its gradient raises the
    log-probability of tokens in proportion to their reward."""
    logp = G.token_log_probs(y)  # (B, L)
    mask = sequence_mask(y, eos)
    return -(logp * rewards.detach() * mask).sum() / mask.sum()


@OBJECTIVES.register("seqgan", help="text: SeqGAN (Yu 2017), LSTM G by policy gradient with Monte-Carlo roll-outs, "
                                    "highway-CNN or LSTM D, MLE pre-training", data="text",
                     tiny={**TINY, "text.pretrain_g": 1, "seqgan.rollouts": 2})
class SeqGANObjective(TextObjective):
    has_d = True

    def __init__(self, cfg, info: DataInfo):
        super().__init__(cfg, info)
        s = cfg.seqgan
        if s.rollouts < 1 or s.g_steps < 1:
            raise GankitError("seqgan.rollouts and seqgan.g_steps must be positive integers")
        if not 0.0 <= s.rollout_update < 1.0:
            raise GankitError(f"seqgan.rollout_update must be in [0, 1), got {s.rollout_update}")
        # The roll-out policy: a delayed copy of G (saved with the run, never optimised).
        self.nets["R"] = LSTMGenerator(self.vocab, self.length, cfg.text.emb, cfg.text.hidden, self.eos)
        self.nets["R"].load_state_dict(self.nets["G"].state_dict())
        self.nets["R"].requires_grad_(False)
        self._rollout_synced = False

    def adversarial_phases(self) -> list[Phase]:
        return [Phase("G", self.cfg.seqgan.g_steps), Phase("D", self.cfg.optim.d_steps)]

    def d_loss(self, real: torch.Tensor) -> torch.Tensor:
        G, D = self.nets["G"], self.nets["D"]
        fake = G.sample(real.shape[0])
        r, f = D(real), D(fake)
        loss = F.softplus(-r).mean() + F.softplus(f).mean()  # cross-entropy on real vs generated
        report("loss/D", loss)
        report("D(x)", torch.sigmoid(r))
        report("D(G(z))", torch.sigmoid(f))
        if self.cfg.seqgan.d_l2:
            head = D.head
            loss = loss + self.cfg.seqgan.d_l2 * 0.5 * (head.weight.square().sum() + head.bias.square().sum())
        return loss

    def gan_loss(self, phase: str, real: torch.Tensor, step: int) -> torch.Tensor:
        if phase == "D":
            return self.d_loss(real)
        G, R, D = self.nets["G"], self.nets["R"], self.nets["D"]
        if not self._rollout_synced:  # the roll-out policy starts as the pre-trained G
            R.load_state_dict(G.state_dict())
            self._rollout_synced = True
        y = G.sample(real.shape[0])
        q = rollout_rewards(R, D, y, self.cfg.seqgan.rollouts, self.eos)  # (B, L) in (0, 1)
        report("reward", q[:, -1])
        if self.cfg.seqgan.baseline:
            # With a constant reward the policy gradient is zero in expectation (E[grad log p] = 0) and
            # pure noise in practice: only differences between rewards carry signal.
            q = q - q.mean(0, keepdim=True)
        loss = policy_gradient_loss(G, y, q, self.eos)
        report("loss/G", loss)
        return loss

    def after_step(self, phase: str) -> None:
        if phase == "G":
            u = self.cfg.seqgan.rollout_update
            with torch.no_grad():
                for r, g in zip(self.nets["R"].parameters(), self.nets["G"].parameters()):
                    r.mul_(u).add_(g, alpha=1.0 - u)

    def after_init(self, loaded: list[str]) -> None:
        self._rollout_synced = False

    def extra_state(self) -> dict:
        return {**super().extra_state(), "rollout_synced": self._rollout_synced}

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        self._rollout_synced = bool(state.get("rollout_synced", False))


# ----------------------------------------------------------------------------------------------


@OBJECTIVES.register("gumbel", help="text: relaxed text GAN (RelGAN-style): Gumbel-softmax G outputs, annealed "
                                    "inverse temperature, RSGAN or any loss, MLE pre-training", data="text",
                     tiny={**TINY, "text.pretrain_g": 1})
class GumbelObjective(TextObjective):
    has_d = True

    def __init__(self, cfg, info: DataInfo):
        super().__init__(cfg, info)
        gc = cfg.gumbel
        if gc.anneal not in ("exp", "linear", "const"):
            raise GankitError(f"gumbel.anneal={gc.anneal!r} is not a schedule; choose exp, linear or const")
        if gc.beta_max < 1.0:
            raise GankitError(f"gumbel.beta_max must be at least 1, got {gc.beta_max}")
        self.loss_fn: GanLoss = LOSSES.get(cfg.loss.name)

    def adversarial_phases(self) -> list[Phase]:
        return [Phase("D", self.cfg.optim.d_steps), Phase("G", 1, fresh_batch=False)]

    def beta(self, step: int) -> float:
        """Inverse temperature at `step`: 1 at the first adversarial step, beta_max at the last."""
        gc = self.cfg.gumbel
        span = max(1, self.cfg.train.steps - self.adv_start - 1)
        p = min(1.0, max(0.0, (step - self.adv_start) / span))
        if gc.anneal == "exp":
            return gc.beta_max ** p
        if gc.anneal == "linear":
            return 1.0 + (gc.beta_max - 1.0) * p
        return gc.beta_max

    def _pair_losses(self, r: torch.Tensor, f: torch.Tensor, for_d: bool) -> torch.Tensor:
        L = self.loss_fn
        if self.cfg.gumbel.relativistic:
            # Relativistic pairing (Jolicoeur-Martineau 2019): D judges r - f; with the logistic loss
            # d(r - f, f - r) / 2 = softplus(f - r), RSGAN's D loss; G plays the same game reversed.
            return 0.5 * (L.d(r - f, f - r) if for_d else L.d(f - r, r - f))
        return L.d(r, f) if for_d else L.g(f)

    def gan_loss(self, phase: str, real: torch.Tensor, step: int) -> torch.Tensor:
        G, D = self.nets["G"], self.nets["D"]
        beta = self.beta(step)
        if phase == "D":
            with torch.no_grad():
                _, soft = G.sample_relaxed(real.shape[0], beta)
            r, f = D(real), D(soft)
            loss = self._pair_losses(r, f, for_d=True)
            report("loss/D", loss)
            report("logits/real", r)
            report("logits/fake", f)
            report("gumbel/beta", torch.tensor(beta))
            return loss
        _, soft = G.sample_relaxed(real.shape[0], beta)  # (B, L, V), differentiable in G's weights
        f = D(soft)
        with torch.no_grad():
            r = D(real)
        loss = self._pair_losses(r, f, for_d=False)
        report("loss/G", loss)
        return loss


from . import cli as _cli  # noqa: E402,F401  (register `gankit eval-text`)
