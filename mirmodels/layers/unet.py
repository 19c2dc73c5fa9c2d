"""Skip-connection bricks for U-Nets: StoreAs KEY, CatWith KEY, DoubleChannel, Recall KEY.

The built model threads one dictionary through a forward pass (created afresh for every
call, never kept on the module): ``StoreAs`` puts the current tensor in it, ``CatWith``
concatenates the stored tensor after the current one on the channel axis.
"""

from __future__ import annotations

import torch
from torch import nn

from pyjama_tools.core.errors import ParameterError
from mirmodels.layers.registry import LayerInputError, register_layer


def _key(key) -> str:
    if not isinstance(key, str) or not key:
        raise ParameterError(f"key={key!r}: expected a non-empty name")
    return key


@register_layer("StoreAs", positional="key")
class StoreAs(nn.Module):
    """Keep the current tensor under ``key`` (returns it unchanged)."""

    uses_store = True

    def __init__(self, key: str):
        super().__init__()
        self.key = _key(key)

    def forward(self, x: torch.Tensor, store: dict[str, torch.Tensor]) -> torch.Tensor:
        store[self.key] = x
        return x

    def extra_repr(self) -> str:
        return f"key={self.key!r}"


@register_layer("CatWith", positional="key")
class CatWith(nn.Module):
    """Concatenate the tensor stored under ``key`` after the current one on axis ``dim`` (1 =
    channels); every other axis must match."""

    uses_store = True

    def __init__(self, key: str, dim: int = 1):
        super().__init__()
        self.key = _key(key)
        self.dim = dim

    def forward(self, x: torch.Tensor, store: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.key not in store:
            raise LayerInputError(f"no tensor stored as {self.key!r} before this layer "
                           f"(stored: {', '.join(map(repr, store)) or 'none'})")
        other = store[self.key]
        keep = [a for a in range(x.dim()) if a != self.dim % x.dim()]
        if other.dim() != x.dim() or [x.shape[a] for a in keep] != [other.shape[a] for a in keep]:
            raise LayerInputError(f"cannot concatenate stored {self.key!r} {tuple(other.shape[1:])} with incoming "
                             f"{tuple(x.shape[1:])}: sizes differ off axis {self.dim}")
        return torch.cat((x, other), dim=self.dim)

    def extra_repr(self) -> str:
        return f"key={self.key!r}"


@register_layer("DoubleChannel")
class DoubleChannel(nn.Module):
    """Identity, kept so the tutorial's U-Net YAML loads unchanged.

    The tutorial tracked shapes by hand and needed this marker to double the channel count
    after a ``CatWith``; here shapes are measured by running each layer, so the count after
    ``CatWith`` is already right and this layer changes nothing.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


@register_layer("Recall", positional="key")
class Recall(nn.Module):
    """Continue from the tensor stored under ``key`` (the current one is dropped): lets one
    YAML stream branch, e.g. keep the input, compute a summary for ``FiLM``, then come back."""

    uses_store = True

    def __init__(self, key: str):
        super().__init__()
        self.key = _key(key)

    def forward(self, x: torch.Tensor, store: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.key not in store:
            raise LayerInputError(f"no tensor stored as {self.key!r} before this layer "
                           f"(stored: {', '.join(map(repr, store)) or 'none'})")
        return store[self.key]

    def extra_repr(self) -> str:
        return f"key={self.key!r}"
