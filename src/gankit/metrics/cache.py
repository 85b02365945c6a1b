"""Reference features and statistics, cached on disk and keyed by everything that produced them.

A cache entry is one .npz under $GANKIT_CACHE/stats (default ~/.cache/gankit/stats) holding the
reference set's features (float32 as the network made them, or float64 for raw vectors), their
mean and covariance (float64), and class probabilities when the extractor has them. Its key is a
sha256 over:

    the data's content hash (sha256 of the uint8 image bytes, their shape, and the labels),
    the reference spec and split, the extractor's name and weights hash, the preprocessing
    protocol, the number of samples, and the cache format version.

So changing one pixel, a label, the weights, the resize rule or the count gives a new key and
fresh statistics; a stale entry is never returned. The fields are also stored in the file and
compared on load, so a damaged or colliding file is recomputed rather than trusted. Writes are
atomic (temporary file, then os.replace), so a crash never leaves half a file under a valid name.
"""
from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..errors import GankitError
from .distances import feature_stats
from .extractors import cache_root

FORMAT = 1  # bump when the file layout or what a key means changes


def content_hash(x, y=None) -> str:
    """sha256 hex digest of a data tensor's bytes, dtype and shape, plus its labels (or their absence)."""
    h = hashlib.sha256()
    for t in (x, y):
        if t is None:
            h.update(b"none")
            continue
        a = t.detach().cpu().contiguous().numpy() if isinstance(t, torch.Tensor) else np.ascontiguousarray(t)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def stats_key(fields: dict) -> str:
    """The cache key (hex) of a dict of JSON-serialisable fields; order does not matter."""
    return hashlib.sha256(json.dumps({**fields, "format": FORMAT}, sort_keys=True).encode()).hexdigest()


class StatsCache:
    """npz files of reference features/statistics in one folder (default $GANKIT_CACHE/stats)."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root).expanduser() if root else cache_root() / "stats"

    def path(self, fields: dict) -> Path:
        tag = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(fields.get("extractor", "ref")))
        return self.root / f"{tag}-{stats_key(fields)[:32]}.npz"

    def load(self, fields: dict) -> dict[str, np.ndarray] | None:
        """The arrays stored for exactly these fields, or None (missing, damaged or not matching)."""
        p = self.path(fields)
        if not p.is_file():
            return None
        try:
            with np.load(p, allow_pickle=False) as z:
                stored = json.loads(str(z["fields"]))
                if stored != json.loads(json.dumps({**fields, "format": FORMAT})):
                    return None
                return {k: z[k] for k in z.files if k != "fields"}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
            return None

    def save(self, fields: dict, arrays: dict[str, np.ndarray]) -> Path:
        """Write atomically: a temporary file in the same folder, then os.replace."""
        p = self.path(fields)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.stem}.tmp{os.getpid()}.npz")
        try:
            with open(tmp, "wb") as f:
                np.savez(f, fields=np.array(json.dumps({**fields, "format": FORMAT})), **arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, p)
        finally:
            tmp.unlink(missing_ok=True)
        return p


def reference_stats(extractor, x, y, spec: str, cache: StatsCache | None = None,
                    log: Callable[[str], None] | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """Features, mean, covariance (and class probabilities) of a reference set, from the cache when
    an entry with the same key exists, else computed and stored.

    Args:
        extractor: an extractor (`.name`, `.weights_hash`, `.protocol`, `.features`, optional
            `.predict_proba` with `.has_probs`), or None for raw vectors (features = x itself).
        x: the reference data exactly as measured: uint8 images (N, C, H, W) or float vectors (N, D).
        y: labels (N,) or None (part of the key).
        spec: the reference spec with its split, e.g. 'digits:test'.
        cache: where entries live; None computes without caching.

    Returns:
        (arrays, info): arrays has 'features' (N, D), 'mu' (D,), 'sigma' (D, D) and, when the
        extractor gives them, 'probs' (N, K); info has 'key', 'hit' (bool) and 'fields'.
    """
    if len(x) < 2:
        raise GankitError(f"the reference {spec} has {len(x)} sample(s); statistics need at least 2")
    fields = {
        "data": content_hash(x, y),
        "spec": spec,
        "extractor": extractor.name if extractor is not None else "raw",
        "weights_hash": extractor.weights_hash if extractor is not None else "",
        "protocol": extractor.protocol if extractor is not None else "raw float vectors",
        "count": int(len(x)),
        "probs": bool(getattr(extractor, "has_probs", False)),
    }
    info = {"key": stats_key(fields)[:16], "fields": fields, "hit": False}
    if cache is not None:
        arrays = cache.load(fields)
        if arrays is not None:
            info["hit"] = True
            return arrays, info
    if log and extractor is not None:
        log(f"computing {extractor.name} features of {len(x)} reference images ({spec}) ...")
    if extractor is None:
        feats = np.asarray(x.numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    else:
        feats = extractor.features(x)
    mu, sigma = feature_stats(feats)
    # Network features are float32 values: storing them as float32 loses nothing and halves the file.
    stored = feats.astype(np.float32) if extractor is not None else feats
    arrays = {"features": stored, "mu": mu, "sigma": sigma}
    if getattr(extractor, "has_probs", False):
        arrays["probs"] = extractor.predict_proba(x)
    if cache is not None:
        cache.save(fields, arrays)
    return arrays, info
