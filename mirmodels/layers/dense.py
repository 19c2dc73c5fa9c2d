"""Element-wise and dense bricks: Linear, Activation (by name), Dropout, AbsLayer."""

from __future__ import annotations

import inspect

import torch
from torch import nn

from pyjama_tools.core.errors import ParameterError
from pyjama_tools.core.registry import Registry
from mirmodels.layers.registry import LAST, register_layer

register_layer("Linear", infer={"in_features": LAST})(nn.Linear)
register_layer("Dropout")(nn.Dropout)

#: Activation names accepted by ``[Activation, NAME]`` → PyTorch module classes.
ACTIVATIONS: Registry[type[nn.Module]] = Registry("activation", error=ParameterError, cutoff=0.5)
for _cls in (nn.Sigmoid, nn.Softmax, nn.LogSoftmax, nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.GELU,
             nn.SiLU, nn.Mish, nn.Tanh, nn.Softplus, nn.Hardtanh, nn.ReLU6, nn.Identity):
    ACTIVATIONS.add(_cls.__name__, _cls)
del _cls


@register_layer("Activation", positional="name")
def activation(name: str, **options) -> nn.Module:
    """The activation module called ``name`` (``ACTIVATIONS``), built with ``options``.

    ``Softmax`` / ``LogSoftmax`` default to ``dim=1`` (the class / channel axis).

    Raises
    ------
    ParameterError
        Unknown name (with the closest names) or an option the activation does not take.
    """
    cls = ACTIVATIONS.lookup(name)
    if cls in (nn.Softmax, nn.LogSoftmax):
        options.setdefault("dim", 1)
    allowed = [p for p in inspect.signature(cls).parameters if p not in ("device", "dtype", "inplace")]
    unknown = [key for key in options if key not in allowed]
    if unknown:
        raise ParameterError(f"unknown option {unknown[0]!r} for activation {name} (allowed: {', '.join(allowed) or 'none'})")
    return cls(**options)


@register_layer("LogCompress")
class LogCompress(nn.Module):
    """Log compression ``log(1 + factor · x)`` of a non-negative input (e.g. a CQT magnitude).

    The tutorial's log-mel applies this in the feature; for the (H)CQT, whose cached values are the
    tutorial's plain magnitudes, the network can apply it itself (on the GPU when training there).

    Parameters
    ----------
    factor : float
        Gain inside the logarithm (> 0); the LMS feature uses 10000.
    """

    def __init__(self, factor: float = 1.0):
        super().__init__()
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor > 0:
            raise ParameterError(f"factor={factor!r}: expected a number > 0")
        self.factor = float(factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log1p(self.factor * torch.clamp(x, min=0))


@register_layer("AbsLayer")
class AbsLayer(nn.Module):
    """Absolute value, element-wise (after SincNet: band energies)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.abs(x)
