"""Small parameter validators shared by the parameter dataclasses (features, tasks, configuration).

Each raises :class:`~pyjama_tools.core.errors.ParameterError` with one line naming the
owner (a feature, a task), the parameter, the value and what is allowed.
"""

from __future__ import annotations

import math
from typing import Any

from pyjama_tools.core.errors import ParameterError


def _fail(owner: str, name: str, value: Any, allowed: str) -> None:
    raise ParameterError(f"{owner}: parameter {name}={value!r} is not allowed; {allowed}")


def positive_int(owner: str, name: str, value: Any, minimum: int = 1) -> None:
    """``value`` must be an int (not bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        _fail(owner, name, value, f"expected an integer >= {minimum}")


def finite_float(owner: str, name: str, value: Any, minimum: float = 0.0, strict: bool = True) -> None:
    """``value`` must be a finite real number > ``minimum`` (>= when ``strict`` is False)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = value > minimum if strict else value >= minimum
    if not ok:
        relation = ">" if strict else ">="
        _fail(owner, name, value, f"expected a finite number {relation} {minimum:g}")


def positive_tuple(owner: str, name: str, value: Any) -> None:
    """``value`` must be a non-empty tuple of finite numbers > 0 without duplicates."""
    if not isinstance(value, tuple) or not value:
        _fail(owner, name, value, "expected a non-empty tuple of positive numbers, e.g. 0.5,1,2")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item) or item <= 0:
            _fail(owner, name, value, f"every entry must be a finite number > 0 (bad entry {item!r})")
    if len(set(value)) != len(value):
        _fail(owner, name, value, "entries must be distinct")


def one_of(owner: str, name: str, value: Any, allowed: tuple[str, ...]) -> None:
    """``value`` must be one of ``allowed``."""
    if value not in allowed:
        _fail(owner, name, value, f"expected one of {', '.join(allowed)}")


def check_number(name: str, value: Any, low: float, high: float | None = None, low_inclusive: bool = True,
                 allow_none: bool = False) -> None:
    """``value`` must be a finite number >= ``low`` (> when not ``low_inclusive``) and < ``high``.

    Raises
    ------
    ParameterError
        ``NAME=VALUE: expected a number >= LOW and < HIGH``.
    """
    if value is None and allow_none:
        return
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if ok:
        ok = value >= low if low_inclusive else value > low
        if high is not None:
            ok = ok and value < high
    if not ok:
        bound = f"{'>=' if low_inclusive else '>'} {low}" + (f" and < {high}" if high is not None else "")
        raise ParameterError(f"{name}={value!r}: expected a number {bound}")
