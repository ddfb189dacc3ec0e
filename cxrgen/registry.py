"""Small named registries (encoders, LLMs, modes, data sets) with did-you-mean errors.

Registration is checked (lowercase, unique) and each entry carries a one-line description;
``cxrgen list <registry>`` prints them. Entries are plain data; building happens in the modules
that own them, imported lazily so ``cxrgen list`` never imports torch.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, Generic, Iterator, TypeVar

from cxrgen.errors import ConfigError

T = TypeVar("T")
_VALID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._descriptions: dict[str, str] = {}

    def register(self, name: str, item: T, description: str) -> T:
        if not _VALID.match(name):
            raise ValueError(f"{self.kind} name {name!r} must be lowercase letters, digits, '.', '_' or '-'")
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._items[name] = item
        self._descriptions[name] = description
        return item

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._items, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown {self.kind} {name!r}{hint}; available: {', '.join(self._items)} "
                              f"(`cxrgen list {self.kind}s`)") from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def names(self) -> list[str]:
        return list(self._items)

    def describe(self) -> list[tuple[str, str]]:
        return [(n, self._descriptions[n]) for n in self._items]


@dataclass(frozen=True)
class Entry:
    """A generic registry entry: ``target`` is 'module:attr' imported only when used."""
    target: str
    info: dict[str, Any]

    def load(self) -> Any:
        import importlib
        mod, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(mod), attr)
