"""Multi-class classification (one label per patch, e.g. GTZAN genre): softmax + cross-entropy."""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from pyjama_tools.core.checks import check_number
from mirmodels.tasks._checks import check_class_range, shape_error
from mirmodels.tasks._clip import ClipLabelTask
from mirmodels.tasks.base import register_task


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
class MulticlassTask(ClipLabelTask):
    """Logits (B, K) vs class indices y (B,) int64: cross-entropy; predictions are softmax (B, K)."""

    train_defaults = {"optimizer": "adam", "lr": 0.01, "batch_size": 128, "patience": 10, "drop_last": True}

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
    def clip_metrics(cls, y_true, outputs, names):
        """File-level accuracy, macro recall / precision / F1 and the confusion matrix
        (file prediction = mean of the patch probabilities)."""
        from mirmodels import metrics

        return metrics.multiclass_scores(y_true, outputs, num_classes=outputs.shape[1], class_names=names)
