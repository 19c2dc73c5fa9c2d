"""Recurrent bricks on (B, T, C) tensors (batch first, features last): LSTMlast, LSTMall, GRU."""

from __future__ import annotations

import torch
from torch import nn

from pyjama_tools.core.errors import ParameterError
from mirmodels.layers.registry import LAST, register_layer


@register_layer("LSTMlast", infer={"input_size": LAST})
class LSTMlast(nn.Module):
    """LSTM returning the last layer's final hidden state: (B, T, input_size) → (B, hidden_size).

    Parameters
    ----------
    input_size, hidden_size, num_layers : int
        As in :class:`torch.nn.LSTM`.
    dropout : float
        Dropout between stacked layers.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers=num_layers, batch_first=True, dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(x)
        return hidden[-1]


@register_layer("LSTMall", infer={"input_size": LAST})
class LSTMall(nn.Module):
    """Bidirectional LSTM returning every step: (B, T, input_size) → (B, T, hidden_size).

    ``hidden_size`` is the TOTAL output width (the tutorial's convention): each direction has
    ``hidden_size / 2`` units, so it must be even.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        if hidden_size < 2 or hidden_size % 2:
            raise ParameterError(f"hidden_size={hidden_size}: LSTMall splits it over two directions, needs an even value")
        self.lstm = nn.LSTM(input_size, hidden_size // 2, num_layers=num_layers, batch_first=True,
                            bidirectional=True, dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.lstm(x)
        return output


@register_layer("GRU", infer={"input_size": LAST})
class GRU(nn.Module):
    """GRU returning every step: (B, T, input_size) → (B, T, hidden_size × (2 if bidirectional else 1)).

    ``hidden_size`` is per direction, as in :class:`torch.nn.GRU`.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bidirectional: bool = False,
                 dropout: float = 0.0):
        super().__init__()
        self.gru = nn.GRU(input_size, hidden_size, num_layers=num_layers, batch_first=True,
                          bidirectional=bidirectional, dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.gru(x)
        return output
