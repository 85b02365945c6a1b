"""One registry per extension point (nets, losses, datasets, objectives, presets ...).

A registry maps a name to a factory plus a one-line description. Unknown names raise a
GankitError that lists the choices, so the CLI never needs its own if/elif over names.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import GankitError


@dataclass
class Entry:
    name: str
    obj: Any
    help: str = ""
    meta: dict = field(default_factory=dict)


class Registry:
    def __init__(self, kind: str):
        self.kind = kind  # e.g. "net", used in messages
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, help: str = "", **meta) -> Callable:
        def deco(obj):
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            doc = help or (obj.__doc__ or "").strip().split("\n")[0]
            self._entries[name] = Entry(name, obj, doc, meta)
            return obj

        return deco

    def entry(self, name: str) -> Entry:
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise GankitError(
                f"unknown {self.kind} {name!r}{hint}; choose one of: {', '.join(self.names())}"
            )
        return self._entries[name]

    def get(self, name: str) -> Any:
        return self.entry(name).obj

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __iter__(self):
        return iter(self._entries[n] for n in self.names())


NETS = Registry("net")
LOSSES = Registry("loss")
REGULARIZERS = Registry("regularizer")
DATASETS = Registry("dataset")
OBJECTIVES = Registry("objective")
METRICS = Registry("metric")  # gankit eval --metrics: name -> metric function (gankit/metrics/evaluate.py)
EXTRACTORS = Registry("extractor")  # gankit eval --extractor: name -> feature extractor factory
