"""Checkpoints: one safetensors file per checkpoint, written atomically.

The file holds every tensor of the run (nets, EMA, optimiser state, RNG states) and, in the
safetensors header metadata, a JSON document with the step, the resolved config, the data shape
and everything else needed to rebuild the model or continue the run exactly. A checkpoint file
alone is enough to sample from: no run directory or code-side config needed.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from ..errors import GankitError

FORMAT = 1
_NAME = re.compile(r"^step-(\d+)\.safetensors$")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over `path`.

    A reader (or a run killed mid-write) sees either the old file or the complete new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    try:  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def pack_optimizer(name: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> dict:
    """Put an optimiser's tensor state into `tensors` as optim.NAME.IDX.KEY; return the JSON-able rest."""
    sd = opt.state_dict()
    scalars: dict = {}
    for idx, pstate in sd["state"].items():
        for k, v in pstate.items():
            if torch.is_tensor(v):
                tensors[f"optim.{name}.{idx}.{k}"] = v.detach().cpu().contiguous().clone()
            else:
                scalars.setdefault(str(idx), {})[k] = v
    return {"param_groups": sd["param_groups"], "scalars": scalars}


def unpack_optimizer(name: str, packed: dict, tensors: dict[str, torch.Tensor]) -> dict:
    """Inverse of pack_optimizer: a state dict for `Optimizer.load_state_dict`."""
    state: dict[int, dict] = {}
    prefix = f"optim.{name}."
    for key, t in tensors.items():
        if key.startswith(prefix):
            idx, k = key[len(prefix):].split(".", 1)
            state.setdefault(int(idx), {})[k] = t
    for idx, values in packed["scalars"].items():
        state.setdefault(int(idx), {}).update(values)
    return {"state": state, "param_groups": packed["param_groups"]}


def save_checkpoint(path: Path, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    meta = dict(meta, format=FORMAT)
    blob = st_save(tensors, metadata={"gankit": json.dumps(meta)})
    atomic_write_bytes(path, blob)


def load_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    path = Path(path)
    if not path.is_file():
        raise GankitError(f"checkpoint {path} not found")
    raw = path.read_bytes()
    try:
        tensors = st_load(raw)
        header_len = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8: 8 + header_len])
        meta = json.loads(header["__metadata__"]["gankit"])
    except (SafetensorError, ValueError, KeyError, TypeError) as e:
        raise GankitError(f"{path} is not a gankit checkpoint or is damaged ({type(e).__name__}); use another "
                          f"checkpoint from the same run")
    return tensors, meta


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"step-{step:07d}.safetensors"


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    folder = Path(run_dir) / "checkpoints"
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return sorted(found)


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1][1] if found else None


def prune(run_dir: Path, keep: int) -> None:
    for _, p in list_checkpoints(run_dir)[:-keep]:
        p.unlink(missing_ok=True)


def resolve_checkpoint(path_or_run: str | Path) -> Path:
    """A checkpoint file, or a run directory (its newest checkpoint)."""
    p = Path(path_or_run)
    if p.is_file():
        return p
    if p.is_dir():
        ckpt = latest_checkpoint(p)
        if ckpt is None:
            raise GankitError(f"no checkpoint in {p / 'checkpoints'}; train first (gankit train --out {p}) or "
                              f"pass a .safetensors checkpoint")
        return ckpt
    raise GankitError(f"{p} does not exist; pass a run directory or a .safetensors checkpoint")
