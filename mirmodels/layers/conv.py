"""Convolution bricks: Conv1d, Conv2d, ConvTranspose2d (PyTorch's own) and the book's blocks
Conv2dDS (depthwise separable), Conv2dRes (ResNet), Conv2dNext (ConvNeXt), Conv1dTCN (TCN).

Shapes: 1-D layers take (B, C, T); 2-D layers take (B, C, F, T).  A dilated Conv1d is the
plain ``Conv1d`` with its ``dilation`` parameter.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from pyjama_tools.core.errors import ParameterError
from mirmodels.layers.registry import CHANNELS, register_layer

register_layer("Conv1d", infer={"in_channels": CHANNELS})(nn.Conv1d)
register_layer("Conv2d", infer={"in_channels": CHANNELS})(nn.Conv2d)
register_layer("ConvTranspose2d", infer={"in_channels": CHANNELS})(nn.ConvTranspose2d)

Size2 = int | Sequence[int]


def _pair(value: Size2, name: str) -> tuple[int, int]:
    """``k`` or ``(kf, kt)`` → ``(kf, kt)``; raises ParameterError naming ``name`` otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if isinstance(value, Sequence) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return (int(value[0]), int(value[1]))
    raise ParameterError(f"{name}={value!r}: expected an int or a pair of ints")


def _check_same(padding: str, stride: Size2, layer: str) -> None:
    if padding != "same":
        raise ParameterError(f"padding={padding!r}: {layer} only supports padding 'same'")


@register_layer("Conv2dDS", infer={"in_channels": CHANNELS})
class Conv2dDS(nn.Module):
    """Depthwise-separable 2-D convolution: a per-channel (grouped) convolution then a 1×1 mix.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels in and out.
    kernel_size : int or (int, int)
        Kernel of the depthwise convolution (frequency, time).
    stride : int or (int, int)
        Stride of the depthwise convolution.
    padding : 'same', 'valid' or int
        Padding of the depthwise convolution; 'valid' when left out, as in the tutorial's factory
        (and as for Conv2d).
    kernels_per_layer : int
        Depthwise filters per input channel (channel multiplier).
    bias : bool
        Learn biases.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Size2 = 3,
        stride: Size2 = 1,
        padding: str | int = "valid",
        kernels_per_layer: int = 1,
        bias: bool = True,
    ):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels * kernels_per_layer, _pair(kernel_size, "kernel_size"),
                                   stride=stride, padding=padding, groups=in_channels, bias=bias)
        self.pointwise = nn.Conv2d(in_channels * kernels_per_layer, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, F, T) → (B, C_out, F', T')."""
        return self.pointwise(self.depthwise(x))


@register_layer("Conv2dRes", infer={"in_channels": CHANNELS})
class Conv2dRes(nn.Module):
    """ResNet basic block as in the tutorial: conv-BN-ReLU-conv-BN plus a shortcut, then ReLU.

    Both convolutions have biases (the tutorial's ``nn.Conv2d`` defaults); the shortcut is the
    identity, or a 1×1 convolution with bias and *no* BatchNorm when the channels (or the stride)
    change.  Parameters per block: ``C_in·C_out·k + C_out`` + ``C_out·C_out·k + C_out`` + 4·C_out
    (two BatchNorms) [+ ``C_in·C_out + C_out`` for the 1×1 shortcut], with k = kf·kt.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels in and out.
    kernel_size : int or (int, int)
        Kernel of both convolutions (odd sizes keep the shape exactly).
    stride : int or (int, int)
        Stride of the first convolution and of the shortcut; the tutorial's block only has 1
        (which keeps (F, T)); other strides are an extension of ours.
    padding : 'same'
        Only 'same' (the residual sum needs matching shapes); kept for the tutorial's YAML.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Size2 = 3, stride: Size2 = 1,
                 padding: str = "same"):
        super().__init__()
        _check_same(padding, stride, "Conv2dRes")
        kernel = _pair(kernel_size, "kernel_size")
        strides = _pair(stride, "stride")
        first_padding: str | tuple[int, int] = "same" if strides == (1, 1) else (kernel[0] // 2, kernel[1] // 2)
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel, stride=strides, padding=first_padding),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, kernel, padding="same"),
            nn.BatchNorm2d(out_channels),
        )
        if in_channels != out_channels or strides != (1, 1):
            self.shortcut: nn.Module = nn.Conv2d(in_channels, out_channels, 1, stride=strides)
        else:
            self.shortcut = nn.Identity()
        self.activation = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, F, T) → (B, C_out, F / stride, T / stride)."""
        return self.activation(self.body(x) + self.shortcut(x))


@register_layer("Conv2dNext", infer={"in_channels": CHANNELS})
class Conv2dNext(nn.Module):
    """ConvNeXt block (Liu et al. 2022) as in the tutorial: depthwise k×k conv (with bias),
    LayerNorm over channels (eps 1e-6), 1×1 expansion ×``expansion`` with GELU, 1×1 projection,
    residual sum.  No layer scale by default (the tutorial has none), no stochastic depth.

    Parameters per block (C channels, k = kf·kt, e = expansion): ``C·k + C`` + ``2·C`` +
    ``C·eC + eC`` + ``eC·C + C``.

    Parameters
    ----------
    in_channels : int
        Channels (the residual keeps them).
    out_channels : int, optional
        Must equal ``in_channels`` (accepted for the tutorial's YAML).
    kernel_size : int or (int, int)
        Depthwise kernel (7, the tutorial's fixed size).
    stride, padding :
        Only 1 and 'same' (accepted for the tutorial's YAML).
    expansion : int
        Width factor of the inverted bottleneck (4).
    layer_scale_init : float
        Initial value of a learnable per-channel residual scale as in the ConvNeXt paper; 0 (the
        default, as in the tutorial) leaves it out.
    eps : float
        LayerNorm epsilon.
    """

    def __init__(self, in_channels: int, out_channels: int | None = None, kernel_size: Size2 = 7, stride: Size2 = 1,
                 padding: str = "same", expansion: int = 4, layer_scale_init: float = 0.0, eps: float = 1e-6):
        super().__init__()
        if out_channels is not None and out_channels != in_channels:
            raise ParameterError(f"out_channels={out_channels}: Conv2dNext keeps its {in_channels} input channels "
                                 "(residual block); use a Conv2d to change them")
        _check_same(padding, stride, "Conv2dNext")
        if _pair(stride, "stride") != (1, 1):
            raise ParameterError(f"stride={stride!r}: Conv2dNext only supports stride 1")
        if expansion < 1:
            raise ParameterError(f"expansion={expansion}: must be >= 1")
        if layer_scale_init < 0:
            raise ParameterError(f"layer_scale_init={layer_scale_init}: must be >= 0 (0 leaves the scale out)")
        self.depthwise = nn.Conv2d(in_channels, in_channels, _pair(kernel_size, "kernel_size"), padding="same",
                                   groups=in_channels)
        self.norm = nn.LayerNorm(in_channels, eps=eps)
        self.expand = nn.Linear(in_channels, expansion * in_channels)
        self.activation = nn.GELU()
        self.project = nn.Linear(expansion * in_channels, in_channels)
        self.scale = nn.Parameter(torch.full((in_channels,), float(layer_scale_init))) if layer_scale_init > 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, F, T) → (B, C, F, T)."""
        y = self.depthwise(x).permute(0, 2, 3, 1)  # channels last for LayerNorm / Linear
        y = self.project(self.activation(self.expand(self.norm(y))))
        if self.scale is not None:
            y = y * self.scale
        return x + y.permute(0, 3, 1, 2)


class WeightNormConv1d(nn.Module):
    """A Conv1d whose kernel is ``g · v / ||v||`` (weight normalization, Salimans & Kingma 2016),
    the norm taken per output channel; parameters ``weight_g`` (C_out, 1, 1), ``weight_v`` and
    ``bias`` as in :func:`torch.nn.utils.weight_norm`, but a plain module (it pickles and
    deep-copies, which the hook and parametrization versions do not always do).

    Parameters
    ----------
    in_channels, out_channels, kernel_size, dilation : int
        As in :class:`torch.nn.Conv1d` (no padding: the caller pads).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1):
        super().__init__()
        conv = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation)  # PyTorch's initialisation
        self.dilation = (int(dilation),)  # a tuple, as nn.Conv1d keeps it
        self.weight_v = nn.Parameter(conv.weight.detach().clone())
        self.weight_g = nn.Parameter(torch.linalg.vector_norm(self.weight_v.detach(), dim=(1, 2), keepdim=True))
        self.bias = nn.Parameter(conv.bias.detach().clone())

    def weight(self) -> torch.Tensor:
        """The effective kernel (C_out, C_in, K)."""
        return self.weight_g * self.weight_v / torch.linalg.vector_norm(self.weight_v, dim=(1, 2), keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, T) → (B, C_out, T - dilation·(K - 1))."""
        return nn.functional.conv1d(x, self.weight(), self.bias, dilation=self.dilation)


class _TemporalBlock(nn.Module):
    """Two causal dilated weight-normalized convolutions with ReLU and dropout, plus a residual
    (a 1×1 Conv1d when the channels change) and a final ReLU (Bai et al. 2018, the tutorial's block)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int, dropout: float):
        super().__init__()
        left = (kernel_size - 1) * dilation  # causal: pad the past only, output length = input length
        self.net = nn.Sequential(
            nn.ConstantPad1d((left, 0), 0.0), WeightNormConv1d(in_channels, out_channels, kernel_size, dilation),
            nn.ReLU(), nn.Dropout(dropout),
            nn.ConstantPad1d((left, 0), 0.0), WeightNormConv1d(out_channels, out_channels, kernel_size, dilation),
            nn.ReLU(), nn.Dropout(dropout),
        )
        if in_channels != out_channels:
            self.residual: nn.Module = nn.Conv1d(in_channels, out_channels, 1)
            nn.init.normal_(self.residual.weight, 0.0, 0.01)  # the TCN reference's initialisation
        else:
            self.residual = nn.Identity()
        self.activation = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.net(x) + self.residual(x))


@register_layer("Conv1dTCN", infer={"in_channels": CHANNELS})
class Conv1dTCN(nn.Module):
    """Temporal convolutional network: one residual block per entry of ``num_channels``, block i
    dilated by 2**i (1, 2, 4, ...), causal padding so the time length is kept.

    Each block: two weight-normalized causal convolutions (``2·C_out`` more parameters than
    plain ones, as in the tutorial's ``TemporalConvNet``) and a 1×1 residual when the channels change.

    Parameters
    ----------
    in_channels : int
        Input channels.
    num_channels : list of int
        Output channels of each block, e.g. [4, 8, 16, 32].
    kernel_size : int
        Kernel of every convolution.
    dropout : float
        Dropout probability inside the blocks.
    """

    def __init__(self, in_channels: int, num_channels: Sequence[int], kernel_size: int = 2, dropout: float = 0.2):
        super().__init__()
        if isinstance(num_channels, (str, bytes)) or not isinstance(num_channels, Sequence) or not num_channels \
                or not all(isinstance(c, int) and c > 0 for c in num_channels):
            raise ParameterError(f"num_channels={num_channels!r}: expected a non-empty list of positive ints")
        if not 0.0 <= dropout < 1.0:
            raise ParameterError(f"dropout={dropout}: expected 0 <= dropout < 1")
        blocks = []
        channels = in_channels
        for index, out_channels in enumerate(num_channels):
            blocks.append(_TemporalBlock(channels, out_channels, kernel_size, 2 ** index, dropout))
            channels = out_channels
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, T) → (B, num_channels[-1], T)."""
        return self.blocks(x)
