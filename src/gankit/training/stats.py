"""Statistics are reported, not threaded through (stylegan2-ada's training_stats idea).

Any part calls `report(name, tensor)`; values are summed on their device with no host sync, and
the loop calls `collector.flush()` every N steps, which reads everything back in one transfer.
"""
from __future__ import annotations

import torch

_active: "Collector | None" = None


class Collector:
    def __init__(self):
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}

    def add(self, name: str, value) -> None:
        v = value.detach().float().mean() if torch.is_tensor(value) else torch.tensor(float(value))
        if name in self._sums:
            self._sums[name] = self._sums[name] + v
            self._counts[name] += 1
        else:
            self._sums[name], self._counts[name] = v, 1

    def flush(self) -> dict[str, float]:
        """Means since the last flush, as Python floats (one device-to-host copy)."""
        if not self._sums:
            return {}
        names = list(self._sums)
        values = torch.stack([self._sums[n].to(self._sums[names[0]].device) for n in names]).cpu().tolist()
        out = {n: v / self._counts[n] for n, v in zip(names, values)}
        self._sums.clear()
        self._counts.clear()
        return out

    def __enter__(self):
        global _active
        self._previous, _active = _active, self
        return self

    def __exit__(self, *exc):
        global _active
        _active = self._previous


def report(name: str, value) -> None:
    """Record a statistic if a collector is active (a no-op otherwise, e.g. in unit tests)."""
    if _active is not None:
        _active.add(name, value)
