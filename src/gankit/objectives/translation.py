"""Image-to-image translation: pix2pix (Isola et al. 2017), its L1-only baseline, and CycleGAN
(Zhu et al. 2017), on the same engine as every other family.

Data come as `Data` with two domains (x = A, x2 = B; see gankit.data.translation). pix2pix and
l1-only need them paired; CycleGAN takes either. Nets come from a translation net family
(`--net unet` or `--net resnet-gen`): G maps an image to an image, D is a PatchGAN returning a
map of patch logits, so every registered loss (ns, lsgan, hinge ...) and regulariser applies
unchanged, averaged over patches.

Each training step runs the G phase first on a fresh batch and then the D phase on the same
batch, reusing the G phase's (detached) outputs: one G forward per step, as in the reference
code. CycleGAN's D sees its fakes through a history pool of generated images.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..config import register_section
from ..errors import GankitError
from ..losses import GanLoss
from ..registry import LOSSES, NETS, OBJECTIVES, REGULARIZERS
from ..regularizers import clip_weights
from ..training.stats import report
from . import DataInfo, Objective, Phase

DIRECTIONS = ("AtoB", "BtoA")


@register_section("translation")
@dataclass
class TranslationConfig:
    direction: str = "AtoB"  # pix2pix / l1-only: which domain is the input (AtoB: x -> x2); CycleGAN: sampling default
    norm: str = "auto"  # what net.g_norm / net.d_norm = bn mean: batch | instance (auto: pix2pix batch, CycleGAN instance)
    patch: int = 0  # PatchGAN receptive field in px: 16, 34, 70 or 142 (0: 70 from 128 px up, 34 at 64, 16 below)
    depth: int = 0  # U-Net stride-2 stages (0: down to 1x1, i.e. log2 of the image size)
    blocks: int = 0  # ResNet G residual blocks (0: as CycleGAN, 6 below 256 px and 9 from 256 px)
    dropout: float = 0.5  # U-Net decoder dropout, pix2pix's noise
    sample_dropout: bool = False  # keep the dropout on when translating (pix2pix's test-time noise)
    lambda_l1: float = 100.0  # pix2pix: weight of L1(G(x), y) against the cGAN term
    lambda_cycle: float = 10.0  # CycleGAN: weight of each cycle-consistency L1
    lambda_identity: float = 0.5  # CycleGAN: identity L1 weight, as a fraction of lambda_cycle (0 = off)
    pool_size: int = 50  # CycleGAN: generated images kept in each D's history pool (0 = no pool)
    gan_weight: float = 1.0  # weight of G's adversarial term (the loss's own G side, e.g. lsgan's (D-1)^2 / 2)


def validate_section(t: TranslationConfig) -> None:
    if t.direction not in DIRECTIONS:
        raise GankitError(f"translation.direction={t.direction!r} is not allowed; choose AtoB or BtoA")
    if t.norm not in ("auto", "batch", "instance"):
        raise GankitError(f"translation.norm={t.norm!r} is not allowed; choose auto, batch or instance")
    for name in ("lambda_l1", "lambda_cycle", "lambda_identity", "gan_weight"):
        if getattr(t, name) < 0:
            raise GankitError(f"translation.{name} must be >= 0, got {getattr(t, name)}")
    for name in ("pool_size", "blocks", "depth"):
        if getattr(t, name) < 0:
            raise GankitError(f"translation.{name} must be a non-negative integer, got {getattr(t, name)}")
    if not 0.0 <= t.dropout < 1.0:
        raise GankitError(f"translation.dropout must be in [0, 1), got {t.dropout}")


class ImagePool(nn.Module):
    """A history of generated images (Shrivastava et al. 2017; CycleGAN section 4).

    D is trained on fakes drawn half from the newest batch and half from earlier ones, which damps
    oscillation. The first `size` images fill the pool and pass through; after that each new image
    is, with probability 1/2, swapped for a random stored one (which D sees instead) and otherwise
    passed through. The pool lives in buffers, so checkpoints carry it and resumed runs match; its
    coin flips use torch's global generator, whose state the trainer saves.
    """

    def __init__(self, size: int, shape: tuple):
        super().__init__()
        self.size = size
        self.register_buffer("images", torch.zeros(size, *shape))  # (size, C, H, W)
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def query(self, fakes: torch.Tensor) -> torch.Tensor:
        """fakes (B, C, H, W), detached -> (B, C, H, W) for D."""
        if self.size == 0:
            return fakes
        out = fakes.clone()
        filled = int(self.count)
        coin = torch.rand(len(fakes)).tolist()  # drawn on the CPU: no device sync per image
        slot = torch.randint(0, self.size, (len(fakes),)).tolist()
        for i in range(len(fakes)):
            if filled < self.size:
                self.images[filled] = fakes[i]
                filled += 1
            elif coin[i] > 0.5:
                out[i] = self.images[slot[i]]
                self.images[slot[i]] = fakes[i]
        self.count.fill_(filled)
        return out


def side_by_side(*panels: torch.Tensor) -> torch.Tensor:
    """Images (N, C_k, H, W) -> (N, C, H, k W) with C the largest C_k (grey panels tiled to RGB)."""
    c = max(p.shape[1] for p in panels)
    return torch.cat([p.expand(-1, c, -1, -1) if p.shape[1] != c else p for p in panels], dim=3)


class TranslationObjective(Objective):
    """What pix2pix, l1-only and CycleGAN share: checks, data roles, sample grids, translation."""

    needs_pairs = True
    adversarial = True
    norm = "batch"  # what translation.norm=auto means for this family
    eval_command = "eval-translation"  # `gankit eval RUN` hands translation runs to this command

    def __init__(self, cfg, info: DataInfo):
        super().__init__(cfg, info)
        validate_section(cfg.translation)
        t = cfg.translation  # resolve the automatic choices; the saved config keeps 'auto' / 0
        self.t: TranslationConfig = replace(t, norm=self.norm if t.norm == "auto" else t.norm,
                                            blocks=t.blocks or (9 if info.shape[-1] >= 256 else 6))
        name = cfg.train.objective
        if NETS.entry(cfg.net.name).meta.get("kind") != "translation":
            nets = [e.name for e in NETS if e.meta.get("kind") == "translation"]
            raise GankitError(f"{name} needs an image-to-image net, not {cfg.net.name}; add --net "
                              f"{'unet' if self.needs_pairs else 'resnet-gen'} (translation nets: {', '.join(nets)})")
        if "shape2" not in info.extra:
            raise GankitError(f"{info.name or cfg.data.spec} holds one image domain, but {name} translates between two; "
                              f"use two-domain data: edges2fashion, sneaker2boot, aligned / paired / unpaired with "
                              f"data.root=DIR (gankit list datasets)")
        if self.needs_pairs and not info.extra.get("paired"):
            raise GankitError(f"{name} learns from aligned pairs, but {info.name or cfg.data.spec} is unpaired; use "
                              f"--objective cyclegan for unpaired domains, or paired data (edges2fashion, aligned, paired)")
        for flag, on in (("loss.feature_matching", cfg.loss.feature_matching), ("net.conditional", cfg.net.conditional),
                         ("net.minibatch_disc", cfg.net.minibatch_disc)):
            if on:
                raise GankitError(f"{flag} is an option of the gan objective; {name} does not use it, remove it")
        self.shape = {"A": tuple(info.shape), "B": tuple(info.extra["shape2"])}
        self.direction = self.t.direction
        self._stash = None  # (batch, detached G outputs) from this step's G phase, reused by the D phase
        if self.adversarial:
            self.loss_fn: GanLoss = LOSSES.get(cfg.loss.name)
            if cfg.loss.label_smoothing and not self.loss_fn.sigmoid:
                raise GankitError(f"loss.label_smoothing applies to sigmoid losses (minimax, ns, ml), not "
                                  f"{cfg.loss.name}; remove it or pick one of those")
            self.reg = None if cfg.loss.reg == "none" else REGULARIZERS.get(cfg.loss.reg)
            self._d_updates = 0

    @classmethod
    def data_info(cls, data) -> DataInfo:
        info = super().data_info(data)
        if not data.is_image:
            raise GankitError(f"{data.name} holds vectors or tokens; image translation needs images")
        if data.x2 is not None:
            info.extra.update(shape2=list(data.x2.shape[1:]), paired=bool(data.paired))
        return info

    def _build(self, src: str, tgt: str, cond: bool):
        """(G: src -> tgt, D on tgt images [conditioned on src]) from the configured translation net."""
        c_src, c_tgt = self.shape[src][0], self.shape[tgt][0]
        return NETS.get(self.cfg.net.name)(self.cfg.net, self.shape[src], 0, out_channels=c_tgt, d_channels=c_tgt,
                                           d_cond_channels=c_src if cond else 0, tcfg=self.t)

    def phases(self) -> list[Phase]:
        g = [Phase("G", 1, fresh_batch=True)]
        return g + [Phase("D", self.cfg.optim.d_steps, fresh_batch=False)] if self.adversarial else g

    # -- the adversarial pieces, shared --------------------------------------------------------

    def _d_loss(self, D, real, fake, cond, tag: str) -> torch.Tensor:
        """D's loss on one real/fake pair of batches, with reports and the configured penalty."""
        r, f = D(real, cond), D(fake, cond)  # (B, 1, h, w) patch logits
        loss = self.loss_fn.d(r, f, self.cfg.loss.label_smoothing)
        report(f"logits/real{tag}", r)
        report(f"logits/fake{tag}", f)
        if self.loss_fn.sigmoid:
            report(f"D(real){tag}", torch.sigmoid(r))
            report(f"D(fake){tag}", torch.sigmoid(f))
        every = self.cfg.loss.reg_every
        if self.reg is not None and self._d_updates % every == 0:
            penalty = self.reg(D, real, fake, cond)
            report(f"reg/{self.cfg.loss.reg}{tag}", penalty)
            loss = loss + self.cfg.loss.reg_weight * every * penalty
        return loss

    def after_step(self, phase: str) -> None:
        if phase == "D" and self.adversarial and self.loss_fn.clip:
            clip_weights(self.nets["D"], self.cfg.loss.clip)

    def extra_state(self) -> dict:
        return {"d_updates": self._d_updates} if self.adversarial else {}

    def load_extra_state(self, state: dict) -> None:
        if self.adversarial:
            self._d_updates = int(state.get("d_updates", 0))

    # -- translation, samples ------------------------------------------------------------------

    def directions(self) -> tuple[str, ...]:
        return (self.direction,)

    def check_direction(self, direction: str | None) -> str:
        direction = direction or self.direction
        if direction not in self.directions():
            raise GankitError(f"this {self.cfg.train.objective} model translates {' and '.join(self.directions())} "
                              f"only, not {direction}" + (f"; choose one of {', '.join(DIRECTIONS)}"
                                                          if direction not in DIRECTIONS else ""))
        return direction

    @property
    def z_dim(self):
        # Noise-sampling paths (gankit interpolate, gankit eval RUN, Generator.sample) read z_dim first.
        raise GankitError(f"a {self.cfg.train.objective} model translates images rather than sampling noise; use "
                          f"gankit translate RUN --input IMAGES --out DIR (add --metrics to measure it)")

    def input_shape(self, direction: str | None = None) -> tuple:
        return self.shape[self.check_direction(direction)[0]]

    def translate(self, G: nn.Module, x: torch.Tensor, direction: str | None = None) -> torch.Tensor:
        """Input images (B, C_in, H, W) in [-1, 1] -> translations (B, C_out, H, W), with G as given."""
        raise NotImplementedError

    def fixed_inputs(self, n: int, seed: int, device) -> dict:
        """n images of each domain (aligned when paired) from the test split when the data has one."""
        from ..data.translation import held_out_examples

        return held_out_examples(self.cfg, n, seed, device)

    def save_samples(self, outputs: torch.Tensor, path: Path, data=None, title: str = "") -> Path:
        from ..viz import save_grid

        h = outputs.shape[2]
        if h < 48:  # small images: enlarge (nearest) so panels are readable; save_grid looks at the width only
            outputs = F.interpolate(outputs, scale_factor=48 // h + 1, mode="nearest")
        panels = outputs.shape[3] // outputs.shape[2]
        return save_grid(outputs, Path(path).with_suffix(".png"), nrow=max(1, round(math.sqrt(len(outputs) / panels))))

    def write_samples(self, generator, args) -> str:
        """`gankit sample`: translations of args.n held-out inputs (grid: input | output | target)."""
        from ..translate import write_translations

        inputs = self.fixed_inputs(args.n, args.seed, generator.device)
        return write_translations(generator, inputs, Path(args.out))


class Pix2PixObjective(TranslationObjective):
    """pix2pix: G minimises the cGAN loss of a PatchGAN that sees (input, output), plus lambda_l1 * L1."""

    def __init__(self, cfg, info: DataInfo):
        super().__init__(cfg, info)
        self.src, self.tgt = self.direction[0], self.direction[-1]  # 'AtoB' -> ('A', 'B')
        G, D = self._build(self.src, self.tgt, cond=True)
        self.nets["G"] = G
        if self.adversarial:
            self.nets["D"] = D

    def _pair(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        if batch.x2 is None:
            raise GankitError("this batch has no second domain; pix2pix trains on paired data")
        return (batch.x, batch.x2) if self.src == "A" else (batch.x2, batch.x)

    def loss(self, phase: str, batch, step: int) -> torch.Tensor:
        src, tgt = self._pair(batch)  # (B, C_src, H, W), (B, C_tgt, H, W) in [-1, 1]
        if phase == "G":
            fake = self.nets["G"](src)
            l1 = (fake - tgt).abs().mean()
            report("loss/G_l1", l1)
            loss = self.t.lambda_l1 * l1
            if self.adversarial:
                adv = self.loss_fn.g(self.nets["D"](fake, src))
                report("loss/G_gan", adv)
                loss = loss + self.t.gan_weight * adv
            report("loss/G", loss)
            self._stash = (batch, fake.detach())
            return loss
        # D phase: the G phase's outputs for this batch (made again if D runs alone, e.g. in a test)
        if self._stash is not None and self._stash[0] is batch:
            fake = self._stash[1]
        else:
            with torch.no_grad():
                fake = self.nets["G"](src)
        # pix2pix halves D's objective so D learns slower than G; the factor is explicit here.
        loss = 0.5 * self._d_loss(self.nets["D"], tgt, fake, src, "")
        self._d_updates += 1
        report("loss/D", loss)
        return loss

    def translate(self, G, x, direction=None):
        self.check_direction(direction)
        return G(x)

    def generate(self, G, inputs: dict) -> torch.Tensor:
        src, tgt = inputs[self.src], inputs[self.tgt]
        return side_by_side(src, G(src), tgt)  # input | output | target


class L1Objective(Pix2PixObjective):
    """The pix2pix U-Net trained on lambda_l1 * L1 alone: the paper's baseline without the adversary."""

    adversarial = False


class CycleGANObjective(TranslationObjective):
    """CycleGAN: G_AB and G_BA, D_A and D_B, adversarial + cycle (lambda) + identity (0.5 lambda) losses."""

    needs_pairs = False
    norm = "instance"

    def __init__(self, cfg, info: DataInfo):
        super().__init__(cfg, info)
        t = self.t
        if t.lambda_identity > 0 and self.shape["A"][0] != self.shape["B"][0]:
            raise GankitError(f"the identity loss feeds B images to G_AB, so both domains need the same channels "
                              f"(A has {self.shape['A'][0]}, B {self.shape['B'][0]}); set data.channels=1 or 3, or "
                              f"translation.lambda_identity=0")
        g_ab, d_b = self._build("A", "B", cond=False)
        g_ba, d_a = self._build("B", "A", cond=False)
        self.nets["G"] = nn.ModuleDict({"AtoB": g_ab, "BtoA": g_ba})  # one optimiser over both, as in the paper
        # D's pools ride along with D so checkpoints (and resumes) carry them.
        self.nets["D"] = nn.ModuleDict({"A": d_a, "B": d_b, "pool_A": ImagePool(t.pool_size, self.shape["A"]),
                                        "pool_B": ImagePool(t.pool_size, self.shape["B"])})

    def loss(self, phase: str, batch, step: int) -> torch.Tensor:
        if batch.x2 is None:
            raise GankitError("this batch has no second domain; CycleGAN trains on two-domain data")
        a, b = batch.x, batch.x2  # (B, C_A, H, W), (B, C_B, H, W)
        G, D, t = self.nets["G"], self.nets["D"], self.t
        if phase == "G":
            fake_b, fake_a = G["AtoB"](a), G["BtoA"](b)
            cyc = (G["BtoA"](fake_b) - a).abs().mean() + (G["AtoB"](fake_a) - b).abs().mean()
            adv = self.loss_fn.g(D["B"](fake_b)) + self.loss_fn.g(D["A"](fake_a))
            loss = t.gan_weight * adv + t.lambda_cycle * cyc
            report("loss/G_gan", adv)
            report("loss/G_cycle", cyc)
            if t.lambda_identity > 0:  # G_AB should leave B images alone (keeps colours, CycleGAN section 5.2)
                idt = (G["AtoB"](b) - b).abs().mean() + (G["BtoA"](a) - a).abs().mean()
                report("loss/G_identity", idt)
                loss = loss + t.lambda_cycle * t.lambda_identity * idt
            report("loss/G", loss)
            # D trains on pooled fakes: query the pools once per step, here.
            self._stash = (batch, D["pool_A"].query(fake_a.detach()), D["pool_B"].query(fake_b.detach()))
            return loss
        if self._stash is not None and self._stash[0] is batch:
            _, fake_a, fake_b = self._stash
        else:
            with torch.no_grad():
                fake_a, fake_b = D["pool_A"].query(G["BtoA"](b)), D["pool_B"].query(G["AtoB"](a))
        loss = self._d_loss(D["A"], a, fake_a, None, "_A") + self._d_loss(D["B"], b, fake_b, None, "_B")
        self._d_updates += 1
        report("loss/D", loss)
        return loss

    def param_groups(self) -> dict:
        d = self.nets["D"]
        return {"G": list(self.nets["G"].parameters()), "D": list(d["A"].parameters()) + list(d["B"].parameters())}

    def directions(self) -> tuple[str, ...]:
        return DIRECTIONS

    def translate(self, G, x, direction=None):
        return G[self.check_direction(direction)](x)

    def generate(self, G, inputs: dict) -> torch.Tensor:
        # half the grid A -> B -> A, half B -> A -> B: input | translation | reconstruction
        n = len(inputs["A"])
        a, b = inputs["A"][: (n + 1) // 2], inputs["B"][: n // 2]
        fb, fa = G["AtoB"](a), G["BtoA"](b)
        return torch.cat([side_by_side(a, fb, G["BtoA"](fb)), side_by_side(b, fa, G["AtoB"](fa))])


_TINY_PAIRED = {"data.spec": "fake-pairs", "net.name": "unet"}
OBJECTIVES.register("pix2pix", help="pix2pix (Isola 2017): U-Net G, PatchGAN D on (input, output), cGAN + 100 L1; "
                                    "paired data", tiny=_TINY_PAIRED, defaults={"net": {"name": "unet"}})(Pix2PixObjective)
OBJECTIVES.register("l1-only", help="pix2pix's G trained on L1 alone (no adversary): the paper's baseline",
                    tiny=_TINY_PAIRED, defaults={"net": {"name": "unet"}})(L1Objective)
OBJECTIVES.register("cyclegan", help="CycleGAN (Zhu 2017): two G, two PatchGAN D, cycle + identity losses, image "
                                     "pool; unpaired data",
                    tiny={"data.spec": "fake-unpaired", "net.name": "resnet-gen", "translation.blocks": 1},
                    defaults={"net": {"name": "resnet-gen"}, "loss": {"name": "lsgan"}})(
    CycleGANObjective)

from .. import translate  # noqa: E402,F401  (registers the `gankit translate` command)
