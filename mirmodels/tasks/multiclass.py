"""Multi-class classification (one label per patch, e.g. GTZAN genre): softmax + cross-entropy."""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from mirmodels.tasks._checks import check_class_range, check_number, shape_error
from mirmodels.tasks.base import Task, register_task


@dataclass(frozen=True)
class MulticlassOptions:
    """Options of the multi-class task.

    Attributes
    ----------
    label_smoothing : float
        Cross-entropy label smoothing in [0, 1).
    """

    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        check_number("label_smoothing", self.label_smoothing, 0.0, 1.0)


@register_task("multiclass", "multi-class")
class MulticlassTask(Task):
    """Logits (B, K) vs class indices y (B,) int64: cross-entropy; predictions are softmax (B, K)."""

    train_defaults = {"optimizer": "adam", "lr": 0.01, "batch_size": 128, "patience": 10, "drop_last": True}
    resizable_output = True

    Options = MulticlassOptions

    def compute_loss(self, output: Tensor, y: Tensor) -> Tensor:
        y = y.reshape(-1).long()
        if output.dim() != 2 or output.shape[0] != y.shape[0]:
            raise shape_error("multiclass", "shape mismatch", output, y, "logits (batch, n_classes) and y (batch,)")
        check_class_range("multiclass", y, output.shape[1])
        return F.cross_entropy(output.float(), y, label_smoothing=self.options.label_smoothing)

    def output_activation(self, output: Tensor) -> Tensor:
        return output.float().softmax(dim=1)

    # ---- run hooks (see Task)
    single_label = True

    @classmethod
    def check_output_shape(cls, output_shape, input_shape, n_outputs, where="model") -> None:
        """(n_classes,)."""
        shape = tuple(int(s) for s in output_shape)
        if shape != (n_outputs,):
            raise cls._output_shape_error(where, shape, input_shape, f"({n_outputs},)")

    @classmethod
    def score(cls, predictions, target, **context):
        from mirmodels.scoring import score_multiclass

        return score_multiclass(predictions, target, **context)

    @classmethod
    def write_prediction(cls, prediction, metadata, stem, threshold, files, feature_value=None, duration_sec=None):
        from mirmodels.writers import write_tags

        return write_tags(prediction, metadata, stem, threshold, files, duration_sec, single_label=cls.single_label)
