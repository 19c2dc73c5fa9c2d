"""The size of a network's last layer, set from the dataset as the tutorial's notebooks do.

The tutorial's model files write the last layer's size as a number (``config_autotagging.yaml``
ends with ``[Linear, {'out_features': 10}]``, GTZAN's 10 genres) and its notebooks set it from the
dataset before building the network (50 for MagnaTagATune's tags). :func:`fit_last_layer` does
the same for the class problems (a task with ``resizable_output``: multi-class, multi-label, frame
labels): when the network's output does not fit the target and the last layer that sets an output
size writes a number, that number becomes the target's size and the network is built again. A size written ``$n_out``, a
layer the rule cannot reach, or an output that still does not fit is left to
:func:`mirmodels.experiment.check_output_shape` to refuse.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

__all__ = ["SIZE_KEYS", "last_size_layer", "resize_last_layer", "fit_last_layer",
           "last_layer_as_saved"]

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


def fit_last_layer(config, prepared, network):
    """The run's config and network, the last layer resized when that makes the output fit the target.

    Parameters
    ----------
    config : ExperimentConfig
    prepared : mirmodels.data.PreparedData
    network : the network built from ``config``

    Returns
    -------
    (ExperimentConfig, nn.Module)
        Unchanged when the output fits, when the problem's output is not a class count, or when no
        rule applies; otherwise the config with the resized model (saved with the run, so that
        evaluate and predict build the same network) and that network. The change is one info line
        on the ``mirmodels`` logger.
    """
    import logging

    from mirmodels.experiment import build_network, check_output_shape
    from mirmodels.tasks import get_task_class
    from pyjama_tools.core.errors import MirError

    size = int(prepared.target.num_outputs)
    try:
        check_output_shape(prepared.problem, network.output_shape, prepared.input_shape, size)
        return config, network
    except MirError as error:
        refusal = error  # what the original network's output is named with, if no rule fixes it
    resizable = get_task_class(prepared.problem).resizable_output  # the output size is the number of classes
    resized = resize_last_layer(config.model, size) if resizable else None
    if resized is None:
        raise refusal
    model, line = resized
    candidate = config.replace(model=model)
    rebuilt = build_network(candidate, prepared.input_shape, prepared.n_out)
    try:  # the resized network must fit
        check_output_shape(prepared.problem, rebuilt.output_shape, prepared.input_shape, size)
    except MirError:
        raise refusal from None
    logging.getLogger("mirmodels").info(line)
    return candidate, rebuilt


def last_layer_as_saved(config, saved_config_path):
    """``config`` with its last layer sized as the run saved in ``saved_config_path`` resized it.

    A run whose last layer :func:`fit_last_layer` resized saved the resized model; the config it is
    resumed with still writes the tutorial's number. Only that one number is taken from the run
    (and only when both write a number there), so that every other difference is still named by
    :func:`mirmodels.experiment.check_resume_config`.
    """
    from pathlib import Path

    from mirmodels.config import read_yaml

    path = Path(saved_config_path)
    if not path.exists():
        return config
    saved = read_yaml(path)
    model = saved.get("model") if isinstance(saved, Mapping) else None
    ours = last_size_layer(config.model)
    theirs = last_size_layer(model) if isinstance(model, Mapping) else None
    if ours is None or theirs is None or ours[:3] != theirs[:3]:
        return config
    value = theirs[3]
    if isinstance(value, bool) or not isinstance(value, int):
        return config
    resized = resize_last_layer(config.model, value)
    return config if resized is None else config.replace(model=resized[0])
