"""Optimizers registered by name (``adam``, ``adamw``, ``sgd``).

The experiment config names an optimizer (``train.optimizer: adam``); :func:`build_optimizer`
turns that name plus the learning rate, weight decay and momentum into a ``torch.optim``
optimizer.  A new optimizer is one new entry in :data:`OPTIMIZERS` (via :func:`register_optimizer`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch

from pyjama_tools.core.errors import ParameterError
from pyjama_tools.core.registry import Registry

__all__ = ["OPTIMIZERS", "register_optimizer", "optimizer_names", "build_optimizer", "check_optimizer_params"]

# name -> builder(params, lr, weight_decay, momentum) -> torch.optim.Optimizer
OptimizerBuilder = Callable[[Iterable, float, float, float], torch.optim.Optimizer]
OPTIMIZERS: Registry[OptimizerBuilder] = Registry("optimizer", error=ParameterError, fold_case=True)


def register_optimizer(name: str) -> Callable[[OptimizerBuilder], OptimizerBuilder]:
    """Decorator registering ``builder(params, lr, weight_decay, momentum)`` under ``name``."""
    return OPTIMIZERS.register(name)


@register_optimizer("adam")
def _adam(params, lr: float, weight_decay: float, momentum: float) -> torch.optim.Optimizer:
    # momentum is SGD's; Adam keeps its default betas (0.9, 0.999).
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


@register_optimizer("adamw")
def _adamw(params, lr: float, weight_decay: float, momentum: float) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


@register_optimizer("sgd")
def _sgd(params, lr: float, weight_decay: float, momentum: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, momentum=momentum)


def optimizer_names() -> list[str]:
    """Names of the registered optimizers, sorted."""
    return OPTIMIZERS.names()


def check_optimizer_params(name: str, lr: float, weight_decay: float = 0.0, momentum: float = 0.9) -> None:
    """Validate an optimizer name and its hyper-parameters without building anything.

    Raises
    ------
    ParameterError
        One line naming the parameter, the value and what is allowed.
    """
    OPTIMIZERS.lookup(name)
    for label, value, low in (("lr", lr, "> 0"), ("weight_decay", weight_decay, ">= 0"), ("momentum", momentum, "in [0, 1)")):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ParameterError(f"{label}={value!r}: expected a finite number {low}")
    if lr <= 0:
        raise ParameterError(f"lr={lr!r}: the learning rate must be > 0")
    if weight_decay < 0:
        raise ParameterError(f"weight_decay={weight_decay!r}: must be >= 0")
    if not 0 <= momentum < 1:
        raise ParameterError(f"momentum={momentum!r}: must be in [0, 1)")


def build_optimizer(
    name: str,
    params: Iterable,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    momentum: float = 0.9,
) -> torch.optim.Optimizer:
    """Build a registered optimizer over ``params``.

    Parameters
    ----------
    name : str
        ``adam``, ``adamw`` or ``sgd`` (case-insensitive); see :func:`optimizer_names`.
    params : iterable
        Model parameters or parameter groups (``model.parameters()``).
    lr : float
        Learning rate, > 0.
    weight_decay : float
        L2 penalty (decoupled for ``adamw``), >= 0.
    momentum : float
        SGD momentum in [0, 1); ignored by Adam/AdamW.

    Returns
    -------
    torch.optim.Optimizer

    Raises
    ------
    ParameterError
        Unknown name (the message lists the known ones) or a bad hyper-parameter.
    """
    check_optimizer_params(name, lr, weight_decay, momentum)
    return OPTIMIZERS.lookup(name)(params, float(lr), float(weight_decay), float(momentum))
