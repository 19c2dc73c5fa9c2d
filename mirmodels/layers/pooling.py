"""Pooling bricks: MaxPool1d/2d (PyTorch's), Mean, Max, and the attention poolings
AutoPoolWeight, AutoPoolWeightSplit, SoftmaxWeight.

The attention poolings reduce one axis (``dim``, the last = time by default) to size 1
(kept, as in the tutorial: (B, C, 1, T) → (B, C, 1, 1)):

- ``AutoPoolWeight``: auto-pool (McFee, Salamon & Bello 2018) of each value by its own
  magnitude: weights ``softmax(α·x)`` along ``dim``, output ``Σ_t w_t x_t``.  α is one learnable
  scalar (initial 0 = mean pooling; α → ∞ tends to max pooling, α = 1 is a softmax-weighted mean).
- ``AutoPoolWeightSplit``: the channel-split variant used by MOVE (Yesiler et al. 2020) and the
  tutorial: the C channels are split in two halves, the FIRST half are the values, the SECOND
  half the attention logits; weights ``softmax(α·a)`` along ``dim``; output has C/2 channels.
- ``SoftmaxWeight``: the same split with α fixed to 1 (plain softmax attention).
"""

from __future__ import annotations

import torch
from torch import nn

from pyjama_tools.core.errors import ParameterError
from mirmodels.layers.registry import CHANNELS, register_layer

register_layer("MaxPool1d")(nn.MaxPool1d)
register_layer("MaxPool2d")(nn.MaxPool2d)


@register_layer("Mean")
class Mean(nn.Module):
    """Mean over ``dim`` (an int or a list of ints, batch axis included in the numbering)."""

    def __init__(self, dim: int | list[int] = -1, keepdim: bool = False):
        super().__init__()
        self.dim = tuple(dim) if isinstance(dim, (list, tuple)) else dim
        self.keepdim = keepdim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=self.dim, keepdim=self.keepdim)


@register_layer("Max")
class Max(nn.Module):
    """Maximum over ``dim`` (an int or a list of ints, batch axis included in the numbering)."""

    def __init__(self, dim: int | list[int] = -1, keepdim: bool = False):
        super().__init__()
        self.dim = tuple(dim) if isinstance(dim, (list, tuple)) else dim
        self.keepdim = keepdim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.amax(x, dim=self.dim, keepdim=self.keepdim)


def _weighted_sum(values: torch.Tensor, logits: torch.Tensor, dim: int, keepdim: bool) -> torch.Tensor:
    weights = torch.softmax(logits, dim=dim)  # numerically stable (max subtracted) in PyTorch
    return torch.sum(values * weights, dim=dim, keepdim=keepdim)


def _half(in_channels: int, layer: str) -> int:
    if in_channels < 2 or in_channels % 2:
        raise ParameterError(f"in_channels={in_channels}: {layer} splits the channels in two halves, "
                             "needs an even count")
    return in_channels // 2


@register_layer("AutoPoolWeight")
class AutoPoolWeight(nn.Module):
    """Auto-pool along ``dim`` with one learnable α (see the module docstring).

    Parameters
    ----------
    dim : int
        Axis reduced (batch axis included in the numbering; -1 = last = time).
    keepdim : bool
        Keep the reduced axis with size 1 (the tutorial's behaviour).
    alpha : float
        Initial α (0 = mean pooling).
    """

    def __init__(self, dim: int = -1, keepdim: bool = True, alpha: float = 0.0):
        super().__init__()
        self.dim, self.keepdim = dim, keepdim
        self.alpha = nn.Parameter(torch.tensor(float(alpha)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _weighted_sum(x, self.alpha * x, self.dim, self.keepdim)


@register_layer("AutoPoolWeightSplit", infer={"in_channels": CHANNELS})
class AutoPoolWeightSplit(nn.Module):
    """Channel-split auto-pool: values = channels [0, C/2), attention logits = [C/2, C).

    Parameters
    ----------
    in_channels : int
        C, even (inferred from axis 1).
    dim : int
        Axis reduced (-1 = time).
    keepdim : bool
        Keep the reduced axis with size 1.
    alpha : float
        Initial α (0 = mean pooling of the value half).

    Shapes: (B, C, ..., T) → (B, C/2, ..., 1).
    """

    def __init__(self, in_channels: int, dim: int = -1, keepdim: bool = True, alpha: float = 0.0):
        super().__init__()
        self.half = _half(in_channels, "AutoPoolWeightSplit")
        self.dim, self.keepdim = dim, keepdim
        self.alpha = nn.Parameter(torch.tensor(float(alpha)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values, logits = x[:, : self.half], x[:, self.half:]
        return _weighted_sum(values, self.alpha * logits, self.dim, self.keepdim)


@register_layer("SoftmaxWeight", infer={"in_channels": CHANNELS})
class SoftmaxWeight(nn.Module):
    """Channel-split softmax attention pooling (AutoPoolWeightSplit with α fixed to 1)."""

    def __init__(self, in_channels: int, dim: int = -1, keepdim: bool = True):
        super().__init__()
        self.half = _half(in_channels, "SoftmaxWeight")
        self.dim, self.keepdim = dim, keepdim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _weighted_sum(x[:, : self.half], x[:, self.half:], self.dim, self.keepdim)
