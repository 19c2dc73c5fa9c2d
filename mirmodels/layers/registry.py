"""The layer registry: YAML layer names → builders, with the rules to infer ``-1`` parameters.

A brick is any callable returning an :class:`torch.nn.Module` (usually the module class
itself) registered under its YAML name::

    from mirmodels.layers import register_layer, CHANNELS

    @register_layer("Gain", infer={"channels": CHANNELS})
    class Gain(torch.nn.Module):
        def __init__(self, channels: int, value: float = 1.0): ...

A parameter written ``-1`` in the YAML is replaced, before the builder is called, by the
value that ``infer[name]`` computes from the incoming tensor (see :class:`InferContext`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Mapping

from pyjama_tools.core.errors import MirError
from pyjama_tools.core.registry import Registry


class LayerInputError(MirError, ValueError):
    """Raised by a brick's ``forward`` when the incoming tensor cannot fit it (wrong rank, axis
    not of size 1, mismatched concatenation); the message describes the shapes."""


@dataclass(frozen=True)
class InferContext:
    """What an inference rule may look at.

    Attributes
    ----------
    shape : tuple of int
        Shape of the incoming probe tensor, *including* the batch axis (size 2).
    params : Mapping
        The layer's parameters as written (``$variables`` already substituted).
    stored : Mapping[str, tuple of int]
        Shapes (with batch) of the tensors kept so far by ``StoreAs``.
    """

    shape: tuple[int, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    stored: Mapping[str, tuple[int, ...]] = field(default_factory=dict)


InferRule = Callable[[InferContext], Any]


def CHANNELS(context: InferContext) -> int:
    """Axis 1 of the incoming tensor: channels of (B, C, ...) or features of (B, D)."""
    if len(context.shape) < 2:
        raise MirError(f"cannot infer a channel count from shape {context.shape[1:]}")
    return int(context.shape[1])


def LAST(context: InferContext) -> int:
    """The last axis of the incoming tensor: features of (B, D) or (B, T, D)."""
    return int(context.shape[-1])


def TRAILING(context: InferContext) -> list[int]:
    """Every axis but the batch: ``normalized_shape`` of a LayerNorm over the whole example."""
    return [int(size) for size in context.shape[1:]]


@dataclass(frozen=True)
class LayerSpec:
    """One registered brick.

    Attributes
    ----------
    name : str
        The YAML name.
    builder : callable
        Called with the (resolved) parameters as keyword arguments; returns an ``nn.Module``.
    infer : Mapping[str, InferRule]
        Parameters that may be written ``-1`` and how to compute them.
    positional : str or None
        The parameter that receives a bare (non-mapping) YAML value, e.g. ``[Activation, ReLU]``
        → ``name="ReLU"``; ``None`` when the layer takes no bare value.
    """

    name: str
    builder: Callable[..., Any]
    infer: Mapping[str, InferRule] = field(default_factory=dict)
    positional: str | None = None


#: YAML layer name → its spec (names are case-sensitive; a case slip is suggested)
LAYERS: Registry[LayerSpec] = Registry("layer", cutoff=0.5)
_REGISTRY = LAYERS


def register_layer(
    name: str,
    *,
    infer: Mapping[str, InferRule] | None = None,
    positional: str | None = None,
    replace: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering a module class (or factory function) under a YAML layer name.

    Parameters
    ----------
    name : str
        The name used in ``layer_l`` entries, e.g. ``"Conv2d"``.
    infer : mapping, optional
        ``{parameter: rule}`` for parameters that may be written ``-1``; ``rule`` receives an
        :class:`InferContext` and returns the value.
    positional : str, optional
        Parameter receiving a bare YAML value (``[StoreAs, E64]`` → ``key="E64"``).
    replace : bool
        Allow replacing another builder already registered under ``name``.

    Raises
    ------
    MirError
        When ``name`` is already taken by another builder and ``replace`` is false.
    """

    def decorate(builder: Callable[..., Any]) -> Callable[..., Any]:
        existing = LAYERS.get(name)
        same_builder = existing is not None and existing.builder is builder  # registered again: accepted
        LAYERS.add(name, LayerSpec(name, builder, dict(infer or {}), positional), replace=replace or same_builder)
        return builder

    return decorate


def get_layer(name: str) -> LayerSpec:
    """The spec registered under ``name``.

    Raises
    ------
    MirError
        Unknown name; the message suggests the closest known names (a case slip too) and lists them all.
    """
    return LAYERS.lookup(name)


def layer_names() -> list[str]:
    """All registered YAML layer names, sorted."""
    return LAYERS.names()
