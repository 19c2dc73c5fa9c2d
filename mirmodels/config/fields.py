"""Value checks of the config fields, and the field spec that attaches one to a dataclass field.

A check takes the raw YAML value and returns the normalised value, or raises ValueError whose
text says what was expected ("expected a number > 0"); the section names the YAML path and the
value (``train.lr: expected a number > 0, got 'fast'``).
"""

from __future__ import annotations

import math
import re
from dataclasses import field
from typing import Any
from collections.abc import Callable, Mapping, Sequence

from pyjama_tools.core.registry import did_you_mean

__all__ = ["integer", "number", "decimal_text", "choice", "text", "boolean", "mapping", "n_out_value",
           "devices_value", "PRECISIONS", "precision_value", "limit_value", "spec", "unknown_key", "describe"]


def describe(value: Any) -> str:
    """How a value is shown in a message."""
    return repr(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def integer(minimum: int | None = None, optional: bool = False) -> Callable[[Any], Any]:
    """An int ``>= minimum`` (None allowed when ``optional``)."""
    def check(value: Any) -> Any:
        if value is None and optional:
            return None
        if not _is_int(value) or (minimum is not None and value < minimum):
            bound = f" >= {minimum}" if minimum is not None else ""
            raise ValueError(f"expected an integer{bound}{' or null' if optional else ''}")
        return value
    return check


# PyYAML reads YAML 1.1, where ``1e-3`` (no dot) is text, not a float; users write it for learning
# rates all the time, so a number field takes such text when it is a plain decimal literal.
_DECIMAL = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


def decimal_text(value: Any) -> Any:
    """``float(value)`` when ``value`` is text spelling a plain decimal number (``'1e-3'``), else
    ``value`` unchanged."""
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        return float(value)
    return value


def number(low: float | None = None, high: float | None = None, low_open: bool = False,
           high_open: bool = False, optional: bool = False) -> Callable[[Any], Any]:
    """A finite real number within bounds (None allowed when ``optional``); ``'1e-3'``, which
    PyYAML leaves as text, is read as the number it spells."""
    def check(value: Any) -> Any:
        if value is None and optional:
            return None
        value = decimal_text(value)
        ok = _is_number(value)
        if ok and low is not None:
            ok = value > low if low_open else value >= low
        if ok and high is not None:
            ok = value < high if high_open else value <= high
        if not ok:
            parts = []
            if low is not None:
                parts.append(f"{'>' if low_open else '>='} {low:g}")
            if high is not None:
                parts.append(f"{'<' if high_open else '<='} {high:g}")
            bound = (" " + " and ".join(parts)) if parts else ""
            raise ValueError(f"expected a number{bound}{' or null' if optional else ''}")
        return float(value)
    return check


def choice(options: Sequence[Any], aliases: Mapping[str, str] | None = None,
           optional: bool = False) -> Callable[[Any], Any]:
    """One of ``options`` (case-insensitive for text; ``aliases`` map other names onto them)."""
    def check(value: Any) -> Any:
        if value is None and optional:
            return None
        key = str(value).lower() if isinstance(value, (str, int, float)) and not isinstance(value, bool) else value
        if aliases and key in aliases:
            return aliases[key]
        for option in options:
            if key == (str(option).lower() if isinstance(option, str) else option):
                return option
        hint = did_you_mean(value, [str(o) for o in options], n=1)
        raise ValueError(f"expected one of {', '.join(map(str, options))}{hint}")
    return check


def text(optional: bool = False) -> Callable[[Any], Any]:
    """A non-empty string (None allowed when ``optional``)."""
    def check(value: Any) -> Any:
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip():
            raise ValueError("expected a non-empty string")
        return value
    return check


def boolean() -> Callable[[Any], Any]:
    """true or false."""
    def check(value: Any) -> Any:
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value
    return check


def mapping(optional: bool = True) -> Callable[[Any], Any]:
    """A mapping (None → empty dict)."""
    def check(value: Any) -> Any:
        if value is None and optional:
            return {}
        if not isinstance(value, Mapping):
            raise ValueError("expected a mapping")
        return dict(value)
    return check


def n_out_value(value: Any) -> Any:
    """``auto`` or an int >= 1."""
    if value is None or (isinstance(value, str) and value.lower() == "auto"):
        return "auto"
    if _is_int(value) and value >= 1:
        return value
    raise ValueError("expected an integer >= 1 or 'auto'")


def devices_value(value: Any) -> Any:
    """``auto``, an int >= 1 (or -1 = all), or a list of device indices."""
    if isinstance(value, str) and value.lower() == "auto":
        return "auto"
    if _is_int(value) and (value >= 1 or value == -1):
        return value
    if isinstance(value, list) and value and all(_is_int(v) and v >= 0 for v in value):
        return list(value)
    raise ValueError("expected 'auto', an integer >= 1 (-1 = all) or a list of device indices")


PRECISIONS = ("32", "32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64", "64-true")


def precision_value(value: Any) -> Any:
    """Lightning precision: 32, 64, 16-mixed, bf16-mixed, ... (ints are written as text)."""
    text_value = str(value) if not isinstance(value, bool) else ""
    if text_value in PRECISIONS:
        return text_value
    raise ValueError(f"expected one of {', '.join(PRECISIONS)}")


def limit_value(value: Any) -> Any:
    """Lightning ``limit_*_batches``: null, an int >= 1 (batches) or a fraction in (0, 1]."""
    if value is None:
        return None
    if _is_int(value) and value >= 1:
        return value
    if _is_number(value) and 0 < value <= 1:
        return float(value)
    raise ValueError("expected null, an integer >= 1 (batches) or a fraction in (0, 1]")


def spec(default: Any, check: Callable[[Any], Any], doc: str = "") -> Any:
    """A dataclass field with its ``default`` and the ``check`` that validates it (in ``metadata``)."""
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata={"check": check, "doc": doc})
    return field(default=default, metadata={"check": check, "doc": doc})


def unknown_key(path: str, key: str, known: Sequence[str]) -> str:
    """``<path>: unknown key (did you mean x?); allowed: a, b``."""
    return f"{path}: unknown key{did_you_mean(key, known, n=1)}; allowed: {', '.join(known)}"
