"""Shape bricks: Flatten (PyTorch's), Squeeze, UnSqueeze, Permute, Reshape.

Axis numbers count the batch axis (0), as in PyTorch and the tutorial's YAML.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from pyjama_tools.core.errors import ParameterError
from mirmodels.layers.registry import LayerInputError, register_layer

register_layer("Flatten")(nn.Flatten)


def _axes(value, name: str) -> tuple[int, ...]:
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise ParameterError(f"{name}={value!r}: expected an axis (int) or a list of axes")
    return tuple(values)


@register_layer("Squeeze", positional="dim")
class Squeeze(nn.Module):
    """Remove size-1 axes ``dim`` (an int or a list); an axis whose size is not 1 is an error
    (PyTorch would silently keep it)."""

    def __init__(self, dim: int | Sequence[int]):
        super().__init__()
        self.dim = _axes(dim, "dim")
        if 0 in self.dim:
            raise ParameterError(f"dim={dim!r}: axis 0 is the batch, it cannot be squeezed")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for axis in self.dim:
            if not -x.dim() <= axis < x.dim() or x.shape[axis] != 1:
                size = "out of range" if not -x.dim() <= axis < x.dim() else f"of size {x.shape[axis]}"
                raise LayerInputError(f"cannot squeeze axis {axis} {size} (shape with batch {tuple(x.shape)})")
        return x.squeeze(self.dim)


@register_layer("UnSqueeze", positional="dim")
class UnSqueeze(nn.Module):
    """Insert a size-1 axis at ``dim``."""

    def __init__(self, dim: int):
        super().__init__()
        (self.dim,) = _axes(dim, "dim")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(self.dim)


@register_layer("Permute", positional="shape")
class Permute(nn.Module):
    """Reorder the axes: ``shape`` is a permutation of 0..rank-1 that keeps 0 (the batch) first."""

    def __init__(self, shape: Sequence[int]):
        super().__init__()
        self.shape = _axes(shape, "shape")
        if sorted(self.shape) != list(range(len(self.shape))) or self.shape[0] != 0:
            raise ParameterError(f"shape={list(self.shape)}: expected a permutation of 0..{len(self.shape) - 1} "
                                 "starting with 0 (the batch axis)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != len(self.shape):
            raise LayerInputError(f"permutation {list(self.shape)} needs a rank-{len(self.shape)} tensor, "
                             f"got shape with batch {tuple(x.shape)}")
        return x.permute(self.shape)


@register_layer("Reshape", positional="shape")
class Reshape(nn.Module):
    """Reshape each example to ``shape`` (batch excluded; one entry may be -1, PyTorch's "the
    rest"), e.g. ``[1, -1]`` turns a waveform patch (1, 1, T) or (1, T) into (1, T)."""

    def __init__(self, shape: Sequence[int]):
        super().__init__()
        self.shape = _axes(shape, "shape")
        if sum(1 for size in self.shape if size == -1) > 1 or any(size == 0 or size < -1 for size in self.shape):
            raise ParameterError(f"shape={list(self.shape)}: expected positive sizes and at most one -1")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)
