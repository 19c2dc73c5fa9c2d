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

from collections.abc import Mapping

from mirmodels.layer_size import last_size_layer, resize_last_layer

__all__ = ["fit_last_layer", "last_layer_as_saved"]


def fit_last_layer(config, prepared, network):
    """The run's config and network, the last layer resized when that makes the output fit the target.

    Parameters
    ----------
    config : ExperimentConfig
    prepared : mirmodels.patch_data.PreparedData
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

    from mirmodels.network import build_network
    from mirmodels.tasks import get_task_class
    from pyjama_tools.core.errors import MirError

    size = int(prepared.target.num_outputs)
    task = get_task_class(prepared.problem)
    try:
        task.check_output_shape(network.output_shape, prepared.input_shape, size)
        return config, network
    except MirError as error:
        refusal = error  # what the original network's output is named with, if no rule fixes it
    resizable = task.resizable_output  # the output size is the number of classes
    resized = resize_last_layer(config.model, size) if resizable else None
    if resized is None:
        raise refusal
    model, line = resized
    candidate = config.replace(model=model)
    rebuilt = build_network(candidate, prepared.input_shape, prepared.n_out)
    try:  # the resized network must fit
        task.check_output_shape(rebuilt.output_shape, prepared.input_shape, size)
    except MirError:
        raise refusal from None
    logging.getLogger("mirmodels").info(line)
    return candidate, rebuilt


def last_layer_as_saved(config, saved_config_path):
    """``config`` with its last layer sized as the run saved in ``saved_config_path`` resized it.

    A run whose last layer :func:`fit_last_layer` resized saved the resized model; the config it is
    resumed with still writes the tutorial's number. Only that one number is taken from the run
    (and only when both write a number there), so that every other difference is still named by
    :func:`mirmodels.resume.check_resume_config`.
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
