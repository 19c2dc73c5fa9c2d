"""Frame labelling (one class per frame, e.g. chords): cross-entropy per frame, ignored frames -100."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch.nn.functional as F
from torch import Tensor

from pyjama_tools.core.errors import ParameterError
from pyjama_tools.core.checks import check_number
from mirmodels.tasks._checks import check_class_range, shape_error
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

    @staticmethod
    def chord_labels(target, names) -> bool:
        """The labels are Harte chords: the target's spec maps them to majmin (``chord_vocabulary``), or
        each of the class ``names`` is ``N`` or ``root:quality`` (a chord field)."""
        if target.spec.chord_vocabulary is not None:
            return True
        return bool(names) and all(name == "N" or ":" in str(name) for name in names)

    @classmethod
    def score(cls, predictions, target, doc=None, annot_key=None, **context):
        """Frame accuracy and macro recall (frames with the target's ignore index left out); mir_eval chord
        scores (majmin, root, ...) against the annotated segments when :meth:`chord_labels`."""
        from mirmodels import metrics
        from mirmodels.scoring import mean_scores, output_names

        keys = list(predictions)
        y_true = [np.asarray(target.for_file(k, predictions[k]["time_sec"], predictions[k]["frequency_hz"])).astype(int)
                  for k in keys]
        y_pred = [predictions[k]["output"].argmax(axis=0) for k in keys]
        count = predictions[keys[0]]["output"].shape[0]
        result = metrics.framelabel_scores(y_true, y_pred, ignore_index=int(target.ignore_index), num_classes=count)
        names = output_names(target, count)
        field_name = annot_key or target.spec.field
        if doc is not None and cls.chord_labels(target, names):
            chord = []
            for key, pred in zip(keys, y_pred):
                onsets, durations, labels = doc.segments(key, field_name)
                intervals = np.stack([onsets, onsets + durations], axis=1) if len(onsets) else np.zeros((0, 2))
                est_intervals, est_labels = metrics.frames_to_segments(metrics.class_index_to_chord(pred, names),
                                                                       predictions[key]["time_sec"])
                chord.append(metrics.chord_scores(intervals, [str(v) for v in labels], est_intervals, est_labels))
            result.update(mean_scores(chord, prefix="chord_"))
        return {"metrics": result}

    @classmethod
    def write_prediction(cls, prediction, metadata, stem, threshold, files, feature_value=None, duration_sec=None):
        from mirmodels.writers import write_frames

        return write_frames(prediction, metadata, stem, files, duration_sec)
