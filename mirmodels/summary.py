"""A per-layer table of a built network: YAML path, layer name, output shape, parameter count."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Mapping, Sequence

from torch import nn

from pyjama_tools.core.errors import MirError
from pyjama_tools.core.yamlfile import read_yaml

__all__ = ["SummaryRow", "build_for_summary", "count_parameters", "dataset_n_out", "format_summary", "parameter_bytes",
           "parse_shape", "summarize"]


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


def parameter_bytes(model: nn.Module) -> int:
    """Bytes the parameters take (``numel × element size``; 4 per float32 parameter)."""
    return sum(p.numel() * p.element_size() for p in model.parameters())


def dataset_n_out(config: str | Path | Mapping[str, Any]) -> int | None:
    """``dataset.n_out`` of an experiment config when it is an int (the tutorial's files give it
    for tagging and chords); None for ``auto``, a model-only file or no such key.

    Raises
    ------
    MirError
        The file cannot be read, or ``dataset.n_out`` is neither an int >= 1 nor ``auto``.
    """
    from mirmodels.config.fields import n_out_value, unknown_key
    from mirmodels.config.schema import IGNORED_TOP_LEVEL, SECTIONS

    document = read_yaml(Path(config)) if isinstance(config, (str, Path)) else config
    if isinstance(document, Mapping) and "model" in document:  # an experiment config: its sections by name
        for key in document:
            if key not in SECTIONS and key not in IGNORED_TOP_LEVEL:
                where = f"{config}: " if isinstance(config, (str, Path)) else ""
                raise MirError(where + unknown_key(str(key), str(key), SECTIONS))
    dataset = document.get("dataset") if isinstance(document, Mapping) else None
    if not isinstance(dataset, Mapping):
        return None
    try:
        value = n_out_value(dataset.get("n_out"))
    except ValueError as error:
        where = f"{config}: " if isinstance(config, (str, Path)) else ""
        raise MirError(f"{where}dataset.n_out: {error}, got {dataset.get('n_out')!r}") from None
    return None if value == "auto" else value


def build_for_summary(config: str | Path | Mapping[str, Any], input_shape: Sequence[int],
                      variables: Mapping[str, Any] | None = None, n_out: int | None = None) -> nn.Module:
    """The network ``mirmodels summary`` shows: the model of ``config`` (a model file, or an
    experiment config such as the tutorial's ``config_*.yaml``) built for ``input_shape``, its
    output sized to ``n_out``, or else to the file's own ``dataset.n_out`` where the model has
    an output to size (``$n_out`` or a Linear; a multi-pitch map is built as written).

    Raises
    ------
    MirError
        Unreadable file, bad ``dataset.n_out``, or a model that cannot be built (one line naming
        the YAML path).
    """
    from mirmodels.factory import NoOutputLayerError, build_model

    if n_out is not None:
        return build_model(config, input_shape, variables=variables, n_out=n_out)
    n_out = dataset_n_out(config)
    try:
        return build_model(config, input_shape, variables=variables, n_out=n_out)
    except NoOutputLayerError:  # the file's n_out counts bins, not a layer's outputs
        return build_model(config, input_shape, variables=variables)


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
    resize = getattr(model, "output_resize", None)
    if resize is not None:
        lines.insert(1, resize.describe())
    total, trainable = count_parameters(model)
    lines.append(f"parameter size: {parameter_bytes(model) / 1e6:.3f} MB (1 MB = 10^6 bytes)")
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
