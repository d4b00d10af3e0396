"""A name → maker table filled by a decorator that fails loudly on a duplicate name.

The engine's loss presets and seed makers are registries of this kind, as torchvision's model
builders are: registering the same name twice is a programming error, caught at import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

Maker = TypeVar("Maker", bound=Callable)


class Registry(Generic[Maker]):
    def __init__(self, kind: str) -> None:
        self.kind = kind  # what an entry is, for messages: "loss preset", "seed type"
        self._makers: dict[str, Maker] = {}

    def register(self, name: str) -> Callable[[Maker], Maker]:
        """A decorator that files the decorated maker under ``name``; a duplicate raises ValueError."""
        def decorator(maker: Maker) -> Maker:
            if name in self._makers:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._makers[name] = maker
            return maker
        return decorator

    def __getitem__(self, name: str) -> Maker:
        if name not in self._makers:
            raise ValueError(f"unknown {self.kind} {name!r}; known: {', '.join(self._makers)}")
        return self._makers[name]

    def __contains__(self, name: object) -> bool:
        return name in self._makers

    def __iter__(self) -> Iterator[str]:
        return iter(self._makers)
