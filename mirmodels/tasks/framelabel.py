"""Frame labelling (one class per frame, e.g. chords): cross-entropy per frame, ignored frames -100."""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from pyjama_tools.core.errors import ParameterError
from mirmodels.tasks._checks import check_class_range, check_number, shape_error
from mirmodels.tasks.base import Task, register_task


@dataclass(frozen=True)
class FramelabelOptions:
    """Options of the frame-label task.

    Attributes
    ----------
    label_smoothing : float
        Cross-entropy label smoothing in [0, 1).
    ignore_index : int
        Target value of frames that do not count (no label), -100 like ``mirfeat.targets``.
    """

    label_smoothing: float = 0.0
    ignore_index: int = -100

    def __post_init__(self) -> None:
        check_number("label_smoothing", self.label_smoothing, 0.0, 1.0)
        if isinstance(self.ignore_index, bool) or not isinstance(self.ignore_index, int) or self.ignore_index >= 0:
            raise ParameterError(f"ignore_index={self.ignore_index!r}: expected a negative integer (default -100)")


@register_task("framelabel", "segment", "frame", "chord")
class FramelabelTask(Task):
    """Logits (B, K, T) vs class per frame y (B, T) int64: cross-entropy over the frames that count.

    Predictions are softmax over the class axis, (B, K, T).  A batch where every frame is ignored has
    loss NaN in PyTorch; here it is 0 (connected to the graph) so training goes on.
    """

    train_defaults = {"optimizer": "adam", "lr": 0.01, "batch_size": 32, "patience": 10, "drop_last": True}
    resizable_output = True

    @staticmethod
    def complete_dataset_config(dataset) -> dict:
        """``n_out: 25`` means the tutorial's 25 chord classes (12 maj, 12 min, N), whatever labels the corpus holds."""
        from mirfeat.chords import MAJMIN_CLASSES

        if dataset.chord_vocabulary is None and dataset.n_out == len(MAJMIN_CLASSES):
            return {"chord_vocabulary": "majmin"}
        return {}

    Options = FramelabelOptions

    def compute_loss(self, output: Tensor, y: Tensor) -> Tensor:
        y = y.long()
        if output.dim() != 3 or y.dim() != 2 or output.shape[0] != y.shape[0] or output.shape[2] != y.shape[1]:
            raise shape_error(
                "framelabel", "shape mismatch", output, y,
                "logits (batch, n_classes, frames) and y (batch, frames); add a Permute layer if the model gives (B, T, K)",
            )
        ignore = self.options.ignore_index
        check_class_range("framelabel", y, output.shape[1], ignore_index=ignore)
        if not bool((y != ignore).any()):
            return output.float().sum() * 0.0
        return F.cross_entropy(
            output.float(), y, ignore_index=ignore, label_smoothing=self.options.label_smoothing
        )

    def output_activation(self, output: Tensor) -> Tensor:
        return output.float().softmax(dim=1)

    # ---- run hooks (see Task)
    @classmethod
    def check_output_shape(cls, output_shape, input_shape, n_outputs, where="model") -> None:
        """(n_classes, T) with the input's T."""
        shape = tuple(int(s) for s in output_shape)
        if len(shape) != 2 or shape[0] != n_outputs or shape[1] != input_shape[-1]:
            raise cls._output_shape_error(where, shape, input_shape,
                                          f"({n_outputs}, {input_shape[-1]}) (classes, frames)")

    @classmethod
    def file_output(cls, outputs, starts, num_frames, patch_length):
        """Patch outputs averaged frame by frame over the file (K, T)."""
        from mirmodels.inference import stitch_patches

        return stitch_patches(outputs, starts, num_frames, patch_length)

    @classmethod
    def score(cls, predictions, target, **context):
        from mirmodels.scoring import score_framelabel

        return score_framelabel(predictions, target, **context)

    @classmethod
    def write_prediction(cls, prediction, metadata, stem, threshold, files, feature_value=None, duration_sec=None):
        from mirmodels.writers import write_frames

        return write_frames(prediction, metadata, stem, files, duration_sec)
