"""The last layer that sets a network's output size, in a model's YAML mapping, and a copy resized.

Plain data on the model mapping (no torch, no config): :mod:`mirmodels.factory` sizes ``n_out``
with it, :mod:`mirmodels.outputs` sizes the last layer from the dataset.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

__all__ = ["SIZE_KEYS", "last_size_layer", "resize_last_layer"]

#: Parameters that set a layer's output size (Linear; Conv1d, Conv2d, ConvTranspose2d, ...), in order.
SIZE_KEYS = ("out_features", "out_channels")


def _layer_params(layer: Any) -> tuple[str, Mapping[str, Any]] | None:
    """(name, params) of a layer written ``[Name, {params}]`` or ``{Name: {params}}``; None otherwise."""
    if isinstance(layer, (list, tuple)) and len(layer) == 2 and isinstance(layer[1], Mapping):
        return str(layer[0]), layer[1]
    if isinstance(layer, Mapping) and len(layer) == 1:
        name, params = next(iter(layer.items()))
        return (str(name), params) if isinstance(params, Mapping) else None
    return None


def _layers(model: Mapping[str, Any]):
    """(YAML path, params mapping) of every layer, in order (malformed parts skipped: the factory names them)."""
    blocks = model.get("block_l")
    for b, block in enumerate(blocks if isinstance(blocks, list) else []):
        sequentials = block.get("sequential_l") if isinstance(block, Mapping) else None
        for s, sequential in enumerate(sequentials if isinstance(sequentials, list) else []):
            layers = sequential.get("layer_l") if isinstance(sequential, Mapping) else None
            for k, layer in enumerate(layers if isinstance(layers, list) else []):
                named = _layer_params(layer)
                if named is not None:
                    yield (b, s, k), f"model.block_l[{b}].sequential_l[{s}].layer_l[{k}] ({named[0]})", named[1]


def last_size_layer(model: Mapping[str, Any], keys: tuple[str, ...] = SIZE_KEYS
                    ) -> tuple[tuple[int, int, int], str, str, Any] | None:
    """The last layer that sets an output size with one of ``keys``: (indices, YAML path, parameter
    name, value), or None."""
    found = None
    for indices, path, params in _layers(model):
        for key in keys:
            if key in params:
                found = (indices, path, key, params[key])
                break
    return found


def resize_last_layer(model: Mapping[str, Any], size: int, keys: tuple[str, ...] = SIZE_KEYS
                      ) -> tuple[dict, str] | None:
    """A copy of ``model`` whose last size-setting layer outputs ``size``, and the info line saying so.

    None when that layer writes no plain number (``$n_out``, -1) or already writes ``size``.
    """
    found = last_size_layer(model, keys)
    if found is None:
        return None
    (b, s, k), path, key, value = found
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or value == size:
        return None
    resized = copy.deepcopy(dict(model))
    layer = resized["block_l"][b]["sequential_l"][s]["layer_l"][k]
    _layer_params(layer)[1][key] = int(size)
    line = (f"{path}: {key} {value} -> {size}, the dataset's number of classes "
            "(the last layer is sized from the dataset, as the tutorial's notebooks do)")
    return resized, line
