"""GAN families. An objective owns its nets and says how each training phase computes its loss;
the trainer schedules phases, optimisers, EMA, checkpoints and logging without knowing which
family it runs."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn


@dataclass(frozen=True)
class Phase:
    name: str  # optimiser group trained in this phase, e.g. "D" or "G"
    repeat: int = 1  # updates per training step (n D steps per G step)
    fresh_batch: bool = True  # draw a new real batch (else reuse the phase before's batch)
    also_grad: tuple = ()  # other groups whose parameters must record a graph (for reuse by a later phase)


@dataclass
class DataInfo:
    """What an objective needs to know about its data; saved in checkpoints to rebuild the nets."""
    shape: tuple  # one example: (C, H, W), (D,), (T, F) or (L,) token ids
    num_classes: int = 0
    class_names: list | None = None
    name: str = ""
    extra: dict = field(default_factory=dict)  # JSON-able family data, e.g. a text vocabulary

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3

    def to_dict(self) -> dict:
        return {"shape": list(self.shape), "num_classes": self.num_classes, "class_names": self.class_names,
                "name": self.name, "extra": self.extra}

    @classmethod
    def from_dict(cls, d: dict) -> "DataInfo":
        return cls(tuple(d["shape"]), d.get("num_classes", 0), d.get("class_names"), d.get("name", ""),
                   d.get("extra", {}))


class Objective:
    """Base class. Subclasses build `self.nets` and implement `phases` and `loss`."""

    ema_net = "G"  # the net whose EMA is kept and used for sampling
    restart_key: str | None = None  # the logged value train.restarts picks a start by, where one means quality

    def __init__(self, cfg, info: DataInfo):
        self.cfg, self.info = cfg, info
        self.nets = nn.ModuleDict()

    def phases(self) -> list[Phase]:
        raise NotImplementedError

    def attach(self, data) -> None:
        """Called by the Trainer with the training data before training (e.g. to keep per-example state)."""

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Optimiser group name -> parameters (default: one group per net)."""
        return {name: list(net.parameters()) for name, net in self.nets.items()}

    def learning_rates(self) -> dict[str, float]:
        return {"G": self.cfg.optim.lr_g, "D": self.cfg.optim.lr_d}

    def loss(self, phase: str, batch, step: int) -> torch.Tensor:
        raise NotImplementedError

    def after_step(self, phase: str) -> None:
        """Called after each optimiser step of `phase` (e.g. weight clipping)."""

    def extra_state(self) -> dict:
        """JSON-able state beyond the nets' weights, saved in checkpoints (e.g. counters)."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass

    def fixed_inputs(self, n: int, seed: int, device) -> dict:
        """Inputs for the sample grids, the same at every step."""
        raise NotImplementedError

    def generate(self, G: nn.Module, inputs: dict) -> torch.Tensor:
        raise NotImplementedError

    @classmethod
    def data_info(cls, data) -> DataInfo:
        """What this family keeps about its data (override to add e.g. a vocabulary to `extra`)."""
        return DataInfo(data.shape, data.num_classes, data.class_names, data.name, dict(data.meta.get("info", {})))

    def save_samples(self, outputs: torch.Tensor, path: Path, data=None, title: str = "") -> Path:
        """Picture of `generate`'s output during training: a grid for images, a scatter for 2D."""
        from ..viz import save_grid, save_scatter

        path = Path(path).with_suffix(".png")
        if outputs.dim() == 4:
            return save_grid(outputs, path)
        return save_scatter(outputs, path, None if data is None else data.x, title=title)

    def evaluate(self, G: nn.Module, cfg, data, device, extractor=None, log=print) -> dict:
        """Metrics of sampler net G during training (train.eval_every); families without metrics say so."""
        from ..errors import GankitError

        raise GankitError(f"objective {cfg.train.objective} has no evaluation during training; drop "
                          f"train.eval_every and evaluate the run afterwards")

    def write_samples(self, generator, args) -> str:
        """`gankit sample`: write args.n samples to args.out; returns a line for the user.
        The default handles images (.npz / .png grid / folder of PNGs) and 2D vectors."""
        from .sampling import write_image_samples

        return write_image_samples(generator, args)


from . import gan  # noqa: E402,F401  (register)
from ..sequence import objective as _sequence  # noqa: E402,F401  (register the sequence family)
from . import translation as _translation  # noqa: E402,F401  (register pix2pix, l1-only, cyclegan and `gankit translate`)
from ..text import objectives as _text  # noqa: E402,F401  (register the text objectives)
