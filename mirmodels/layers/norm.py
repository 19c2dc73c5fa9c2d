"""Normalization bricks: LayerNorm, BatchNorm1d, BatchNorm1dT, BatchNorm2d."""

from __future__ import annotations

import torch
from torch import nn

from mirmodels.layers.registry import CHANNELS, LAST, TRAILING, register_layer

register_layer("LayerNorm", infer={"normalized_shape": TRAILING})(nn.LayerNorm)
# BatchNorm1d normalizes axis 1 of (B, C) or (B, C, T): infer from axis 1 (the tutorial took
# the last axis, which is the same for (B, D) and wrong for (B, C, T) unless T == C).
register_layer("BatchNorm1d", infer={"num_features": CHANNELS})(nn.BatchNorm1d)
register_layer("BatchNorm2d", infer={"num_features": CHANNELS})(nn.BatchNorm2d)


@register_layer("BatchNorm1dT", infer={"num_features": LAST})
class BatchNorm1dT(nn.Module):
    """Batch normalization over the last axis of a (B, T, C) tensor (features last).

    Parameters
    ----------
    num_features : int
        C, the size of the last axis.
    affine : bool
        Learn a scale and a shift per feature.
    eps, momentum : float
        As in :class:`torch.nn.BatchNorm1d`.
    """

    def __init__(self, num_features: int, affine: bool = True, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.norm = nn.BatchNorm1d(num_features, eps=eps, momentum=momentum, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) → (B, T, C)."""
        return self.norm(x.transpose(1, -1)).transpose(1, -1)
