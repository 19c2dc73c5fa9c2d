"""Multi-label tagging (several tags per patch, e.g. MagnaTagATune): sigmoid + binary cross-entropy."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from pyjama_tools.core.checks import check_number
from mirmodels.tasks._checks import shape_error
from mirmodels.tasks._clip import ClipLabelTask
from mirmodels.tasks.base import register_task


@dataclass(frozen=True)
class MultilabelOptions:
    """Options of the multi-label task.

    Attributes
    ----------
    pos_weight : float or None
        Weight of the positive examples of every tag in the BCE (> 0), e.g. to counter rare tags.
    """

    pos_weight: float | None = None

    def __post_init__(self) -> None:
        check_number("pos_weight", self.pos_weight, 0.0, low_inclusive=False, allow_none=True)


@register_task("multilabel", "multi-label")
class MultilabelTask(ClipLabelTask):
    """Logits (B, K) vs multi-hot y (B, K) float: BCE with logits; predictions are sigmoid (B, K)."""

    train_defaults = {"optimizer": "adam", "lr": 0.01, "batch_size": 128, "patience": 10, "drop_last": True}
    labels_every_entry = True  # an empty tag list is a label (an MTT clip with none of the top tags)

    @staticmethod
    def adjust_target(config, spec, target, doc):
        """``n_out: N`` and no ``top_n``: the N most frequent tags are the classes when the field holds
        more (the tutorial's MTT file holds its 50 tags, a full conversion 188)."""
        import logging
        from dataclasses import replace

        from mirfeat.targets import build_target

        n_out = config.dataset.n_out
        if spec.top_n is not None or n_out == "auto" or target.num_outputs <= n_out:
            return target
        logging.getLogger("mirmodels").info(
            f"dataset.n_out {n_out}: the {n_out} most frequent of the {target.num_outputs} {spec.field!r} tags "
            f"are the classes (as dataset.top_n {n_out})")
        return build_target(replace(spec, top_n=int(n_out)), doc)

    Options = MultilabelOptions

    def compute_loss(self, output: Tensor, y: Tensor) -> Tensor:
        if output.shape != y.shape or output.dim() != 2:
            raise shape_error("multilabel", "shape mismatch", output, y, "logits and y both (batch, n_tags)")
        pos_weight = None
        if self.options.pos_weight is not None:
            pos_weight = torch.tensor(self.options.pos_weight, dtype=torch.float32, device=output.device)
        return F.binary_cross_entropy_with_logits(output.float(), y.float(), pos_weight=pos_weight)

    def output_activation(self, output: Tensor) -> Tensor:
        return torch.sigmoid(output.float())

    # ---- run hooks (see Task)
    thresholded = True

    @classmethod
    def clip_metrics(cls, y_true, outputs, names):
        """Macro ROC-AUC and average precision over tags (and per tag) of the file-level scores
        (the mean of the patch probabilities)."""
        from mirmodels import metrics

        return metrics.multilabel_scores(y_true, outputs, tag_names=names)
