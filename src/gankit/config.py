"""Typed run configuration: dataclasses, presets (TOML data) and type-checked overrides.

Resolution order, later wins:
    dataclass defaults -> the chosen loss's defaults -> preset -> CLI flags -> key=value overrides
so `--loss wgan-gp` alone brings the optimiser and D-step settings that loss needs, while a
preset or an explicit override still has the last word.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import tomllib
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from .errors import GankitError


@dataclass
class DataConfig:
    spec: str = "digits"  # NAME[:SPLIT], an image folder, or an .npz of uint8 images
    root: str | None = None  # looked at first for dataset files (then $GANKIT_DATA, ...)
    image_size: int | None = None  # resize images to this many pixels (default: the dataset's own)
    channels: int | None = None  # force 1 (grayscale) or 3 (RGB); default: the data's own
    on_corrupt: str = "skip"  # image folders: skip unreadable files (with a count) or fail
    download: bool = False  # let torchvision download mnist/fashion-mnist/cifar10 when online
    limit: int | None = None  # use only the first N examples
    window: int | None = None  # sequences: time steps per example (default: the dataset's own)
    columns: str | None = None  # tables (CSV, macrodata): comma-separated column names or 0-based indices
    tokens: str | None = None  # text: char | word tokenizer (default: the dataset's own)


@dataclass
class NetConfig:
    name: str = "dcgan"  # registered net family (gankit list nets)
    z_dim: int = 100
    g_width: int = 64  # DCGAN: channels of the last G block; MLP: hidden units
    d_width: int = 64
    layers: int = 2  # MLP only: hidden layers in G and in D
    g_norm: str = "bn"  # bn | none
    d_norm: str = "bn"  # bn | none | sn (spectral norm) | ln (layer norm, for gradient penalties)
    dropout: float = 0.0  # dropout in D's hidden layers
    conditional: bool = False  # label-conditional G and D (needs labelled data)
    d_cond: str = "projection"  # how D sees the label: projection | concat
    minibatch_disc: int = 0  # Salimans 2016 minibatch discrimination kernels in D (0 = off)
    clock_max: float = 0.0  # seq-phase: the fastest clock, radians per step (0: twice the start rate, 0.8)
    clock_from_z: bool = False  # seq-phase: z's first two entries are the clock and the start phase (GLO starts each clip's clock at its own rate)


@dataclass
class LossConfig:
    name: str = "ns"  # registered loss (gankit list losses)
    reg: str = "none"  # extra D regulariser: none | gp | dragan | r1
    reg_weight: float = 10.0  # lambda of gp/dragan, gamma of r1
    reg_every: int = 1  # lazy regularisation: apply every N D steps (weight scaled by N)
    label_smoothing: float = 0.0  # one-sided: real target 1 - s (sigmoid losses only)
    feature_matching: bool = False  # G matches D's mean features instead of fooling D
    clip: float = 0.01  # weight clipping bound (wgan)
    augment: str = ""  # DiffAugment policies applied to every D input, e.g. "translation,cutout,color"


@dataclass
class OptimConfig:
    name: str = "adam"  # adam | rmsprop | sgd (momentum = beta1)
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    d_steps: int = 1  # D updates per G update
    decay_start: float = 1.0  # fraction of train.steps after which lr falls linearly to 0 (1.0 = constant)


@dataclass
class TrainConfig:
    objective: str = "gan"  # registered objective (gankit list objectives)
    steps: int = 2000  # G updates in total (each after optim.d_steps D updates)
    batch_size: int = 64
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    ema: float = 0.999  # decay of the EMA of G's weights used for sampling (0 = no EMA)
    ema_start: int = 0  # step from which the EMA averages (copies G before that)
    ema_warmup: bool = True  # decay min(ema, (1 + t) / (10 + t)) at step t: reaches 0.999 only from step ~9000
    log_every: int = 50  # read losses back from the device every N steps
    sample_every: int = 500  # fixed-latent sample grid every N steps
    ckpt_every: int = 500  # checkpoint every N steps (and at the end)
    keep: int = 2  # checkpoints kept (newest first)
    on_nan: str = "rollback"  # rollback (to the last good checkpoint, lr halved) | stop
    max_rollbacks: int = 3
    progress: bool = True  # progress bar
    tensorboard: bool = True
    grid: int = 64  # images in each sample grid
    amp: str = "auto"  # mixed precision: auto (bf16 on CUDA, off on CPU) | bf16 | none
    channels_last: str = "auto"  # NHWC memory layout for convs: auto (on CUDA) | on | off
    compile: bool = False  # torch.compile the nets' forward passes
    eval_every: int = 0  # evaluate the EMA generator every N steps (0 = never) and keep checkpoints/best
    eval_metrics: str = "fid"  # comma-separated (gankit eval --metrics); the first one picks `best`
    eval_n: int = 1000  # generated samples per evaluation
    eval_ref: str | None = None  # reference spec (default: the training data's test split, if it has one)
    eval_extractor: str | None = None  # inception | domain (default: inception for images)
    sync_bn: bool = False  # under torchrun: BatchNorm statistics over the global batch (SyncBatchNorm)
    restarts: int = 1  # > 1: train this many starts (seeds seed, seed + 1000, ...) for restart_steps each, then
    #                    go on from the one with the lowest restart_by (GLO's code search can settle badly)
    restart_steps: int = 0  # steps of each start (0 < restart_steps < steps when restarts > 1)
    restart_by: str = ""  # the logged value that picks the start, e.g. loss/G_glo ("": the objective's own)
    restart_below: float = 0.0  # > 0: go on from the first start whose restart_by is at or below this (no more
    #                             starts); none: the lowest. 0: train every start and keep the lowest


# Settings of one GAN family (e.g. pix2pix's L1 weight) live in a section of their own that the
# family's module registers with `register_section`; it is then reachable as cfg.NAME and as
# NAME.key=value overrides, and saved with the rest of the config.
EXTRA_SECTIONS: dict[str, type] = {}


def register_section(name: str):
    def deco(cls):
        if name in EXTRA_SECTIONS or name in ("data", "net", "loss", "optim", "train"):
            raise ValueError(f"config section {name!r} registered twice")
        EXTRA_SECTIONS[name] = cls
        return cls

    return deco


@dataclass
class RunConfig:
    preset: str | None = None
    data: DataConfig = field(default_factory=DataConfig)
    net: NetConfig = field(default_factory=NetConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    ext: dict = field(default_factory=dict)  # registered family sections, by name

    def __post_init__(self):
        for name, cls in EXTRA_SECTIONS.items():
            self.ext.setdefault(name, cls())

    def __getattr__(self, name: str):
        ext = self.__dict__.get("ext", {})
        if name in ext:
            return ext[name]
        raise AttributeError(name)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.update(d.pop("ext"))
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        cfg = cls()
        apply_nested(cfg, d, source="checkpoint config", strict=False)
        return cfg


BASE_SECTIONS = ("data", "net", "loss", "optim", "train")


def sections() -> tuple[str, ...]:
    return BASE_SECTIONS + tuple(EXTRA_SECTIONS)
CHOICES = {
    ("data", "on_corrupt"): ("skip", "fail"),
    ("net", "g_norm"): ("bn", "none"),
    ("net", "d_norm"): ("bn", "none", "sn", "ln"),
    ("net", "d_cond"): ("projection", "concat"),
    ("optim", "name"): ("adam", "rmsprop", "sgd"),
    ("train", "on_nan"): ("rollback", "stop"),
    ("train", "amp"): ("auto", "bf16", "none"),
    ("train", "channels_last"): ("auto", "on", "off"),
}
POSITIVE = {("train", "steps"), ("train", "batch_size"), ("train", "log_every"), ("train", "sample_every"),
            ("train", "ckpt_every"), ("train", "keep"), ("optim", "d_steps"), ("loss", "reg_every"),
            ("net", "z_dim"), ("net", "g_width"), ("net", "d_width"), ("net", "layers"), ("train", "grid")}


# ----------------------------------------------------------------------------------------------
# typed assignment


def _field_type(section_obj, name: str):
    hints = typing.get_type_hints(type(section_obj))
    return hints[name]


def _parse_scalar(tp, value: Any, key: str):
    """Convert `value` (from TOML, JSON or a CLI string) to the annotated type `tp`."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
            return None
        return _parse_scalar(args[0], value, key)
    try:
        if tp is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
                return True
            if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
                return False
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise ValueError
        if tp is int:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value) if not isinstance(value, str) else int(value.replace("_", ""))
        if tp is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if tp is str:
            if not isinstance(value, str):
                raise ValueError
            return value
    except (TypeError, ValueError):
        pass
    name = getattr(tp, "__name__", str(tp))
    raise GankitError(f"{key}={value!r} is not a valid {name}; give e.g. {key}={_example(tp)}")


def _example(tp) -> str:
    return {bool: "true", int: "64", float: "0.0002", str: "name"}.get(tp, "value")


def all_keys() -> list[str]:
    cfg = RunConfig()
    return [f"{s}.{f.name}" for s in sections() for f in dataclasses.fields(getattr(cfg, s))]


def resolve_key(key: str) -> tuple[str, str]:
    """'net.g_width' or an unambiguous short 'g_width' -> ('net', 'g_width')."""
    keys = all_keys()
    if key in keys:
        s, n = key.split(".", 1)
        return s, n
    matches = [k for k in keys if k.split(".", 1)[1] == key]
    if len(matches) == 1:
        s, n = matches[0].split(".", 1)
        return s, n
    if len(matches) > 1:
        raise GankitError(f"setting {key!r} is ambiguous; write one of: {', '.join(matches)}")
    close = difflib.get_close_matches(key, keys + [k.split('.', 1)[1] for k in keys], n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise GankitError(f"unknown setting {key!r}{hint}; see all settings with: gankit list settings")


def set_value(cfg: RunConfig, key: str, value: Any) -> None:
    section, name = resolve_key(key)
    obj = getattr(cfg, section)
    full = f"{section}.{name}"
    v = _parse_scalar(_field_type(obj, name), value, full)
    setattr(obj, name, v)


def apply_nested(cfg: RunConfig, d: dict, source: str, strict: bool = True) -> None:
    """Apply {'net': {'g_width': 32}, ...} (TOML/JSON shaped) onto cfg."""
    for section, values in d.items():
        if section in ("preset", "description"):
            if section == "preset" and not strict:
                cfg.preset = values
            continue
        if section not in sections() or not isinstance(values, dict):
            if strict:
                raise GankitError(f"{source}: unknown section {section!r}; sections are {', '.join(sections())}")
            continue
        for name, value in values.items():
            if strict or any(f.name == name for f in dataclasses.fields(getattr(cfg, section))):
                set_value(cfg, f"{section}.{name}", value)


def parse_overrides(items: list[str]) -> list[tuple[str, str]]:
    out = []
    for item in items:
        if "=" not in item:
            raise GankitError(f"cannot read {item!r}: write settings as key=value, e.g. net.g_width=32")
        k, v = item.split("=", 1)
        out.append((k.strip(), v.strip()))
    return out


# ----------------------------------------------------------------------------------------------
# presets (TOML files shipped in gankit/presets)


def preset_names() -> list[str]:
    files = resources.files("gankit.presets").iterdir()
    return sorted(f.name[:-5] for f in files if f.name.endswith(".toml"))


def load_preset(name: str) -> dict:
    if name not in preset_names():
        close = difflib.get_close_matches(name, preset_names(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise GankitError(f"unknown preset {name!r}{hint}; choose one of: {', '.join(preset_names())}")
    text = resources.files("gankit.presets").joinpath(name + ".toml").read_text()
    return tomllib.loads(text)


def preset_description(name: str) -> str:
    return load_preset(name).get("description", "")


# ----------------------------------------------------------------------------------------------


def build_config(preset: str | None = None, flags: dict | None = None,
                 overrides: list[str] | None = None) -> RunConfig:
    """Resolve a run config. `flags` maps full keys ('train.steps') to values (None = not given)."""
    from .losses import loss_defaults
    from .registry import OBJECTIVES

    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    pairs = parse_overrides(overrides or [])
    pdict = load_preset(preset) if preset else {}

    def layered(*layers: tuple[dict, str]) -> RunConfig:
        """RunConfig from defaults, then `layers` (dict, source name), then the preset, flags and settings."""
        c = RunConfig(preset=preset)
        for layer, source in layers:
            apply_nested(c, layer, source=source)
        apply_nested(c, pdict, source=f"preset {preset}")
        for k, v in [*flags.items(), *pairs]:
            set_value(c, k, v)
        return c

    # Which objective and loss will this run use? Their defaults go in first (the objective's, e.g.
    # pix2pix's U-Net, may name the loss), so the preset, flags and settings can override them.
    objective = layered().train.objective
    odefs = OBJECTIVES.entry(objective).meta.get("defaults", {}) if objective in OBJECTIVES else {}
    ob_layer = (odefs, f"objective {objective} defaults")
    loss = layered(ob_layer).loss.name
    cfg = layered((loss_defaults(loss), f"loss {loss} defaults"), ob_layer)
    validate(cfg)
    return cfg


def validate(cfg: RunConfig) -> None:
    for (section, name), choices in CHOICES.items():
        v = getattr(getattr(cfg, section), name)
        if v not in choices:
            raise GankitError(f"{section}.{name}={v!r} is not allowed; choose one of: {', '.join(choices)}")
    for section, name in POSITIVE:
        v = getattr(getattr(cfg, section), name)
        if v is None or v < 1:
            raise GankitError(f"{section}.{name} must be a positive integer, got {v!r}")
    if not 0.0 <= cfg.train.ema < 1.0:
        raise GankitError(f"train.ema must be in [0, 1), got {cfg.train.ema}; 0 turns the EMA off")
    if not 0.0 <= cfg.loss.label_smoothing < 0.5:
        raise GankitError(f"loss.label_smoothing must be in [0, 0.5), got {cfg.loss.label_smoothing}")
    if not 0.0 <= cfg.optim.decay_start <= 1.0:
        raise GankitError(f"optim.decay_start must be in [0, 1], got {cfg.optim.decay_start}")
    if cfg.optim.lr_g <= 0 or cfg.optim.lr_d <= 0:
        raise GankitError("optim.lr_g and optim.lr_d must be positive")
    t = cfg.train
    if t.restarts < 1 or (t.restarts > 1 and not 0 < t.restart_steps < t.steps):
        raise GankitError(f"train.restarts must be >= 1, and with more than 1 start train.restart_steps must be in "
                          f"(0, train.steps = {t.steps}); got restarts={t.restarts}, restart_steps={t.restart_steps} "
                          f"(a short run: add train.restarts=1)")
    if t.restart_below < 0:
        raise GankitError(f"train.restart_below must be >= 0 (0: keep the lowest of all starts), got {t.restart_below}")
    if not 0.0 <= cfg.net.dropout < 1.0:
        raise GankitError(f"net.dropout must be in [0, 1), got {cfg.net.dropout}")
    from .augment import parse_policies
    parse_policies(cfg.loss.augment)
    from .registry import LOSSES, NETS, OBJECTIVES, REGULARIZERS
    LOSSES.entry(cfg.loss.name)
    NETS.entry(cfg.net.name)
    OBJECTIVES.entry(cfg.train.objective)
    if cfg.loss.reg != "none":
        REGULARIZERS.entry(cfg.loss.reg)
