"""The classic GAN family: unconditional or label-conditional G and D on images or 2D vectors,
with any registered loss, regulariser and the Improved-GAN techniques."""
from __future__ import annotations

import torch

from ..augment import DiffAugment
from ..errors import GankitError
from ..losses import GanLoss
from ..registry import LOSSES, NETS, OBJECTIVES, REGULARIZERS
from ..regularizers import clip_weights, feature_matching
from ..training import distributed
from ..training.stats import report
from . import DataInfo, Objective, Phase


@OBJECTIVES.register("gan", help="classic GAN: MLP/DCGAN nets, any loss, optional labels (cGAN)", tiny={})
class GanObjective(Objective):
    def __init__(self, cfg, info: DataInfo):
        super().__init__(cfg, info)
        if cfg.net.conditional and not info.num_classes:
            raise GankitError(f"net.conditional=true needs labelled data, and {info.name or cfg.data.spec} has no "
                              f"labels; use a labelled dataset or an image folder with one sub-folder per class")
        self.loss_fn: GanLoss = LOSSES.get(cfg.loss.name)
        if cfg.loss.label_smoothing and not self.loss_fn.sigmoid:
            raise GankitError(f"loss.label_smoothing applies to sigmoid losses (minimax, ns, ml), not "
                              f"{cfg.loss.name}; remove it or pick one of those")
        self.reg = None if cfg.loss.reg == "none" else REGULARIZERS.get(cfg.loss.reg)
        self.augment = DiffAugment(cfg.loss.augment)
        if self.augment and len(info.shape) != 3:
            raise GankitError("loss.augment (DiffAugment) is for images; remove it for vector data")
        G, D = NETS.get(cfg.net.name)(cfg.net, info.shape, info.num_classes)
        self.nets["G"], self.nets["D"] = G, D
        self.z_dim = cfg.net.z_dim
        self.conditional = bool(cfg.net.conditional)
        self._d_updates = 0
        # With one D step per G step, G's forward pass of the D step is kept (with its graph) and
        # reused by the G step, as the canonical DCGAN loop does: one G forward per iteration.
        self.reuse_fake = cfg.optim.d_steps == 1
        self._fake = None

    def phases(self) -> list[Phase]:
        return [Phase("D", self.cfg.optim.d_steps, fresh_batch=True, also_grad=("G",) if self.reuse_fake else ()),
                Phase("G", 1, fresh_batch=False)]

    def _noise(self, n: int, device) -> torch.Tensor:
        return distributed.randn(n, self.z_dim, device=device)  # (n, z_dim), this rank's slice

    def _d(self, x, y=None, return_features=False):
        """D as every loss and penalty sees it: behind DiffAugment when loss.augment is set."""
        D = self.nets["D"]
        return D(self.augment(x) if self.augment else x, y, return_features=return_features)

    def loss(self, phase: str, batch, step: int) -> torch.Tensor:
        real, labels = batch
        y = labels if self.conditional else None
        G, D, L = self.nets["G"], self._d, self.loss_fn
        if phase == "D":
            if self.reuse_fake:
                self._fake = G(self._noise(real.shape[0], real.device), y)  # (B, ...) with G's graph
                fake = self._fake.detach()
            else:
                with torch.no_grad():
                    fake = G(self._noise(real.shape[0], real.device), y)
            r, f = D(real, y), D(fake, y)
            loss = L.d(r, f, self.cfg.loss.label_smoothing)
            report("loss/D", loss)
            report("logits/real", r)
            report("logits/fake", f)
            if L.sigmoid:
                report("D(x)", torch.sigmoid(r))
                report("D(G(z))", torch.sigmoid(f))
            every = self.cfg.loss.reg_every
            if self.reg is not None and self._d_updates % every == 0:
                penalty = self.reg(D, real, fake, y)
                report(f"reg/{self.cfg.loss.reg}", penalty)
                loss = loss + self.cfg.loss.reg_weight * every * penalty
            self._d_updates += 1
            return loss
        # G phase: reuses the last D batch (its labels, and its features for feature matching)
        fake, self._fake = self._fake, None
        if fake is None:
            fake = G(self._noise(real.shape[0], real.device), y)
        if self.cfg.loss.feature_matching:
            f, h_fake = D(fake, y, return_features=True)
            with torch.no_grad():
                _, h_real = D(real, y, return_features=True)
            loss = feature_matching(h_real, h_fake)
            report("loss/G_fm", loss)
        else:
            f = D(fake, y)
            loss = L.g(f)
        report("loss/G", loss)
        return loss

    def after_step(self, phase: str) -> None:
        if phase == "D" and self.loss_fn.clip:
            clip_weights(self.nets["D"], self.cfg.loss.clip)

    def extra_state(self) -> dict:
        return {"d_updates": self._d_updates}

    def load_extra_state(self, state: dict) -> None:
        self._d_updates = int(state.get("d_updates", 0))

    def fixed_inputs(self, n: int, seed: int, device) -> dict:
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.z_dim, generator=g).to(device)
        # Conditional grids: row r shows class r % K, so each row is one class.
        cols = max(1, int(n ** 0.5))
        y = (torch.arange(n) // cols % self.info.num_classes).to(device) if self.conditional else None
        return {"z": z, "y": y}

    def evaluate(self, G, cfg, data, device, extractor=None, log=print) -> dict:
        """FID & co. of G's samples (fixed seeds, so evaluations differ only by G) vs the reference."""
        from ..metrics.evaluate import evaluate_generator

        @torch.no_grad()
        def generate(n: int) -> torch.Tensor:
            out = []
            for i in range(0, n, 500):
                inputs = self.fixed_inputs(min(500, n - i), cfg.train.seed + 777 + i, device)
                if self.conditional:  # labels in the data's proportions, not the grid's rows
                    g = torch.Generator().manual_seed(cfg.train.seed + 778 + i)
                    pick = torch.randint(0, len(data), (len(inputs["z"]),), generator=g)
                    inputs["y"] = data.y[pick].to(device)
                out.append(self.generate(G, inputs).float().cpu())
            return torch.cat(out)

        ref = cfg.train.eval_ref or default_reference(cfg.data.spec)
        return evaluate_generator(generate, ref, cfg.train.eval_metrics, n=cfg.train.eval_n,
                                  extractor=extractor or cfg.train.eval_extractor, device=device, seed=cfg.train.seed,
                                  log=log)

    def generate(self, G, inputs: dict) -> torch.Tensor:
        return G(inputs["z"], inputs.get("y"))


def default_reference(spec: str) -> str:
    """The held-out split of the training data when the dataset has one, else the data itself."""
    from ..data import parse_spec
    from ..registry import DATASETS

    name, _ = parse_spec(spec)
    if name in DATASETS and "test" in DATASETS.entry(name).meta.get("splits", ("train", "test")):
        return f"{name}:test"
    return spec
