"""What the clip-label tasks share (one output per class or tag for a whole clip: multiclass,
multilabel): the output shape, the file-level scorer and the tag writer. Not registered."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mirmodels.tasks.base import Task


class ClipLabelTask(Task):
    """Base of the tasks whose network gives (n_outputs,) per patch and whose target is one label set per
    file; a subclass gives :meth:`clip_metrics` (and the loss)."""

    resizable_output = True

    @classmethod
    def check_output_shape(cls, output_shape, input_shape, n_outputs, where="model") -> None:
        """(n_outputs,): one score per class or tag."""
        shape = tuple(int(s) for s in output_shape)
        if shape != (n_outputs,):
            raise cls._output_shape_error(where, shape, input_shape, f"({n_outputs},)")

    @classmethod
    def clip_metrics(cls, y_true: np.ndarray, outputs: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
        """The metrics of the file labels ``y_true`` (int) against the file outputs (files, n_outputs)."""
        raise NotImplementedError

    @classmethod
    def score(cls, predictions, target, **context):
        """:meth:`clip_metrics` of the file outputs (the mean of the patch probabilities) against the
        file labels."""
        from mirmodels.scoring import file_labels, output_names

        keys = list(predictions)
        y_true = file_labels(target, keys).astype(int)
        outputs = np.stack([predictions[k]["output"] for k in keys])
        return {"metrics": cls.clip_metrics(y_true, outputs, output_names(target, outputs.shape[1]))}

    @classmethod
    def write_prediction(cls, prediction, metadata, stem, threshold, files, feature_value=None, duration_sec=None):
        from mirmodels.writers import write_tags

        return write_tags(prediction, metadata, stem, threshold, files, duration_sec, single_label=cls.single_label)
