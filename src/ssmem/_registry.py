"""A small name → object registry, filled where things are defined and enumerated by tests.

Every registry in ssmem (eigenvalue sets, recipes, data sets, experiments, ...) is a :class:`Registry`:
it refuses duplicate names and answers an unknown name with an error that lists the valid ones.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError, ValueError):
    """An unknown name was asked of a registry; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class Registry(Generic[T]):
    """Maps names to objects of one kind (``what`` names the kind in error messages)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        if name in self._items:
            raise ValueError(f"{self.what} {name!r} is already registered")
        self._items[name] = item
        return item

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def decorate(item: T) -> T:
            return self.add(name, item)

        return decorate

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        valid = ", ".join(sorted(self._items))
        # names that contain it (a part such as 'path' of 'lra/pathx'), else the closest spelling
        containing = [n for n in sorted(self._items) if isinstance(name, str) and name and name in n]
        close = containing if 0 < len(containing) <= 5 else difflib.get_close_matches(str(name), list(self._items), n=1)
        if len(close) > 1:
            hint = f" Did you mean one of {', '.join(map(repr, close))}?"
        else:
            hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"unknown {self.what} {name!r}; valid choices: {valid}.{hint}"

    def names(self) -> list[str]:
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._items.items())

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
