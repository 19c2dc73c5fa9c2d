"""Multi-pitch estimation (pitch salience over frequency bins and frames): sigmoid + BCE."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from pyjama_tools.core.errors import MirError
from mirmodels.tasks._checks import check_number, shape_error
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
