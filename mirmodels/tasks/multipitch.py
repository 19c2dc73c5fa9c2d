"""Multi-pitch estimation (pitch salience over frequency bins and frames): sigmoid + BCE."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from pyjama_tools.core.errors import MirError
from pyjama_tools.core.checks import check_number
from mirmodels.tasks._checks import shape_error
from mirmodels.tasks.base import Task, register_task


@dataclass(frozen=True)
class MultipitchOptions:
    """Options of the multi-pitch task.

    Attributes
    ----------
    pos_weight : float or None
        Weight of the active bins in the BCE (> 0); salience targets are very sparse.
    """

    pos_weight: float | None = None

    def __post_init__(self) -> None:
        check_number("pos_weight", self.pos_weight, 0.0, low_inclusive=False, allow_none=True)


#: the section of metrics.json holding the tutorial's per-patch average (beside the whole-file ``metrics``)
PATCH_AVERAGE = "metrics_patch_average_tutorial"

#: annotation fields tried, in order, when a multipitch config names none
PITCH_FIELDS = ("f0multi", "pitchmidi", "f0", "notes")


def guess_pitch_field(doc) -> str:
    """The multipitch annotation field of a document (f0 breakpoints or note segments)."""
    for name in PITCH_FIELDS:
        if name in doc.definitions:
            return name
    for name, definition in doc.definitions.items():
        if definition.type_extent == "breakpoint" and definition.type_content == "numeric":
            return name
    raise MirError("dataset.annot_key: missing and no f0/note field found in the .pyjama "
                   f"(fields: {', '.join(doc.definitions)}); name it in the config")


def squeeze_salience(output: Tensor) -> Tensor:
    """(B, 1, F, T) -> (B, F, T); (B, F, T) unchanged."""
    if output.dim() == 4 and output.shape[1] == 1:
        return output[:, 0]
    return output


@register_task("multipitch", "pitch", "multi-pitch")
class MultipitchTask(Task):
    """Logits (B, F, T) or (B, 1, F, T) vs binary salience y (B, F, T): BCE with logits.

    Predictions are sigmoid salience of shape (B, F, T).
    """

    implied_by = {"do_f0_annot": ("frame", "segment")}  # the tutorial's multipitch reference kind
    target_kind = "pitch"
    needs_annot_key = False
    train_defaults = {"optimizer": "adam", "lr": 0.001, "batch_size": 32, "patience": 10}

    @staticmethod
    def guess_annot_key(doc) -> str:
        """The f0 / note field of a document (:func:`guess_pitch_field`)."""
        return guess_pitch_field(doc)

    Options = MultipitchOptions

    def compute_loss(self, output: Tensor, y: Tensor) -> Tensor:
        output = squeeze_salience(output)
        y = squeeze_salience(y)
        if output.shape != y.shape or output.dim() != 3:
            raise shape_error(
                "multipitch", "shape mismatch", output, y,
                "logits (batch, [1,] bins, frames) matching y (batch, bins, frames)",
            )
        pos_weight = None
        if self.options.pos_weight is not None:
            pos_weight = torch.tensor(self.options.pos_weight, dtype=torch.float32, device=output.device)
        return F.binary_cross_entropy_with_logits(output.float(), y.float(), pos_weight=pos_weight)

    def output_activation(self, output: Tensor) -> Tensor:
        return torch.sigmoid(squeeze_salience(output).float())

    # ---- run hooks (see Task)
    thresholded = True
    metric_sections = (("metrics", ""), (PATCH_AVERAGE, "patch average (tutorial) "))

    @classmethod
    def check_output_shape(cls, output_shape, input_shape, n_outputs, where="model") -> None:
        """(F, T) or (1, F, T) with the input's T and F = n_outputs."""
        shape = tuple(int(s) for s in output_shape)
        core = shape[1:] if len(shape) == 3 and shape[0] == 1 else shape
        if len(input_shape) < 3 or core != (n_outputs, input_shape[-1]):
            raise cls._output_shape_error(
                where, shape, input_shape,
                f"({n_outputs}, {input_shape[-1]}) or (1, {n_outputs}, {input_shape[-1]}) (bins, frames)")

    @classmethod
    def file_output(cls, outputs, starts, num_frames, patch_length):
        """Salience patches averaged frame by frame over the file (F, T)."""
        from mirmodels.inference import stitch_patches

        return stitch_patches(outputs, starts, num_frames, patch_length)

    @classmethod
    def eval_context(cls, network, prepared, predictions, inputs, device):
        """The tutorial's per-patch evaluation (``tutorial_patches``), beside the whole-file one."""
        from mirmodels.inference import tutorial_patch_predictions

        config = prepared.config
        return {"tutorial_patches": tutorial_patch_predictions(
            network, cls(network).output_activation, prepared.target, predictions, inputs,
            config.feature.patch_length, config.feature.patch_hop, config.eval.batch_size or config.train.batch_size,
            device)}

    @classmethod
    def score(cls, predictions, target, doc=None, threshold=0.5, annot_key=None, tutorial_patches=None, **context):
        """Frames above ``threshold`` on the stitched salience vs. the annotation converted the mir_eval way
        (f0 breakpoints → their times and Hz; notes → sampled on the feature's frames,
        :func:`mirmodels.scoring.multipitch_reference`): ``mir_eval.multipitch`` per file, then the mean
        over files; plus the tutorial's per-patch average (key ``metrics_patch_average_tutorial``: each
        patch scored against its quantised target, then averaged) when ``tutorial_patches``
        {key: (est (N, F, L), ref (N, F, L))} is given."""
        from mirfeat.targets import pitch_unit_of, pitch_values
        from mirmodels import metrics
        from mirmodels.scoring import mean_scores, multipitch_reference

        field_name = annot_key or target.spec.field
        if field_name == target.spec.field:
            unit = target.pitch_unit  # the pitch target's unit: what the model was trained on
        else:
            unit = pitch_unit_of(field_name, lambda: np.concatenate(
                [np.zeros(0)] + [pitch_values(doc, key, field_name) for key in predictions]))
        per_file = {}
        for key, prediction in predictions.items():
            time_sec = np.asarray(prediction["time_sec"], dtype=float)
            ref_time, ref_freqs = multipitch_reference(doc, key, field_name, time_sec, unit)
            est_time, est_freqs = metrics.salience_to_multipitch(prediction["output"], prediction["frequency_hz"],
                                                                 time_sec, threshold)
            per_file[key] = metrics.multipitch_scores(ref_time, ref_freqs, est_time, est_freqs)
        result = {"metrics": mean_scores(list(per_file.values())),
                  "per_file": {k: {n: float(v) for n, v in d.items()} for k, d in per_file.items()}}
        if tutorial_patches:
            est = np.concatenate([e for e, _r in tutorial_patches.values()])
            ref = np.concatenate([r for _e, r in tutorial_patches.values()])
            frequency_hz = next(iter(predictions.values()))["frequency_hz"]
            result[PATCH_AVERAGE] = metrics.patchwise_multipitch_scores(est, ref, frequency_hz, threshold=threshold)
        return result

    @classmethod
    def write_prediction(cls, prediction, metadata, stem, threshold, files, feature_value=None, duration_sec=None):
        from mirmodels.writers import write_pitch

        return write_pitch(prediction, metadata, stem, threshold, files, feature_value, duration_sec)
