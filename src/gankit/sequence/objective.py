"""The `sequence` objective: a GAN over (T, F) sequences, with the sequence extras.

On top of the classic family (any loss, regulariser, label conditioning, feature matching) it adds
- a moment-matching term in G's loss (TimeGAN's V1 + V2: |mean| and |std| gaps per step and feature),
- the skeleton head for motion data: G emits a root position and bone directions (or local joint
  rotations), positions follow by forward kinematics with the data's bone lengths, so every generated
  frame has exact bone lengths; optionally the root is planted (it follows the stance foot, as the
  data's root does) and D sees the pose relative to the root (`sequence.skeleton_view`), with more
  views beside it on request (`sequence.d_views`: world positions, bone directions),
- per-clip moment matching within each class (`sequence.clip_moment_weight`),
- a VAE-GAN reconstruction term (`sequence.recon_weight`): an encoder E, trained with G, and
  G(E(x)) ~ x in D's view,
- GLO (`sequence.glo_weight`): a learned code per training clip, G(code) ~ clip, with a periodic
  search of better codes among the same class's codes, and G sampling from a Gaussian mixture fitted
  to the codes; optionally a smooth residual per clip beside its code (`sequence.glo_residual`),
  sampled from a Gaussian; with `sequence.adversarial_weight=0` G trains without D,
- sample pictures and `gankit sample` output for sequences: stick-figure filmstrips and GIFs for
  motion, line plots next to real ones for series, and the raw arrays in data units (.npz).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..config import NetConfig, register_section
from ..errors import GankitError
from ..objectives import DataInfo, Phase
from ..objectives.gan import GanObjective
from ..registry import NETS, OBJECTIVES
from ..training import distributed
from ..training.stats import report
from . import command  # noqa: F401  (registers `gankit eval-sequence`)
from . import nets as seqnets
from .datasets import denormalise

DEFAULT_NET = "seq-gru"


@register_section("sequence")
@dataclass
class SequenceConfig:
    moment_weight: float = 0.0  # G loss += w * (|mean gap| + |std gap|) over steps and features (TimeGAN)
    skeleton_head: bool = True  # motion data: G emits root + bone directions, so bone lengths are exact
    pose: str = "directions"  # skeleton head: G emits bone "directions" or local joint "rotations" (then FK)
    root: str = "free"  # skeleton head: "free" (G places the root) or "planted" (the root follows the stance foot)
    skeleton_view: bool = False  # motion data: D sees the root's path and the pose relative to the root (metres)
    d_views: str = ""  # with skeleton_view: D also sees "world" (positions as given) and/or "bones" (directions)
    clip_moment_weight: float = 0.0  # G loss += w * gaps of per-clip statistics' batch mean and std, per class
    recon_weight: float = 0.0  # > 0: an encoder E and G's loss += w * |G(E(x)) - x|^2 (VAE-GAN, Larsen 2016)
    kl_weight: float = 0.01  # with recon_weight: weight of KL(E(x) || N(0, I)), mean over latent dimensions
    glo_weight: float = 0.0  # > 0: a learned code per training clip and G loss += w * |G(code) - clip|^2 (GLO)
    glo_search_every: int = 1000  # GLO: every k steps, every training clip tries other clips' codes
    glo_candidates: int = 4  # GLO: codes tried per clip and search (a same-class clip's code + noise)
    glo_components: int = 32  # GLO: Gaussians per class in the mixture G samples codes from
    glo_residual: int = 0  # GLO: > 0 adds a smooth residual per clip (this many slow cosines per output feature)
    glo_residual_weight: float = 0.0  # GLO: G loss += w * mean(r^2) over the residual codes
    glo_residual_start: float = 0.5  # GLO: the residual codes join at this share of train.steps (0 at once)
    glo_residual_sampler: str = "gaussian"  # GLO: how G draws residuals: "gaussian" (one per class), "bootstrap" (a real clip's) or "nearest" (the nearest code's clip's)
    glo_residual_neighbours: int = 1  # GLO, "nearest": the residual of one of the k clips whose codes are nearest (z picks)
    adversarial_weight: float = 1.0  # weight of G's adversarial loss; 0 trains G without D (needs glo_weight)


def moment_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """TimeGAN's G moment terms: mean |std_real - std_fake| + mean |mean_real - mean_fake| over the batch,
    per step and feature (real is a constant here)."""
    real = real.detach()
    std_gap = (real.std(0, unbiased=False) - fake.std(0, unbiased=False)).abs().mean()
    mean_gap = (real.mean(0) - fake.mean(0)).abs().mean()
    return std_gap + mean_gap


def clip_stats(x: torch.Tensor) -> torch.Tensor:
    """Per-clip summaries (B, T, F) -> (B, 3F): each feature's mean and std over time and the std of its
    step-to-step change. Unlike per-step moments they do not mix clips at different phases: a clip's
    amplitude (its std over time) and its speed (the std of its steps) are read off directly."""
    return torch.cat([x.mean(1), x.std(1, unbiased=False), x.diff(dim=1).std(1, unbiased=False)], 1)


def clip_moment_loss(real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Mean |mean gap| + |std gap| over the batch of clip_stats of real and fake clips, within each class
    of `labels` (fake[i] was made for labels[i]) and averaged over the classes; real is a constant."""
    sr, sf = clip_stats(real.detach()), clip_stats(fake)  # (B, 3F) each
    groups = [None] if labels is None else [labels == k for k in labels.unique()]
    gaps = []
    for m in groups:
        a, b = (sr, sf) if m is None else (sr[m], sf[m])
        std_gap = (a.std(0, unbiased=False) - b.std(0, unbiased=False)).abs().mean()
        gaps.append((a.mean(0) - b.mean(0)).abs().mean() + std_gap)
    return torch.stack(gaps).mean()


def same_class(labels: torch.Tensor, wanted: torch.Tensor) -> torch.Tensor:
    """For each label of `wanted` (B,), the index of a random example of that class in `labels` (N,),
    from the global RNG (so checkpoints resume it exactly)."""
    out = torch.empty_like(wanted)
    for k in wanted.unique():
        pool = torch.nonzero(labels == k).flatten()
        rows = wanted == k
        out[rows] = pool[torch.randint(len(pool), (int(rows.sum()),), device=pool.device)]
    return out


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def kl_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)), mean over the batch and the latent dimensions."""
    return 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).mean()


# Settings of the engine's shared tests (tests/test_training.py): a short sines split and small nets.
TINY = {"data.spec": "sines:test", "net.name": "seq-gru", "data.limit": 64, "sequence.moment_weight": 1.0}


@OBJECTIVES.register("sequence", help="sequence GAN (RCGAN/TimeGAN-style): motion and time series with seq-gru, "
                                      "seq-lstm or seq-tcn nets, any loss; skeleton head, moment loss", tiny=TINY)
class SequenceObjective(GanObjective):
    eval_command = "eval-sequence"  # `gankit eval RUN` hands sequence runs to this command

    def __init__(self, cfg, info: DataInfo):
        self.sequence = not info.is_image and len(info.shape) == 2
        if self.sequence and NETS.entry(cfg.net.name).meta.get("sizes") is not None:
            if cfg.net.name != NetConfig().name:
                seq = [n for n in NETS.names() if NETS.entry(n).meta.get("sizes") is None]
                raise GankitError(f"net {cfg.net.name} makes images, and {info.name or cfg.data.spec} holds sequences; "
                                  f"choose --net {' | '.join(seq)}")
            cfg.net.name = DEFAULT_NET  # the untouched default (an image net) means "the sequence default"
        sec = cfg.sequence
        if sec.moment_weight < 0:
            raise GankitError(f"sequence.moment_weight must be >= 0, got {sec.moment_weight}")
        if sec.pose not in seqnets.POSES:
            raise GankitError(f"sequence.pose must be one of {', '.join(seqnets.POSES)}, got {sec.pose!r}")
        if sec.root not in seqnets.ROOTS:
            raise GankitError(f"sequence.root must be one of {', '.join(seqnets.ROOTS)}, got {sec.root!r}")
        super().__init__(cfg, info)
        self.moment_weight = float(sec.moment_weight)
        self.skeleton = info.extra.get("skeleton") if self.sequence else None
        if sec.glo_residual < 0 or not 0 <= sec.glo_residual_start <= 1 or sec.glo_residual_weight < 0:
            raise GankitError(f"sequence.glo_residual (terms) and glo_residual_weight must be >= 0 and "
                              f"glo_residual_start in [0, 1]; got {sec.glo_residual}, {sec.glo_residual_weight}, "
                              f"{sec.glo_residual_start}")
        if sec.glo_residual_sampler not in seqnets.MixtureSampler.RESIDUALS:
            raise GankitError(f"sequence.glo_residual_sampler must be one of "
                              f"{', '.join(seqnets.MixtureSampler.RESIDUALS)}, got {sec.glo_residual_sampler!r}")
        if sec.glo_residual_neighbours < 1:
            raise GankitError(f"sequence.glo_residual_neighbours must be at least 1 (1: the nearest clip's residual), "
                              f"got {sec.glo_residual_neighbours}")
        if sec.glo_residual and not sec.glo_weight:
            raise GankitError("sequence.glo_residual is a part of GLO's codes; add sequence.glo_weight (e.g. 1)")
        if sec.glo_residual and self.sequence:  # inside the skeleton head: the residual moves its outputs
            self.nets["G"] = seqnets.ResidualBody(self.nets["G"], sec.glo_residual, tuple(info.shape))
        if self.skeleton is not None and sec.skeleton_head:
            body = self.nets["G"]
            if not hasattr(body, "shape"):
                body.shape = tuple(info.shape)  # e.g. the MLP generator keeps its shape as out_shape
            self.nets["G"] = seqnets.SkeletonHead(body, self.skeleton, info.extra["mid"], info.extra["half"],
                                                  sec.root, sec.pose)
        views = tuple(v for v in sec.d_views.replace(" ", "").split(",") if v)
        if set(views) - set(seqnets.VIEWS) or (views and not sec.skeleton_view):
            raise GankitError(f"sequence.d_views={sec.d_views!r}: give a comma list of {', '.join(seqnets.VIEWS)} "
                              f"(or nothing), with sequence.skeleton_view=true")
        # what D sees, where the clip statistics and the reconstruction are measured too
        self._view, seen = _identity, tuple(info.shape)
        if self.skeleton is not None and sec.skeleton_view:
            (T, F), k = info.shape, info.num_classes
            seen = (T, seqnets.SkeletonView.view_features(F, views))
            # with extra views D is built for the wider input (the views side by side)
            D = NETS.get(cfg.net.name)(cfg.net, seen, k)[1] if views else self.nets["D"]
            if not hasattr(D, "shape"):
                D.shape, D.num_classes = seen, k
            self.nets["D"] = seqnets.SkeletonView(D, info.extra["mid"], info.extra["half"], extra=views,
                                                  parents=self.skeleton["parents"])
            self._view = self.nets["D"].view
        if sec.clip_moment_weight < 0:
            raise GankitError(f"sequence.clip_moment_weight must be >= 0, got {sec.clip_moment_weight}")
        self.clip_moment_weight = float(sec.clip_moment_weight)
        if sec.recon_weight < 0 or sec.kl_weight < 0:
            raise GankitError(f"sequence.recon_weight and sequence.kl_weight must be >= 0, got "
                              f"{sec.recon_weight} and {sec.kl_weight}")
        self.recon_weight, self.kl_weight = float(sec.recon_weight), float(sec.kl_weight)
        if self.recon_weight:
            if not self.sequence:
                raise GankitError("sequence.recon_weight needs sequence data (T, F); drop it for "
                                  f"{info.name or cfg.data.spec}")
            self.nets["E"] = seqnets.SequenceEncoder(cfg.net.z_dim, seen, cfg.net.d_width, cfg.net.layers)
        self._setup_glo(cfg, info)

    def _setup_glo(self, cfg, info: DataInfo) -> None:
        sec = cfg.sequence
        if sec.glo_weight < 0 or sec.adversarial_weight < 0:
            raise GankitError(f"sequence.glo_weight and sequence.adversarial_weight must be >= 0, got "
                              f"{sec.glo_weight} and {sec.adversarial_weight}")
        if sec.glo_search_every < 0 or sec.glo_candidates < 1 or sec.glo_components < 1:
            raise GankitError(f"sequence.glo_search_every must be >= 0 (0: no search), sequence.glo_candidates and "
                              f"sequence.glo_components >= 1; got {sec.glo_search_every}, {sec.glo_candidates}, "
                              f"{sec.glo_components}")
        self.glo_weight, self.adversarial_weight = float(sec.glo_weight), float(sec.adversarial_weight)
        if not self.adversarial_weight and not self.glo_weight:
            raise GankitError("sequence.adversarial_weight=0 leaves G nothing to learn from; "
                              "add sequence.glo_weight (e.g. 1) or drop adversarial_weight")
        if not self.glo_weight:
            return
        if not self.sequence:
            raise GankitError(f"sequence.glo_weight needs sequence data (T, F); drop it for {info.name or cfg.data.spec}")
        if distributed.world() > 1:
            raise GankitError("sequence.glo_weight trains on one process (its code search is not shared across "
                              "ranks); run it without torchrun")
        self.glo_search_every, self.glo_candidates = int(sec.glo_search_every), int(sec.glo_candidates)
        self.restart_key = "loss/G_glo"  # train.restarts keeps the start that rebuilds its clips best
        self.glo_residual_weight = float(sec.glo_residual_weight)
        self.glo_residual_from = int(sec.glo_residual_start * cfg.train.steps)
        self._glo_data = None  # (x, labels) of the training set, from attach()
        classes = info.num_classes if self.conditional else 1
        body = self.nets["G"]
        res = body.z_dim - getattr(body, "code_dim", body.z_dim)  # the residual's share of a code
        self.nets["C"] = seqnets.LatentCodes(int(info.extra["size"]), body.z_dim, zero_tail=res)
        self.nets["G"] = seqnets.MixtureSampler(body, classes, int(sec.glo_components), tuple(info.shape),
                                                residuals=sec.glo_residual_sampler, size=int(info.extra["size"]),
                                                neighbours=int(sec.glo_residual_neighbours))
        self.z_dim = self.nets["G"].z_dim  # G's input: the code's dimensions + one that picks the component

    # ------------------------------------------------------------------------------------------
    # training

    @classmethod
    def data_info(cls, data) -> DataInfo:
        info = super().data_info(data)
        info.extra["size"] = len(data)  # GLO keeps one code per training example
        return info

    def phases(self) -> list[Phase]:
        if not self.adversarial_weight:
            return [Phase("G", 1, fresh_batch=True)]  # GLO alone: no D step
        return super().phases()

    def loss(self, phase: str, batch, step: int) -> torch.Tensor:
        if phase == "D":
            if self.reg is not None:
                # cuDNN's RNN kernels have no double backward, which gradient penalties need
                with torch.backends.cudnn.flags(enabled=False):
                    return super().loss(phase, batch, step)
            return super().loss(phase, batch, step)
        if not (self.moment_weight or self.clip_moment_weight or self.recon_weight or self.glo_weight):
            return super().loss(phase, batch, step)
        # The G step of the classic family ("loss/G" is its adversarial part), on the same fake batch
        # that the moment term then compares with the real one.
        real, labels = batch
        y = labels if self.conditional else None
        if self._fake is None and (self.adversarial_weight or self.moment_weight or self.clip_moment_weight):
            self._fake = self.nets["G"](self._noise(real.shape[0], real.device), y)
        fake = self._fake
        loss = real.new_zeros(())
        if self.adversarial_weight:
            loss = self.adversarial_weight * super().loss(phase, batch, step)
        self._fake = None
        if self.moment_weight:
            m = moment_loss(real, fake)
            report("loss/G_moment", m)
            loss = loss + self.moment_weight * m
        seen = self._view(real) if (self.clip_moment_weight or self.recon_weight) else None  # (B, T, F')
        if self.clip_moment_weight:
            c = clip_moment_loss(seen, self._view(fake), y)
            report("loss/G_clip_moment", c)
            loss = loss + self.clip_moment_weight * c
        if self.recon_weight:
            # VAE-GAN: G rebuilds each real clip from E's posterior sample (reparameterised)
            mu, logvar = self.nets["E"](seen)  # (B, z_dim) each
            z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
            recon = (self._view(self.nets["G"](z, y)) - seen).square().mean()
            kl = kl_normal(mu, logvar)
            report("loss/G_recon", recon)
            report("loss/E_kl", kl)
            loss = loss + self.recon_weight * recon + self.kl_weight * kl
        if self.glo_weight:
            loss = loss + self.glo_weight * self._glo_loss(batch, real, y, step)
        return loss

    # ------------------------------------------------------------------------------------------
    # GLO

    def _glo_error(self, out: torch.Tensor, real: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
        """Per-clip squared error (B,) in D's view, plus in the data's own units when D's view differs
        (the skeleton view: the judge of the metrics sees world positions)."""
        err = (self._view(out) - seen).square().flatten(1).mean(1)
        if self._view is not _identity:
            err = err + (out - real).square().flatten(1).mean(1)
        return err

    def attach(self, data) -> None:
        """GLO searches every training clip's code (see _glo_search): keep the training set."""
        if self.glo_weight:
            if len(data) != len(self.nets["C"].weight):
                raise GankitError(f"the run's GLO codes are for {len(self.nets['C'].weight)} clips and its data has "
                                  f"{len(data)}; train on the data the run started with")
            labels = data.y if self.conditional and data.y is not None else torch.zeros(len(data), dtype=torch.long)
            self._glo_data = (data.x, labels)
            self._start_clocks(data.x)

    @torch.no_grad()
    def _start_clocks(self, x: torch.Tensor, chunk: int = 1024) -> None:
        """seq-phase with net.clock_from_z: each clip's code starts with its clock at the clip's own
        dominant frequency (seen as D sees it), so no clip has to find its rate by gradient. A resumed
        run's checkpoint then replaces the codes."""
        pg = next((m for m in self.nets["G"].modules() if isinstance(m, seqnets.PhaseGenerator) and m.direct), None)
        if pg is None:
            return
        C = self.nets["C"]
        for i in range(0, len(x), chunk):
            w = seqnets.cycle_rate(self._view(x[i:i + chunk].float().to(C.weight.device)))
            C.weight[i:i + chunk, 0] = pg.clock_code(w) / C.SCALE

    def _glo_loss(self, batch, real: torch.Tensor, y: torch.Tensor | None, step: int) -> torch.Tensor:
        """GLO: G rebuilds each real clip of the batch from its own learned code (and, from
        glo_residual_start on, its residual: see seqnets.ResidualBody). Every
        glo_search_every steps (until 90% of train.steps) every training clip first tries
        glo_candidates codes of other clips of its class and keeps the best (_glo_search). The mixture
        G samples from is refitted to the codes at every checkpoint and at the last step."""
        idx = getattr(batch, "idx", None)
        if idx is None or self._glo_data is None:
            raise GankitError("sequence.glo_weight needs the training set and the batch's example indices; "
                              "train through gankit's Trainer")
        C, sampler = self.nets["C"], self.nets["G"]
        every, total = self.glo_search_every, self.cfg.train.steps
        if every and step % every == every - 1 and step < 0.9 * total:
            report("glo/searched", self._glo_search())
        with torch.no_grad():
            seen = self._view(real)
        code, d = C(idx), sampler.code_dim
        residual = d < code.shape[1]
        if residual and step < self.glo_residual_from:
            code = torch.cat([code[:, :d], torch.zeros_like(code[:, d:])], 1)  # the residual has not joined yet
        err = self._glo_error(sampler.body(code, y), real, seen).mean()
        report("loss/G_glo", err)
        if residual and step >= self.glo_residual_from:
            r2 = code[:, d:].square().mean()
            report("glo/residual_rms", r2.detach().sqrt())
            err = err + self.glo_residual_weight * r2
        if (step + 1) % max(1, self.cfg.train.ckpt_every) == 0 or step + 1 == total:
            sampler.fit(C(torch.arange(len(C.weight), device=idx.device)).detach(), self._glo_data[1],
                        seed=self.cfg.train.seed)
        return err

    @torch.no_grad()
    def _glo_search(self, chunk: int = 512) -> float:
        """Every training clip tries glo_candidates codes of random clips of its class (plus noise
        0.05) and keeps the one G rebuilds it best from: a global move that the gradient does not make
        (it stays at a clip's wrong phase or speed). All clips are searched against the same G (a
        search of each batch's clips as it comes scored 0.2325 against 0.216; one run each). G runs
        in eval mode here, so a clip's error does not depend on the other candidates in its chunk
        (batch norm) and batch norm's running statistics are left alone. Returns the share of clips that took a new code."""
        C, body, d = self.nets["C"], self.nets["G"].body, self.nets["G"].code_dim
        x_all, labels = self._glo_data
        device = C.weight.device
        labels = labels.to(device)
        was_training, changed = body.training, 0
        body.eval()
        try:
            for i in range(0, len(labels), chunk):
                idx = torch.arange(i, min(i + chunk, len(labels)), device=device)
                real = x_all[i:i + len(idx)].to(device).float()
                y = labels[idx] if self.conditional else None
                seen = self._view(real)
                best_code = C(idx)
                best = self._glo_error(body(best_code, y), real, seen)
                keep = best_code.clone()
                for _ in range(self.glo_candidates):
                    cand = C(same_class(labels, labels[idx]))[:, :d]
                    cand = torch.cat([cand + 0.05 * torch.randn_like(cand), best_code[:, d:]], 1)  # own residual
                    err = self._glo_error(body(cand, y), real, seen)
                    better = err < best
                    best, best_code = torch.where(better, err, best), torch.where(better[:, None], cand, best_code)
                changed += int((best_code != keep).any(1).sum())
                C.assign(idx, best_code)
        finally:
            body.train(was_training)
        return changed / len(labels)

    def param_groups(self) -> dict:
        """E (VAE-GAN's encoder) and C (GLO's codes) train with G, from one optimiser."""
        groups = super().param_groups()
        for name in ("E", "C"):
            if name in groups:
                groups["G"] = groups["G"] + groups.pop(name)
        return groups

    def evaluate(self, G, cfg, data, device, extractor=None, log=print) -> dict:
        """Sequence metrics of G during training (train.eval_every): train.eval_metrics names them
        (the image default `fid` means discriminative,mmd), train.eval_n sequences from fixed seeds
        against the training data. The first metric picks checkpoints/best (lower is better)."""
        if not self.sequence:
            return super().evaluate(G, cfg, data, device, extractor, log)
        import time

        from .metrics import check_applicable, check_metrics, measure

        t0 = time.perf_counter()
        spec = cfg.train.eval_metrics
        names = check_metrics("discriminative,mmd" if spec == "fid" else spec)
        check_applicable(self, names)
        n = max(10, int(cfg.train.eval_n))
        inputs = self.fixed_inputs(n, cfg.train.seed + 777, device)
        y = (torch.arange(n) % self.info.num_classes).to(device) if self.conditional else None
        with torch.no_grad():
            fake = G(inputs["z"], y)
        out, n_real = measure(self, fake, None if y is None else y.cpu(), data, names, seed=cfg.train.seed, log=log)
        return {"metrics": out, "provenance": {"data": data.name, "n_generated": n, "n_real": n_real,
                                               "metrics": names, "seconds": round(time.perf_counter() - t0, 2)}}

    def evaluate_run(self, source, metrics=None, n: int = 1000, seed: int = 0, device: str = "auto",
                     ref: str | None = None, log=None):
        """`gankit eval SOURCE` for this family: the sequence metrics of a saved run (see
        gankit.sequence.metrics.evaluate_sequences), or NotImplemented for image data (the image metrics
        apply). metrics None or the image default 'fid' means discriminative,predictive,mmd."""
        if not self.sequence:
            return NotImplemented
        from .metrics import DEFAULT_METRICS, evaluate_sequences

        names = DEFAULT_METRICS if metrics in (None, "fid", ("fid",)) else metrics
        return evaluate_sequences(source, names, n=n, seed=seed, device=device, ref=ref, log=log)

    # ------------------------------------------------------------------------------------------
    # data units

    @property
    def kind(self) -> str:
        return self.info.extra.get("kind", "series") if self.sequence else "other"

    def to_units(self, x: torch.Tensor) -> np.ndarray:
        """Normalised (N, T, F) -> data units (metres for motion), float64 numpy."""
        x = x.detach().float().cpu().numpy()
        if "mid" not in self.info.extra:
            return x.astype(np.float64)
        return denormalise(x, self.info.extra["mid"], self.info.extra["half"])

    def sample_sequences(self, generator, n: int, seed: int = 0, labels=None):
        """(sequences in data units (n, T, F) float64, normalised (n, T, F) float32 tensor, labels or None)."""
        x, y = generator.sample(n, seed=seed, labels=labels, return_labels=True)
        return self.to_units(x), x, y

    def load_reference(self, spec: str | None = None):
        """The real data this run was trained on (or `spec`), with the run's window and columns."""
        from ..data import load_data

        cfg = replace(self.cfg.data, limit=None, **({"spec": spec} if spec else {}))
        return load_data(cfg, None, log=lambda msg: None)

    # ------------------------------------------------------------------------------------------
    # pictures and `gankit sample`

    def _titles(self, y) -> list[str] | None:
        if y is None:
            return None
        names = self.info.class_names or [str(k) for k in range(self.info.num_classes)]
        return [f"{names[int(k)]}" for k in y]

    def save_samples(self, outputs: torch.Tensor, path: Path, data=None, title: str = "") -> Path:
        if not self.sequence or outputs.dim() != 3:
            return super().save_samples(outputs, path, data, title)
        from .render import motion_filmstrip, plot_series

        path = Path(path).with_suffix(".png")
        fake = self.to_units(outputs)
        if self.kind == "motion":
            # fixed_inputs puts class k on row k of a square grid: pick one sequence per row
            cols = max(1, int(len(outputs) ** 0.5))
            idx = list(range(0, len(outputs), cols))[:8]
            y = self.fixed_labels(len(outputs))
            titles = self._titles(None if y is None else y[idx]) or [f"#{i}" for i in idx]
            return motion_filmstrip(fake[idx], self.skeleton, path, titles=titles)
        real = None if data is None or data.x.dim() != 3 else self.to_units(data.x[:6])
        return plot_series(fake, path, real=real, names=self.info.extra.get("features"), title=title)

    def fixed_labels(self, n: int):
        if not self.conditional:
            return None
        cols = max(1, int(n ** 0.5))
        return torch.arange(n) // cols % self.info.num_classes

    def write_samples(self, generator, args) -> str:
        """`gankit sample RUN --n N --out OUT`: OUT.npz (arrays), OUT.gif / OUT.mp4 (motion), OUT.png (plot
        or filmstrip), or a folder with all of them plus the same pictures of real data."""
        if not self.sequence:
            return super().write_samples(generator, args)
        from .render import motion_filmstrip, plot_series, render_motion_gif

        out = Path(args.out)
        units, norm, y = self.sample_sequences(generator, args.n, args.seed, args.label)
        extra = self.info.extra
        fps = int(extra.get("fps", 15))
        show = min(args.n, 8)
        titles = self._titles(None if y is None else y[:show])

        def npz(path: Path) -> Path:
            path.parent.mkdir(parents=True, exist_ok=True)
            arrays = {"samples": units.astype(np.float32), "normalised": norm.numpy(),
                      "features": np.array(extra.get("features", []), dtype=str)}
            if y is not None:
                arrays["labels"] = y.numpy()
                arrays["class_names"] = np.array(self.info.class_names or [], dtype=str)
            np.savez_compressed(path, **arrays)
            return path

        suffix = out.suffix.lower()
        if suffix == ".npz":
            return f"wrote {args.n} sequences to {npz(out)} (samples {units.shape} in data units{', labels' if y is not None else ''})"
        if suffix in (".gif", ".mp4"):
            if self.kind != "motion":
                raise GankitError(f"{out.name}: animations are for motion runs; write series to .png or .npz")
            render_motion_gif(units[:show], self.skeleton, out, fps=fps, titles=titles)
            return f"wrote {show} animated stick figures to {out}"
        if suffix == ".png":
            if self.kind == "motion":
                motion_filmstrip(units[:show], self.skeleton, out, titles=titles)
            else:
                plot_series(units, out, real=self._real_units(), names=extra.get("features"))
            return f"wrote a picture of {show} sequences to {out}"
        if suffix:
            raise GankitError(f"cannot write sequences to {out.name}; give OUT.npz, OUT.gif, OUT.mp4, OUT.png or a folder")
        out.mkdir(parents=True, exist_ok=True)
        written = [npz(out / "samples.npz")]
        real = self._real_units(show, y[:show] if y is not None else None)
        if self.kind == "motion":
            written.append(render_motion_gif(units[:show], self.skeleton, out / "samples.gif", fps=fps, titles=titles))
            written.append(motion_filmstrip(units[:show], self.skeleton, out / "samples.png", titles=titles))
            if real is not None:
                written.append(render_motion_gif(real, self.skeleton, out / "real.gif", fps=fps,
                                                 titles=["real " + t for t in (titles or [""] * len(real))]))
            import shutil

            if shutil.which("ffmpeg"):
                written.append(render_motion_gif(units[:show], self.skeleton, out / "samples.mp4", fps=fps,
                                                 titles=titles))
        else:
            written.append(plot_series(units, out / "samples.png", real=real, names=extra.get("features"),
                                       title=f"generated (right) next to real (left): {self.info.name}"))
        return f"wrote {args.n} sequences to {out}/: " + ", ".join(p.name for p in written)

    def _real_units(self, count: int = 6, labels=None) -> np.ndarray | None:
        """`count` real sequences in data units (of the same classes as `labels` when given), or None
        when the training data cannot be loaded any more (e.g. a moved CSV)."""
        try:
            data = self.load_reference()
        except GankitError:
            return None
        g = torch.Generator().manual_seed(0)
        if labels is not None and data.y is not None:
            idx = []
            for k in labels:
                pool = torch.nonzero(data.y == int(k)).flatten()
                if len(pool):
                    idx.append(int(pool[torch.randint(len(pool), (1,), generator=g)]))
        else:
            idx = torch.randperm(len(data), generator=g)[:count].tolist()
        return self.to_units(data.x[idx])
