"""Load a trained generator from a checkpoint file (or a run directory) and sample from it."""
from __future__ import annotations

from pathlib import Path

import torch

from .config import RunConfig
from .data import to_uint8
from .errors import GankitError
from .objectives import DataInfo
from .training import checkpoint as ck
from .training.loop import build_objective, resolve_device


class Generator:
    """A trained G (its EMA weights when the run kept an EMA), in eval mode.

    >>> g = Generator.load("runs/digits")            # doctest: +SKIP
    >>> images = g.sample(16, seed=0)                # (16, C, H, W) floats in [-1, 1]
    """

    def __init__(self, net: torch.nn.Module, objective, cfg: RunConfig, info: DataInfo, meta: dict,
                 device: torch.device):
        self.net, self.objective, self.cfg, self.info, self.meta, self.device = net, objective, cfg, info, meta, device

    @classmethod
    def load(cls, path: str | Path, device: str = "auto", ema: bool = True) -> "Generator":
        path = ck.resolve_checkpoint(path)
        tensors, meta = ck.load_checkpoint(path)
        cfg = RunConfig.from_dict(meta["config"])
        info = DataInfo.from_dict(meta["data_info"])
        objective = build_objective(cfg, info)
        name = meta.get("ema_net", objective.ema_net)
        prefix = "ema." if ema and any(k.startswith("ema.") for k in tensors) else f"nets.{name}."
        net = objective.nets[name]
        try:
            net.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
        except RuntimeError as e:
            raise GankitError(f"{path} does not match the {cfg.net.name} net of this gankit version "
                              f"({str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else e}); "
                              f"sample it with the gankit version that wrote it ({meta.get('gankit_version')})")
        dev = resolve_device(device)
        meta["checkpoint"] = str(path)
        return cls(net.to(dev).eval().requires_grad_(False), objective, cfg, info, meta, dev)

    @property
    def num_classes(self) -> int:
        return self.info.num_classes if self.cfg.net.conditional else 0

    def _labels(self, n: int, labels, generator: torch.Generator) -> torch.Tensor | None:
        if not self.num_classes:
            if labels is not None:
                raise GankitError("this generator is not conditional; drop --label")
            return None
        if labels is None:
            return torch.randint(0, self.num_classes, (n,), generator=generator)
        y = torch.as_tensor(labels).long().expand(n) if torch.as_tensor(labels).dim() == 0 else \
            torch.as_tensor(labels).long()
        if y.min() < 0 or y.max() >= self.num_classes:
            raise GankitError(f"label {int(y.max())} out of range: this generator knows classes 0..{self.num_classes - 1}")
        return y

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0, labels=None, batch_size: int = 500, z: torch.Tensor | None = None,
               return_labels: bool = False):
        """n samples as float tensors on the CPU: images (n, C, H, W) in [-1, 1] or vectors (n, D)."""
        g = torch.Generator().manual_seed(seed)
        if z is None:
            z = torch.randn(n, self.objective.z_dim, generator=g)
        y = self._labels(n, labels, g)
        out = []
        for i in range(0, n, batch_size):
            zi = z[i:i + batch_size].to(self.device)
            yi = None if y is None else y[i:i + batch_size].to(self.device)
            out.append(self.objective.generate(self.net, {"z": zi, "y": yi}).float().cpu())
        x = torch.cat(out) if out else torch.empty(0)
        return (x, y) if return_labels else x

    def sample_uint8(self, n: int, seed: int = 0, labels=None):
        """(images uint8 (n, H, W, C), labels or None): the .npz layout of `gankit sample`."""
        x, y = self.sample(n, seed, labels, return_labels=True)
        if x.dim() != 4:
            raise GankitError("this generator makes vectors, not images; write them to .npz with gankit sample")
        return to_uint8(x).permute(0, 2, 3, 1).contiguous(), y

    def interpolate(self, rows: int = 8, steps: int = 10, seed: int = 0, mode: str = "slerp", labels=None):
        """rows x steps images along paths between random latent pairs -> (rows * steps, C, H, W)."""
        g = torch.Generator().manual_seed(seed)
        a = torch.randn(rows, self.objective.z_dim, generator=g)
        b = torch.randn(rows, self.objective.z_dim, generator=g)
        t = torch.linspace(0, 1, steps)[None, :, None]  # (1, steps, 1)
        if mode == "slerp":
            # Gaussian latents concentrate on a sphere; slerp keeps the path on it (White 2016).
            an, bn = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
            omega = torch.acos((an * bn).sum(1).clamp(-1 + 1e-7, 1 - 1e-7))[:, None, None]
            so = torch.sin(omega)
            z = (torch.sin((1 - t) * omega) / so) * a[:, None] + (torch.sin(t * omega) / so) * b[:, None]
        elif mode == "lerp":
            z = (1 - t) * a[:, None] + t * b[:, None]
        else:
            raise GankitError(f"unknown interpolation mode {mode!r}; choose slerp or lerp")
        z = z.reshape(rows * steps, -1)
        if self.num_classes:
            y = (torch.arange(rows) % self.num_classes).repeat_interleave(steps) if labels is None else labels
        else:
            y = labels
        return self.sample(rows * steps, seed, labels=y, z=z)
