"""Metrics of image-to-image translation: pixel agreement with paired targets (L1, PSNR, SSIM) and a
small classifier for what pixels cannot say (does the output look like the target domain? how far
are the outputs' features from the real targets'?).

- `pixel_metrics`: L1 in [-1, 1] units, PSNR (dB) and SSIM from scikit-image, per image then averaged.
- `TranslationClassifier`: a small CNN that gankit trains on real training images and caches; its
  penultimate 128-d features give a Fréchet distance (`fid_clf`, via metrics.distances) and its
  predictions the share of translations classified as the target domain (`domain_acc`). It is
  trained on the data's class labels when the data have them (edges2fashion: the 10 garment
  classes, so its features know garments) and on the domain (A vs B) otherwise.

Numbers from the classifier are comparable only when the same classifier (its `weights_hash`)
measured them; its hash, its accuracy on real held-out images and the image counts are reported
with every result.
"""
from __future__ import annotations

import hashlib
import json
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GankitError


def pixel_metrics(outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """uint8 images (N, C, H, W) -> {'l1': mean |out - tgt| on the [-1, 1] scale, 'psnr': mean per-image
    PSNR in dB (data range 255), 'ssim': mean per-image SSIM (scikit-image, 7x7 Gaussian-free window,
    colour images averaged over channels)}."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    if outputs.shape != targets.shape or outputs.dtype != torch.uint8 or targets.dtype != torch.uint8:
        raise GankitError(f"pixel metrics compare uint8 images of one shape, got {tuple(outputs.shape)} "
                          f"{outputs.dtype} and {tuple(targets.shape)} {targets.dtype}")
    out, tgt = outputs.numpy(), targets.numpy()
    l1 = float(np.abs(out.astype(np.float64) - tgt).mean() / 127.5)
    colour = out.shape[1] == 3
    psnr, ssim = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # identical images: PSNR = inf, reported as such
        for o, t in zip(out, tgt):
            o, t = (o, t) if colour else (o[0], t[0])
            psnr.append(peak_signal_noise_ratio(t, o, data_range=255))
            ssim.append(structural_similarity(t, o, data_range=255, channel_axis=0 if colour else None))
    return {"l1": l1, "psnr": float(np.mean(psnr)), "ssim": float(np.mean(ssim))}


class _CNN(nn.Module):
    """(B, C, S, S) in [-1, 1] -> logits (B, K); `features` is the 128-d penultimate layer."""

    def __init__(self, channels: int, classes: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 16, S/2, S/2)
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 32, S/4, S/4)
            nn.AdaptiveAvgPool2d(8), nn.Flatten(), nn.Linear(32 * 64, 128), nn.ReLU())  # (B, 128)
        self.head = nn.Linear(128, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _digest(*tensors) -> str:
    h = hashlib.sha256()
    for t in tensors:
        t = t.contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


class TranslationClassifier:
    """A small CNN trained on uint8 images (N, C, S, S) with int labels (N,), cached by content.

    Training: Adam 1e-3, batch 128, `epochs` passes over at most `max_train` images (a seeded
    subset), deterministic for a seed on the CPU. Weights are cached as safetensors in
    $GANKIT_CACHE/translation under a hash of the images, labels and recipe.
    """

    RECIPE = {"arch": "cnn-16-32-128", "lr": 1e-3, "batch_size": 128, "format": 1}

    def __init__(self, x: torch.Tensor, y: torch.Tensor, classes: list[str], kind: str, seed: int = 0,
                 epochs: int = 3, max_train: int = 20_000, device="cpu", log=None):
        from ..data.translation import _cache_dir

        log = log or (lambda msg: None)
        self.classes, self.kind, self.device = list(classes), kind, torch.device(device)
        g = torch.Generator().manual_seed(seed)
        perm = torch.randperm(len(x), generator=g)
        cut = max(1, len(x) // 10)  # 10% held out (seeded) to state the classifier's accuracy
        test, train = perm[:cut], perm[cut:][:max_train]
        key = hashlib.sha256(json.dumps({**self.RECIPE, "seed": seed, "epochs": epochs, "max_train": max_train,
                                         "data": _digest(x, y)}, sort_keys=True).encode()).hexdigest()[:24]
        self.path = _cache_dir() / f"classifier-{kind}-{key}.safetensors"
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = _CNN(x.shape[1], len(classes))
        if not self._load():
            log(f"training a {kind} classifier ({len(classes)} classes) on {len(train)} real images, {epochs} epochs ...")
            self._train(x[train], y[train], epochs, seed)
            self.accuracy = float((self.predict(x[test]) == y[test]).double().mean())
            self._save()
        self.accuracy_on = f"{cut} held-out real training images"
        self.net.to(self.device).eval().requires_grad_(False)
        self.weights_hash = _digest(*[v for _, v in sorted(self.net.state_dict().items())])[:16]

    def _train(self, x, y, epochs, seed) -> None:
        net = self.net.to(self.device).train()
        opt = torch.optim.Adam(net.parameters(), lr=self.RECIPE["lr"])
        g = torch.Generator().manual_seed(seed + 1)
        bs = self.RECIPE["batch_size"]
        for _ in range(epochs):
            perm = torch.randperm(len(x), generator=g)
            for s in range(0, len(x), bs):
                idx = perm[s:s + bs]
                xb = x[idx].to(self.device).float() / 127.5 - 1.0
                loss = F.cross_entropy(net(xb), y[idx].to(self.device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        net.eval()

    def _save(self) -> None:
        from safetensors.torch import save

        from ..training.checkpoint import atomic_write_bytes

        state = {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        try:
            atomic_write_bytes(self.path, save(state, metadata={"accuracy": repr(self.accuracy)}))
        except OSError:
            pass  # a read-only cache only costs time

    def _load(self) -> bool:
        if not self.path.is_file():
            return False
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(self.path), framework="pt") as f:
                self.accuracy = float(f.metadata()["accuracy"])
                state = {k: f.get_tensor(k) for k in f.keys()}
            self.net.load_state_dict(state)
        except (SafetensorError, OSError, KeyError, ValueError, RuntimeError, TypeError):
            return False  # damaged or foreign: train again and overwrite it
        return True

    @torch.no_grad()
    def _run(self, x: torch.Tensor, part, batch: int = 1000) -> torch.Tensor:
        self.net.eval()
        return torch.cat([part(x[s:s + batch].to(self.device).float() / 127.5 - 1.0).double().cpu()
                          for s in range(0, len(x), batch)])

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 (N, C, S, S) -> predicted class ids (N,)."""
        return self._run(x, self.net).argmax(1)

    def features(self, x: torch.Tensor) -> np.ndarray:
        """uint8 (N, C, S, S) -> float64 penultimate features (N, 128)."""
        return self._run(x, self.net.body).numpy()

    def describe(self) -> dict:
        return {"kind": self.kind, "classes": len(self.classes), "accuracy": round(self.accuracy, 4),
                "accuracy_on": self.accuracy_on, "weights_hash": self.weights_hash}
