"""``mirmodels evaluate``: score a trained run on whole files; write ``RUN_DIR/metrics.json``.

The network runs over consecutive patches covering each whole file (hop ``eval.patch_hop``,
default the patch length; the last patch is aligned with the file's end, or the file is
zero-padded when shorter than one patch) and the task class makes one output per file
(:meth:`~mirmodels.tasks.Task.file_output`: the mean of the patches, or overlapping outputs
averaged frame by frame; :mod:`mirmodels.inference`).  Then the task's scorer
(:meth:`~mirmodels.tasks.Task.score`, written in the task's own module; the
metric functions are those of :mod:`mirmodels.metrics`):

* multiclass: file prediction = mean of the patch probabilities → accuracy, macro
  recall / precision / F1, confusion matrix;
* multilabel: file scores = mean of the patch probabilities → macro ROC-AUC and average precision
  (per tag too);
* framelabel: frame accuracy and macro recall; ``mir_eval.chord`` majmin when the labels are chords;
* multipitch: frames above ``eval.threshold`` on the stitched salience vs. the annotation converted
  the mir_eval way (f0 breakpoints → their times and Hz; notes → sampled on the feature's frames),
  ``mir_eval.multipitch`` per file then averaged over files; also the tutorial's per-patch average
  (each patch scored against its quantised target, then averaged), under its own key;
* metric: MR1, MRR, P@1/5/10, mAP from the whole-file embeddings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mirmodels import inference
from mirmodels.network import load_network
from mirmodels.run_config import load_run
from mirmodels.rundir import RunDir, write_json
from pyjama_tools.core.errors import MirError

__all__ = ["EvalResult", "evaluate", "format_metrics", "predict_files", "score_predictions"]


def predict_files(network: torch.nn.Module, problem: str, inputs, patch_length: int, hop: int,
                  batch_size: int = 32, device: str | torch.device = "cpu") -> dict[str, dict[str, Any]]:
    """:func:`mirmodels.inference.predict_files` with the task class of ``problem``."""
    from mirmodels.tasks import get_task_class

    return inference.predict_files(network, get_task_class(problem), inputs, patch_length, hop, batch_size, device)


def score_predictions(problem: str, predictions: dict, target: Any, **context: Any) -> dict[str, Any]:
    """Score per-file predictions (as :func:`predict_files` returns them) with the problem's scorer
    (:meth:`~mirmodels.tasks.Task.score`)."""
    from mirmodels.tasks import get_task_class

    return get_task_class(problem).score(predictions, target, **context)


# ----------------------------------------------------------------------------- evaluate


@dataclass
class EvalResult:
    """What :func:`evaluate` wrote to ``metrics.json``."""

    path: Path
    data: dict = field(default_factory=dict)


def evaluate(run_dir: str | os.PathLike, split: str | None = None, data_root: str | os.PathLike | None = None,
             quiet: bool = True, device: str | None = None) -> EvalResult:
    """Score the best network of a run on the whole files of a split.

    Parameters
    ----------
    run_dir : a directory written by :func:`mirmodels.experiment.fit`
    split : valid | test | train (default ``eval.split`` of the run's config)
    data_root : folder of the dataset pair (default: where the run was trained)
    quiet : no progress bar
    device : torch device (default cuda when available, else cpu)

    Returns
    -------
    EvalResult
        ``RUN_DIR/metrics.json`` and its content.

    Raises
    ------
    MirError
        Not a run directory, a checkpoint of another model, features that do not match the run's
        input shape, an empty split.
    """
    from mirmodels.data import check_same_classes, prepare_data
    from mirmodels.tasks import get_task_class

    config, metadata = load_run(run_dir)
    split = split or config.eval.split
    if data_root is None and metadata.get("audio_path"):
        data_root = Path(metadata["audio_path"]).parent
    prepared = prepare_data(config, data_root, quiet=quiet)
    if tuple(prepared.input_shape) != tuple(metadata["input_shape"]):
        raise MirError(f"{run_dir}: the dataset's features give examples of shape {tuple(prepared.input_shape)}, "
                       f"the run was trained on {tuple(metadata['input_shape'])}")
    check_same_classes(prepared, metadata, str(run_dir))
    keys = prepared.splits.get(split) or []
    if not keys:
        raise MirError(f"{run_dir}: the {split!r} split is empty (rule {config.dataset.split!r})")
    network = load_network(run_dir, config, metadata)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    scores = get_task_class(prepared.problem).score_split(network, prepared, keys, device=device, quiet=quiet)
    data = {"run": str(run_dir), "split": split, "problem": prepared.problem, "num_files": len(keys),
            **_json_ready(scores)}
    return EvalResult(write_json(data, RunDir(run_dir).metrics), data)


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def format_metrics(result: EvalResult | dict) -> str:
    """The task's table of the scalar metrics (:meth:`~mirmodels.tasks.Task.format_metrics`), then the
    path written.

    Raises
    ------
    ParameterError
        The metrics name no registered problem: one line naming the ``metrics.json`` (that of the
        ``run`` key for a dict) and the problem.
    """
    from mirmodels.tasks import TASKS

    if isinstance(result, EvalResult):
        data, source = result.data, result.path
    else:
        data = result
        source = RunDir(data["run"]).metrics if data.get("run") else "metrics"
    task = TASKS.lookup(data.get("problem"), where=f"{source}: ")  # the task's own table
    return task.format_metrics(data) + (f"\nwritten: {result.path}" if isinstance(result, EvalResult) else "")
