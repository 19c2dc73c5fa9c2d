"""A run's network: built from its config's model, and loaded with its best weights.

Knows no problem and no config class (``config`` is any object with ``model``, ``model_source``
and ``source``, an :class:`~mirmodels.config.ExperimentConfig`): the task modules' default hooks
and the run modules above them both use it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from collections.abc import Sequence

from mirmodels.factory import ModelConfigError, build_model
from mirmodels.rundir import RunDir
from mirmodels.weights import load_state_dict

__all__ = ["build_network", "load_network"]


def build_network(config: Any, input_shape: Sequence[int], n_out: int):
    """The run's network (``build_model`` with ``$n_out``)."""
    try:
        return build_model(config.model, tuple(input_shape), {"n_out": int(n_out)})
    except ModelConfigError as error:  # the model is inlined: say which file it came from
        if config.model_source is not None:
            source = Path(config.model_source)
            if not source.is_absolute() and config.source is not None:
                source = config.source.parent / source
        else:
            source = config.source
        if source is None or str(error).startswith(str(source)):
            raise
        raise ModelConfigError(f"{source}: {error}") from None


def load_network(run_dir: str | os.PathLike, config: Any, metadata: dict):
    """The trained network of a run (best epoch), in eval mode on CPU, from its resolved ``config``
    and ``run.json`` content ``metadata`` (:func:`mirmodels.experiment.load_network` reads them
    from the run when not given)."""
    run = RunDir(run_dir)
    network = build_network(config, metadata["input_shape"], metadata["n_out"])
    load_state_dict(network, run.best_pt, config_label=str(run.config))
    return network.eval()
