"""Features: one module per feature, each registering a :class:`~mirfeat.features.base.Feature`.

Use :func:`build_feature` to get a configured feature from a name and parameters given as Python
objects or as strings (``--param KEY=VALUE`` on the command line, YAML scalars)::

    >>> from mirfeat.features import build_feature
    >>> hcqt = build_feature("hcqt", {"harmonics": "0.5,1,2", "hop_length": "256"})
    >>> value = hcqt.compute(audio, sr)          # FeatureValue: value (3, 360, T)

The torch backend (batched, CPU or CUDA) is :func:`mirfeat.features.torch_backend.compute_batch`;
a feature with a torch variant holds it in its own module (``torch_value`` of a
:class:`~mirfeat.features.torch_variant.TorchVariant` feature) and computes with ``compute_torch``.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any
from collections.abc import Callable

from mirfeat.features import chroma, cqt, hcqt, lms, stft, waveform  # noqa: F401  (registration)
from mirfeat.features.base import (
    FEATURES,
    BadAudioError,
    Feature,
    FeatureParams,
    FeatureValue,
    feature_names,
    get_feature_class,
    register_feature,
)
from pyjama_tools.core.errors import ParameterError
from pyjama_tools.core.registry import did_you_mean

__all__ = [
    "BadAudioError",
    "FEATURES",
    "Feature",
    "FeatureParams",
    "FeatureValue",
    "build_feature",
    "coerce_params",
    "feature_names",
    "get_feature_class",
    "register_feature",
]

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return int(value.strip())
    raise ValueError("expected an integer")


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return float(value.strip())
    raise ValueError("expected a number")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError("expected true or false")


def _to_optional_int(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null", "")):
        return None
    return _to_int(value)


def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise ValueError("expected a string")


def _to_float_tuple(value: Any) -> tuple[float, ...]:
    if isinstance(value, str):
        items = [item for item in value.replace("(", "").replace(")", "").replace("[", "").replace("]", "").split(",")]
        if any(not item.strip() for item in items):
            raise ValueError("expected a comma-separated list of numbers, e.g. 0.5,1,2")
        return tuple(float(item) for item in items)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (float(value),)
    if isinstance(value, (list, tuple)):
        return tuple(_to_float(item) for item in value)
    raise ValueError("expected a comma-separated list of numbers, e.g. 0.5,1,2")


# field type → coercer (a registry: a new parameter type is one new entry)
COERCERS: dict[Any, Callable[[Any], Any]] = {
    int: _to_int,
    int | None: _to_optional_int,
    float: _to_float,
    bool: _to_bool,
    str: _to_str,
    tuple[float, ...]: _to_float_tuple,
}


def coerce_params(feature: str, params_class: type[FeatureParams], params: dict[str, Any] | None) -> FeatureParams:
    """Build ``params_class`` from a dict of Python objects or strings, coercing to the field types.

    Raises
    ------
    ParameterError
        Naming the feature and the parameter for unknown keys, uncoercible values and values the
        dataclass rejects.
    """
    if params is not None and not isinstance(params, dict):
        raise ParameterError(f"{feature}: parameters must be a mapping of name: value, got {type(params).__name__} "
                             f"{params!r}")
    params = dict(params or {})
    hints = typing.get_type_hints(params_class)
    fields = {field.name: hints[field.name] for field in dataclasses.fields(params_class)}
    values: dict[str, Any] = {}
    for key, raw in params.items():
        if key not in fields:
            # a close name, else the first one the key begins (``n`` → ``n_fft``)
            prefixed = [known for known in sorted(fields) if known.startswith(str(key))][:1]
            hint = did_you_mean(key, fields, n=1) or did_you_mean(key, prefixed, n=1, cutoff=0.0)
            known = ", ".join(sorted(fields)) or "none"
            raise ParameterError(f"{feature}: unknown parameter {key!r}{hint}; known parameters: {known}")
        coercer = COERCERS[fields[key]]
        try:
            value = coercer(raw)
        except (ValueError, TypeError) as error:
            reason = str(error) if "expected" in str(error) else f"expected {_type_name(fields[key])}"
            raise ParameterError(f"{feature}: parameter {key}={raw!r} is not allowed; {reason}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ParameterError(f"{feature}: parameter {key}={raw!r} is not allowed; expected a finite number")
        values[key] = value
    return params_class(**values)


def _type_name(kind: Any) -> str:
    return {int: "an integer", int | None: "an integer or none", float: "a number", bool: "true or false",
            str: "a string"}.get(
        kind, "a comma-separated list of numbers"
    )


def build_feature(name: str, params: dict[str, Any] | None = None) -> Feature:
    """The registered feature ``name`` configured with ``params`` (strings are coerced to field types).

    Parameters
    ----------
    name : str
        A name from :func:`feature_names` (``waveform``, ``lms``, ``cqt``, ``hcqt``, ``stft``, ``chroma``).
    params : dict, optional
        Parameter values as Python objects or strings; missing ones take their defaults.

    Raises
    ------
    ParameterError
        Unknown feature name, unknown parameter, or a value that is not allowed.
    """
    feature_class = get_feature_class(name)
    return feature_class(coerce_params(name, feature_class.Params, params))
