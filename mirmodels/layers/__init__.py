"""The bricks of ``mirmodels`` networks, each registered under its YAML layer name.

Families live in small modules (``norm``, ``conv``, ``sinc``, ``pooling``, ``recurrent``,
``attention``, ``dense``, ``shape``, ``unet``); importing this package registers them all.
Add your own with :func:`register_layer` from any module, before building the model.
"""

from mirmodels.layers.registry import (
    CHANNELS,
    LAST,
    LAYERS,
    TRAILING,
    InferContext,
    LayerInputError,
    LayerSpec,
    get_layer,
    layer_names,
    register_layer,
)
from mirmodels.layers import attention, conv, dense, norm, pooling, recurrent, shape, sinc, spectral, unet  # noqa: F401  (registration)

__all__ = ["CHANNELS", "LAST", "LAYERS", "TRAILING", "InferContext", "LayerInputError", "LayerSpec", "get_layer",
           "layer_names", "register_layer"]
