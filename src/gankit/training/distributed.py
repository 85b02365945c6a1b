"""Multi-process training with PyTorch's own engine: `torchrun --nproc-per-node K -m gankit train ...`.

Each rank holds the same nets and draws its slice of the same global batch (data and noise), so K
processes with global batch B follow the single-process run with batch B. Gradients are averaged
with one all-reduce per phase (as stylegan2-ada does, instead of wrapping G and D in
DistributedDataParallel, whose gradient hooks do not fit GAN phases that freeze one net while the
other learns). Rank 0 alone writes checkpoints, samples and logs.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist

from ..errors import GankitError


def requested() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device_name: str) -> torch.device | None:
    """Join the process group torchrun set up; returns this rank's device (None when not distributed)."""
    if not requested():
        return None
    cuda = torch.cuda.is_available() and device_name != "cpu"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return torch.device("cpu")


def world() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def local_batch(global_batch: int) -> int:
    k = world()
    if global_batch % k:
        raise GankitError(f"batch size {global_batch} does not split over {k} processes; use a multiple of {k}")
    return global_batch // k


def shard(x: torch.Tensor) -> torch.Tensor:
    """This rank's slice (along dim 0) of a tensor every rank computed identically."""
    k = world()
    return x if k == 1 else x.chunk(k)[rank()]


def randn(n_local: int, *shape, device=None) -> torch.Tensor:
    """Normal noise for this rank's slice of the global batch: every rank draws the global batch from
    the same RNG state and keeps its part, so the RNG advances identically everywhere."""
    return shard(torch.randn(n_local * world(), *shape, device=device))


def average_gradients(params) -> None:
    """Mean of each gradient over the ranks, in one flat all-reduce."""
    k = world()
    if k == 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= k
    offset = 0
    for g in grads:
        g.copy_(flat[offset: offset + g.numel()].view_as(g))
        offset += g.numel()


def any_rank(flag: bool, device) -> bool:
    """True if `flag` is true on any rank (a stop request, a non-finite loss)."""
    if world() == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def barrier() -> None:
    if world() > 1:
        dist.barrier()


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
