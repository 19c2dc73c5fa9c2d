"""Attention bricks on (B, T, D) tensors: PositionalEncoding (sinusoidal), MultiHeadSelfAttention,
TransformerEncoder (optionally with the positional encoding), and FiLM conditioning."""

from __future__ import annotations

import math

import torch
from torch import nn

from pyjama_tools.core.errors import MirError, ParameterError
from mirmodels.layers.registry import CHANNELS, LAST, InferContext, LayerInputError, register_layer


def sinusoidal_encoding(length: int, d_model: int, device=None, dtype=None) -> torch.Tensor:
    """Sinusoidal positions (Vaswani et al. 2017), shape (length, d_model): even features are
    ``sin(t / 10000^(2i/d))``, odd ones the matching cosine."""
    position = torch.arange(length, device=device, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, d_model, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    encoding = torch.zeros(length, d_model, device=device, dtype=torch.float32)
    encoding[:, 0::2] = torch.sin(position * frequency)
    encoding[:, 1::2] = torch.cos(position * frequency[: d_model // 2])
    return encoding if dtype is None else encoding.to(dtype)


@register_layer("PositionalEncoding", infer={"d_model": LAST})
class PositionalEncoding(nn.Module):
    """Add sinusoidal positions to (B, T, d_model), any T; then dropout."""

    def __init__(self, d_model: int, dropout: float = 0.0):
        super().__init__()
        self.d_model = d_model
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(x + sinusoidal_encoding(x.shape[1], self.d_model, x.device, x.dtype))


@register_layer("MultiHeadSelfAttention", infer={"embed_dim": LAST})
class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention, (B, T, embed_dim) → (B, T, embed_dim) (no residual, no norm)."""

    def __init__(self, embed_dim: int, num_heads: int = 1, dropout: float = 0.0):
        super().__init__()
        if num_heads < 1 or embed_dim % num_heads:
            raise ParameterError(f"num_heads={num_heads}: must divide embed_dim={embed_dim}")
        self.attention = nn.MultiheadAttention(embed_dim, num_heads, dropout=dropout, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attention(x, x, x, need_weights=False)[0]


@register_layer("TransformerEncoder", infer={"d_model": LAST})
class TransformerEncoder(nn.Module):
    """A stack of transformer encoder layers on (B, T, d_model), sinusoidal positions added first.

    Parameters
    ----------
    d_model, nhead, num_layers : int
        Width, heads (must divide d_model), layers.
    dim_feedforward : int, optional
        Hidden width of the feed-forward part (default 4 × d_model).
    dropout : float
        Dropout inside the layers.
    positional_encoding : bool
        Add sinusoidal positions before the first layer.
    norm_first : bool
        Pre-norm layers (more stable for deep stacks).
    """

    def __init__(self, d_model: int, nhead: int = 4, num_layers: int = 1, dim_feedforward: int | None = None,
                 dropout: float = 0.1, positional_encoding: bool = True, norm_first: bool = False):
        super().__init__()
        if nhead < 1 or d_model % nhead:
            raise ParameterError(f"nhead={nhead}: must divide d_model={d_model}")
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward or 4 * d_model, dropout,
                                           batch_first=True, norm_first=norm_first)
        self.positions = PositionalEncoding(d_model) if positional_encoding else nn.Identity()
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.positions(x))


def _condition_width(context: InferContext) -> int:
    key = context.params.get("key")
    if key not in context.stored:
        raise MirError(f"no tensor stored as {key!r} (stored: {', '.join(map(repr, context.stored)) or 'none'})")
    return int(context.stored[key][-1])


@register_layer("FiLM", infer={"in_channels": CHANNELS, "condition_features": _condition_width})
class FiLM(nn.Module):
    """Feature-wise linear modulation (Perez et al. 2018) by a tensor kept with ``StoreAs``.

    The stored condition (B, condition_features) is mapped by one Linear to a scale γ and a
    shift β per channel; the output is ``(1 + γ) · x + β`` on axis 1 of x (B, C, ...), so the
    layer starts close to the identity.

    Parameters
    ----------
    key : str
        Name under which the condition was stored (``[StoreAs, KEY]``).
    in_channels : int
        C of the modulated tensor (inferred from axis 1).
    condition_features : int
        Width of the condition (inferred from the stored tensor's last axis).
    """

    uses_store = True

    def __init__(self, key: str, in_channels: int, condition_features: int):
        super().__init__()
        self.key = str(key)
        self.in_channels = in_channels
        self.to_scale_shift = nn.Linear(condition_features, 2 * in_channels)

    def forward(self, x: torch.Tensor, store: dict[str, torch.Tensor]) -> torch.Tensor:
        condition = store[self.key]
        if condition.dim() != 2:
            raise LayerInputError(f"FiLM condition {self.key!r} must be (B, features), "
                                  f"got {tuple(condition.shape[1:])} per example")
        scale, shift = self.to_scale_shift(condition).chunk(2, dim=1)
        view = (x.shape[0], self.in_channels) + (1,) * (x.dim() - 2)
        return (1 + scale.view(view)) * x + shift.view(view)
