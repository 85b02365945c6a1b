"""Datasets held in memory as tensors, and the batch stream that feeds training.

Every dataset becomes a `Data`: images as uint8 (N, C, H, W), or float vectors (N, D), plus
optional int64 labels. Keeping uint8 in memory (and on the GPU when there is one) makes the
per-step cost a gather and a scale, and makes the data order an exact, resumable function of
(seed, epoch, position).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import GankitError
from ..registry import DATASETS


@dataclass
class Data:
    """A dataset in memory. x: uint8 (N, C, H, W) images, float (N, D) vectors or (N, T, F) sequences,
    or int64 (N, L) token ids. x2: an optional second domain (image translation): aligned with x
    when `paired`, an independent set otherwise."""
    x: torch.Tensor
    y: torch.Tensor | None = None  # int64 (N,) labels
    name: str = ""
    num_classes: int = 0
    class_names: list[str] | None = None
    meta: dict = field(default_factory=dict)  # e.g. toy mode centres and std; JSON-able
    x2: torch.Tensor | None = None
    paired: bool = False

    @property
    def is_image(self) -> bool:
        return self.x.dim() == 4

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one example: (C, H, W) or (D,)."""
        return tuple(self.x.shape[1:])

    def __len__(self) -> int:
        return self.x.shape[0]


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 images in [0, 255] -> float in [-1, 1]; float data -> float32; token ids pass through."""
    if x.dtype == torch.uint8:
        return x.float().div_(127.5).sub_(1.0)
    return x.float() if x.is_floating_point() else x


class Batch(tuple):
    """(x, y) as a tuple, plus .x2: the second domain's batch for translation data (else None), and
    .idx: the examples' indices in the data set (for per-example state such as GLO's codes), or None."""

    def __new__(cls, x, y=None, x2=None, idx=None):
        self = super().__new__(cls, (x, y))
        self.x2, self.idx = x2, idx
        return self

    @property
    def x(self):
        return self[0]

    @property
    def y(self):
        return self[1]


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Float images in [-1, 1] -> uint8 in [0, 255] (rounded, clamped)."""
    return ((x.float() + 1.0) * 127.5).round_().clamp_(0, 255).to(torch.uint8)


def parse_spec(spec: str) -> tuple[str, str | None]:
    """'fashion-mnist:test' -> ('fashion-mnist', 'test'); paths come back whole with split None."""
    p = Path(os.path.expanduser(spec))
    if p.exists() or "/" in spec or spec.endswith(".npz"):
        return str(p), None
    name, _, split = spec.partition(":")
    return name, (split or None)


def load_data(cfg, sizes: tuple[int, ...] | None = None, log=print) -> Data:
    """Load the dataset named by cfg.spec and fit it to a net accepting image `sizes` (None: any)."""
    from .images import load_folder, load_npz

    name, split = parse_spec(cfg.spec)
    if Path(name).exists() or "/" in name or name.endswith(".npz"):
        path = Path(name)
        if not path.exists():
            raise GankitError(f"data path {path} does not exist; give an image folder, an .npz, or a "
                              f"dataset name ({', '.join(DATASETS.names())})")
        # a file format a family registered (a dataset with meta suffixes=(".csv",)) reads cfg.spec itself
        by_suffix = [e for e in DATASETS if path.is_file() and path.suffix.lower() in e.meta.get("suffixes", ())]
        if by_suffix:
            data = by_suffix[0].obj(cfg, None)
        else:
            data = load_npz(path) if path.is_file() else load_folder(path, cfg, sizes)
    else:
        entry = DATASETS.entry(name)
        splits = entry.meta.get("splits", ("train", "test"))
        split = split or splits[0]
        if split not in splits:
            raise GankitError(f"dataset {name} has no split {split!r}; choose one of: {', '.join(splits)}")
        data = entry.obj(cfg, split)
    if len(data) == 0:
        raise GankitError(f"dataset {cfg.spec} is empty")
    if cfg.limit:
        data.x = data.x[: cfg.limit]
        data.y = None if data.y is None else data.y[: cfg.limit]
    if data.is_image:
        data = fit_images(data, cfg, sizes, log)
        if data.x2 is not None:
            second = fit_images(Data(data.x2, name=data.name), cfg, sizes, log)
            data.x2 = second.x
    elif data.x.is_floating_point() and not torch.isfinite(data.x).all():
        raise GankitError(f"dataset {cfg.spec} contains NaN or Inf values; clean the data first")
    return data


def fit_images(data: Data, cfg, sizes, log) -> Data:
    """Bring images to the requested channels and a size the net accepts."""
    from torchvision.transforms.v2 import functional as TF

    c, h, w = data.shape
    if cfg.channels is not None and cfg.channels != c:
        if cfg.channels == 1 and c == 3:
            data.x = TF.rgb_to_grayscale(data.x)
        elif cfg.channels == 3 and c == 1:
            data.x = data.x.expand(-1, 3, -1, -1).contiguous()
        else:
            raise GankitError(f"data.channels must be 1 or 3, got {cfg.channels}")
    size = cfg.image_size
    if size is None:
        natural = max(h, w)
        if sizes is None or natural in sizes:
            size = natural
        else:
            bigger = [s for s in sizes if s >= natural]
            size = min(bigger) if bigger else max(sizes)
            log(f"resizing {data.name} from {natural}px to {size}px to fit the net (set data.image_size to choose)")
    elif sizes is not None and size not in sizes:
        raise GankitError(f"image size {size} does not fit the net (it makes {', '.join(map(str, sizes))} px); "
                          f"set data.image_size to one of those")
    if (h, w) != (size, size):
        chunks = [TF.resize(chunk, [size, size], antialias=True) for chunk in data.x.split(4096)]
        data.x = torch.cat(chunks)
    return data


class BatchStream:
    """Shuffled batches without replacement, drop-last, one permutation per epoch.

    The permutation of epoch e is a pure function of (seed, e), so the stream's whole state is
    (epoch, pos): saved in checkpoints, it makes resumed runs see exactly the same batches.
    """

    def __init__(self, data: Data, batch_size: int, seed: int, device: torch.device, channels_last: bool = False,
                 rank: int = 0, world: int = 1):
        if len(data) < batch_size:
            raise GankitError(f"dataset {data.name} has {len(data)} examples, fewer than the batch size "
                              f"{batch_size}; lower --batch-size")
        self.x = data.x.to(device)
        self.y = None if data.y is None else data.y.to(device)
        self.x2 = None if data.x2 is None else data.x2.to(device)
        self.paired = data.paired
        if self.x2 is not None and not self.paired and self.x2.shape[0] < batch_size:
            raise GankitError(f"the second domain of {data.name} has {self.x2.shape[0]} examples, fewer than the "
                              f"batch size {batch_size}; lower --batch-size")
        self.batch_size, self.seed, self.device = batch_size, seed, device
        self.channels_last = channels_last and data.x.dim() == 4
        self.rank, self.world = rank, world  # under torchrun: this rank takes its slice of each global batch
        self.epoch, self.pos = 0, 0
        self._perm = self._permutation(0)

    def _permutation(self, epoch: int, n: int | None = None, stream: int = 0) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch + 7_919 * stream)
        return torch.randperm(n or self.x.shape[0], generator=g).to(self.device)

    def next(self) -> Batch:
        if self.pos + self.batch_size > self.x.shape[0]:
            self.epoch, self.pos = self.epoch + 1, 0
            self._perm = self._permutation(self.epoch)
        idx = self._perm[self.pos: self.pos + self.batch_size].chunk(self.world)[self.rank]
        step = self.epoch * (self.x.shape[0] // self.batch_size) + self.pos // self.batch_size
        self.pos += self.batch_size
        x2 = None
        if self.x2 is not None:
            if self.paired:
                x2 = to_float(self.x2[idx])
            else:  # unpaired: the second domain walks its own permutations, a function of the step
                per_epoch = self.x2.shape[0] // self.batch_size
                e2, b2 = divmod(step, per_epoch)
                perm2 = self._permutation(e2, self.x2.shape[0], stream=1)
                idx2 = perm2[b2 * self.batch_size: (b2 + 1) * self.batch_size].chunk(self.world)[self.rank]
                x2 = to_float(self.x2[idx2])
        x = to_float(self.x[idx])
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return Batch(x, None if self.y is None else self.y[idx], x2, idx)

    def state_dict(self) -> dict:
        return {"seed": self.seed, "epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        # the seed travels too: a run that goes on from a start of train.restarts keeps that start's order
        self.seed = int(state.get("seed", self.seed))
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        self._perm = self._permutation(self.epoch)


from . import images, toy  # noqa: E402,F401  (register the datasets)
from ..text import data as _text_data  # noqa: E402,F401  (register the text datasets)
from ..sequence import datasets as _sequence_datasets  # noqa: E402,F401  (register the sequence datasets)
from . import translation as _translation  # noqa: E402,F401  (register edges2fashion, sneaker2boot, aligned, paired, unpaired ...)
