"""Shape and option checks shared by the task modules (one-line errors naming the problem)."""

from __future__ import annotations

from torch import Tensor

from pyjama_tools.core.errors import MirError

__all__ = ["check_class_range", "shape_error"]


def shape_error(problem: str, what: str, output: Tensor, y: Tensor, expected: str) -> MirError:
    """A one-line error about mismatched model output / target shapes."""
    return MirError(
        f"{problem} task: {what}: model output {tuple(output.shape)}, target y {tuple(y.shape)}; expected {expected}"
    )


def check_class_range(problem: str, y: Tensor, num_classes: int, ignore_index: int | None = None) -> None:
    """Raise MirError when a class index is outside [0, num_classes) (ignore_index allowed)."""
    valid = y if ignore_index is None else y[y != ignore_index]
    if valid.numel() == 0:
        return
    low, high = int(valid.min()), int(valid.max())
    if low < 0 or high >= num_classes:
        bad = high if high >= num_classes else low
        raise MirError(
            f"{problem} task: class index {bad} in y is outside the model's {num_classes} outputs; "
            "make the model's n_out match the target's number of classes"
        )
