"""Small validators shared by the feature parameter dataclasses.

Each raises :class:`~pyjama_tools.errors.ParameterError` with one line naming the
feature, the parameter, the value and what is allowed.
"""

from __future__ import annotations

import math
from typing import Any

from pyjama_tools.errors import ParameterError


def _fail(feature: str, name: str, value: Any, allowed: str) -> None:
    raise ParameterError(f"{feature}: parameter {name}={value!r} is not allowed; {allowed}")


def positive_int(feature: str, name: str, value: Any, minimum: int = 1) -> None:
    """``value`` must be an int (not bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        _fail(feature, name, value, f"expected an integer >= {minimum}")


def finite_float(feature: str, name: str, value: Any, minimum: float = 0.0, strict: bool = True) -> None:
    """``value`` must be a finite real number > ``minimum`` (>= when ``strict`` is False)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = value > minimum if strict else value >= minimum
    if not ok:
        relation = ">" if strict else ">="
        _fail(feature, name, value, f"expected a finite number {relation} {minimum:g}")


def positive_tuple(feature: str, name: str, value: Any) -> None:
    """``value`` must be a non-empty tuple of finite numbers > 0 without duplicates."""
    if not isinstance(value, tuple) or not value:
        _fail(feature, name, value, "expected a non-empty tuple of positive numbers, e.g. 0.5,1,2")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item) or item <= 0:
            _fail(feature, name, value, f"every entry must be a finite number > 0 (bad entry {item!r})")
    if len(set(value)) != len(value):
        _fail(feature, name, value, "entries must be distinct")


def one_of(feature: str, name: str, value: Any, allowed: tuple[str, ...]) -> None:
    """``value`` must be one of ``allowed``."""
    if value not in allowed:
        _fail(feature, name, value, f"expected one of {', '.join(allowed)}")
