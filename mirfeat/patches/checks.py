"""The parameter checks of the patch datasets and the work sampler (one line naming the parameter)."""

from __future__ import annotations

from typing import Any

import numpy as np

from pyjama_tools.core.errors import ParameterError


def positive_int(value: Any, name: str) -> int:
    """``value`` as an int when it is an integer (not a bool) >= 1, else :class:`ParameterError`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParameterError(f"{name} {value!r} must be a positive integer")
    return int(value)


def optional_bool(value: Any, name: str) -> bool | None:
    """``value`` as a bool, or None; anything else is a :class:`ParameterError`."""
    if value is not None and not isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"{name} {value!r} must be true, false or None")
    return None if value is None else bool(value)
