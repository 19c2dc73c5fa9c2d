"""A per-layer table of a built network: YAML path, layer name, output shape, parameter count."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

from torch import nn

from pyjama_tools.errors import MirError

__all__ = ["SummaryRow", "count_parameters", "format_summary", "parse_shape", "summarize"]


@dataclass(frozen=True)
class SummaryRow:
    """One layer of the table.

    Attributes
    ----------
    path : str
        YAML path (``model.block_l[i].sequential_l[j].layer_l[k]``) or module name.
    name : str
        YAML layer name (or module class).
    output_shape : tuple of int or None
        Shape of one example out of the layer (batch excluded); None when unknown.
    parameters : int
        Number of parameters the layer owns.
    """

    path: str
    name: str
    output_shape: tuple[int, ...] | None
    parameters: int


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(total, trainable) parameter counts of ``model`` (shared parameters counted once)."""
    parameters = list(model.parameters())
    return sum(p.numel() for p in parameters), sum(p.numel() for p in parameters if p.requires_grad)


def summarize(model: nn.Module) -> list[SummaryRow]:
    """One row per layer of a network built by :func:`mirmodels.build_model` (per direct child
    module, without shapes, for any other ``nn.Module``)."""
    if hasattr(model, "layers") and hasattr(model, "records"):
        return [SummaryRow(record.path, record.name, tuple(record.output_shape), count_parameters(module)[0])
                for record, module in model.layers()]
    return [SummaryRow(name, type(child).__name__, None, count_parameters(child)[0])
            for name, child in model.named_children()]


def _shape(shape: Sequence[int] | None) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def format_summary(model: nn.Module) -> str:
    """The summary table as text: a header, one line per layer, then total / trainable counts."""
    rows = summarize(model)
    table = [("layer", "type", "output shape", "params")]
    table += [(row.path, row.name, _shape(row.output_shape), f"{row.parameters:,}") for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(4)]
    lines = []
    name = getattr(model, "name", type(model).__name__)
    if hasattr(model, "input_shape"):
        lines.append(f"{name}: input {_shape(model.input_shape)} -> output {_shape(model.output_shape)} (batch excluded)")
    for index, line in enumerate(table):
        lines.append("  ".join([line[0].ljust(widths[0]), line[1].ljust(widths[1]), line[2].ljust(widths[2]),
                                line[3].rjust(widths[3])]).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    total, trainable = count_parameters(model)
    lines.append(f"total parameters: {total:,}")
    lines.append(f"trainable parameters: {trainable:,}")
    return "\n".join(lines)


#: the most values one example of ``--input-shape`` may hold (2**27 float32 = 512 MiB)
MAX_INPUT_VALUES = 2**27


def parse_shape(text: str) -> tuple[int, ...]:
    """``"6,360,64"`` → ``(6, 360, 64)`` (any rank; ``x`` also separates).

    Raises
    ------
    MirError
        When an item is empty or not a positive integer (``"6,,64"`` is refused, not read as
        ``(6, 64)``).
    """
    items = [item.strip() for item in re.split(r"[,xX]", str(text))]
    try:
        shape = tuple(int(item) for item in items)
    except ValueError:
        shape = ()
    if not shape or any(size <= 0 for size in shape):
        raise MirError(f"--input-shape {text!r}: expected positive integers separated by commas, e.g. 6,360,64")
    values = math.prod(shape)
    if values > MAX_INPUT_VALUES:  # the summary runs one example through the network
        raise MirError(f"--input-shape {text!r}: {values:,} values per example ({values * 4 / 2**30:.1f} GiB as "
                       f"float32); at most {MAX_INPUT_VALUES:,}")
    return shape
