"""One registry of named plug-ins (converters, features, layers, tasks, ...), with suggestions.

>>> CONVERTERS = Registry("corpus")
>>> @CONVERTERS.register("gtzan")
... class GtzanConverter: ...
>>> CONVERTERS.lookup("gtzn")
MirError: unknown corpus 'gtzn' (did you mean gtzan?); known: gtzan

A registry is a read-only mapping ``name -> item``; names may have aliases, which resolve to the
same item but are not listed among the names.
"""

from __future__ import annotations

import difflib
from contextlib import contextmanager
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Generic, TypeVar

from pyjama_tools.core.errors import MirError

__all__ = ["Registry", "close_names", "did_you_mean"]

T = TypeVar("T")


def close_names(name: object, candidates: Iterable[str], n: int = 3, cutoff: float = 0.6) -> list[str]:
    """Up to ``n`` of ``candidates`` close to ``name`` (``difflib``; a case slip counts as close)."""
    text, candidates = str(name), [str(c) for c in candidates]
    close = difflib.get_close_matches(text, candidates, n=n, cutoff=cutoff)
    return close or [known for known in candidates if known.lower() == text.lower()][:1]


def did_you_mean(name: object, candidates: Iterable[str], n: int = 3, cutoff: float = 0.6, quote: bool = False) -> str:
    """``" (did you mean a, b?)"`` for ``name`` among ``candidates`` (names ``repr``-quoted when ``quote``),
    or ``""`` when nothing is close: the suggestion of every one-line "unknown name" error."""
    close = close_names(name, candidates, n, cutoff)
    shown = [repr(c) for c in close] if quote else close
    return f" (did you mean {', '.join(shown)}?)" if close else ""


class Registry(Mapping[str, T], Generic[T]):
    """Named items of one kind, registered by decorator, found with a "did you mean" on a miss.

    Parameters
    ----------
    kind : str
        What an item is, in messages: ``"corpus"`` gives ``unknown corpus 'x'``.
    error : type of MirError
        The exception :meth:`lookup` raises (``ParameterError`` for parameters, say).
    fold_case : bool
        Resolve names case-insensitively (``"Adam"`` finds ``adam``).
    cutoff : float
        How close (``difflib`` ratio, 0 to 1) a name must be to be suggested.
    """

    def __init__(self, kind: str, error: type[MirError] = MirError, fold_case: bool = False, cutoff: float = 0.6):
        self.kind = kind
        self.error = error
        self.fold_case = fold_case
        self.cutoff = cutoff
        self._items: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    # ---- registering
    def _key(self, name: str) -> str:
        """``name`` as compared: lower-cased when the registry folds case."""
        return name.lower() if self.fold_case else name

    def _taken(self, name: str) -> tuple[str, str] | None:
        """``("name", known)`` or ``("alias", known)`` when ``name`` (folded when the registry folds case)
        is already a registered name or alias, else None."""
        key = self._key(name)
        for role, table in (("name", self._items), ("alias", self._aliases)):
            for known in table:
                if self._key(known) == key:
                    return role, known
        return None

    def add(self, name: str, item: T, aliases: tuple[str, ...] = (), replace: bool = False) -> T:
        """Register ``item`` under ``name`` (and ``aliases``).

        A name or alias that is already a name or an alias (compared after folding when ``fold_case``)
        is refused with a one-line :class:`MirError`; re-registering the same item under the same name is
        accepted, and ``replace=True`` puts another item under a taken name.
        """
        taken = self._taken(name)
        if taken is not None:
            role, known = taken
            if role == "alias" or known != name:
                raise MirError(f"{self.kind} name {name!r} is already registered as {role} {known!r}"
                               f"{f' (of {self._aliases[known]!r})' if role == 'alias' else ''}")
            existing = self._items[name]
            if existing is not item and not replace:
                raise MirError(f"{self.kind} name {name!r} is already registered (to {existing!r}); pass replace=True")
        for alias in aliases:
            taken = self._taken(alias)
            if taken is None or (taken == ("alias", alias) and self._aliases[alias] == name):
                continue
            role, known = taken
            raise MirError(f"{self.kind} alias {alias!r} of {name!r} is already registered as {role} {known!r}"
                           f"{f' (of {self._aliases[known]!r})' if role == 'alias' else ''}")
        if len({self._key(a) for a in aliases} | {self._key(name)}) != len(aliases) + 1:
            raise MirError(f"{self.kind} name {name!r}: its aliases {list(aliases)} repeat a name or an alias")
        self._items[name] = item
        for alias in aliases:
            self._aliases[alias] = name
        return item

    def register(self, name: str | None = None, *aliases: str, replace: bool = False) -> Callable[[T], T]:
        """Decorator form of :meth:`add`; without ``name`` the item's ``name`` attribute is used."""

        def decorate(item: T) -> T:
            if name is None and not isinstance(getattr(item, "name", None), str):
                raise MirError(f"{self.kind} {item!r}: register() without a name needs an item with a "
                               f"string 'name' attribute")
            return self.add(name if name is not None else item.name, item, aliases, replace)

        return decorate

    @contextmanager
    def scoped(self) -> Iterator[Registry[T]]:
        """A block whose registrations are undone at its end (a test's temporary plug-in).

        >>> with FEATURES.scoped():
        ...     FEATURES.add("toy", ToyFeature)   # gone after the block
        The registry is restored in place, so every module holding it sees the same object.
        """
        items, aliases = dict(self._items), dict(self._aliases)
        try:
            yield self
        finally:
            self._items.clear()
            self._items.update(items)
            self._aliases.clear()
            self._aliases.update(aliases)

    # ---- finding
    def resolve(self, name: object) -> str | None:
        """The registered name that ``name`` (a name or an alias) stands for, else None."""
        if not isinstance(name, str):
            return None
        if name in self._items:
            return name
        if name in self._aliases:
            return self._aliases[name]
        if self.fold_case:
            folded = name.lower()
            for known in (*self._items, *self._aliases):
                if known.lower() == folded:
                    return self.resolve(known)
        return None

    def suggest(self, name: object, n: int = 3, cutoff: float | None = None) -> list[str]:
        """Up to ``n`` registered names or aliases close to ``name`` (``cutoff``: the registry's by default)."""
        return close_names(name, [*self._items, *self._aliases], n, self.cutoff if cutoff is None else cutoff)

    def hint(self, name: object, n: int = 3, cutoff: float | None = None) -> str:
        """``" (did you mean a, b?)"`` for ``name``, or ``""`` when nothing is close."""
        return did_you_mean(name, [*self._items, *self._aliases], n, self.cutoff if cutoff is None else cutoff)

    def unknown(self, name: object, where: str = "") -> MirError:
        """The one-line error of an unknown ``name`` (``where`` prefixes it, e.g. ``"exp.yaml: "``)."""
        return self.error(f"{where}unknown {self.kind} {name!r}{self.hint(name)}; known: {', '.join(self.names())}")

    def lookup(self, name: object, where: str = "") -> T:
        """The item registered as ``name``; an unknown name raises :meth:`unknown`."""
        resolved = self.resolve(name)
        if resolved is None:
            raise self.unknown(name, where)
        return self._items[resolved]

    def names(self) -> list[str]:
        """The registered names (aliases left out), sorted."""
        return sorted(self._items)

    # ---- Mapping
    def __getitem__(self, name: str) -> T:
        resolved = self.resolve(name)
        if resolved is None:
            raise KeyError(name)
        return self._items[resolved]

    def __contains__(self, name: object) -> bool:
        return self.resolve(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self.names())})"
