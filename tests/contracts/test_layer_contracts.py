"""Contract of every registered layer (``mirmodels.layers``): it builds through the YAML factory.

Parametrized over the layer registry: every registered name is written as a minimal ``layer_l``
entry, built by :func:`mirmodels.build_model` and run forward on a small batch; the output is
finite and has the shape the factory recorded for it. A misspelt name is one line naming the YAML
path, with the name meant.

A layer that needs parameters (``out_channels``), a bare value (``[Activation, ReLU]``), a tensor
stored before it (``CatWith``) or an input of a given rank has an entry in :data:`LAYER_CASES`.
Any other registered layer is tried with the generic entry ``[Name, {}]`` on the inputs of
:data:`GENERIC_INPUTS`; when none fits, the test fails naming the layer (so a new layer cannot
skip the contract silently: give it an entry).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch

from mirmodels import build_model
from mirmodels import layers
from mirmodels.factory import ModelConfigError
from pyjama_tools.core.errors import MirError

BATCH = 3
#: example shapes (batch excluded) a layer without an entry is tried on, in order
GENERIC_INPUTS = ((4, 8, 8), (4, 16), (16,))


@dataclass(frozen=True)
class Case:
    """How to exercise one layer: the example shape and the ``layer_l`` list holding it."""

    input_shape: tuple[int, ...]
    layer_l: list[Any]
    variables: dict[str, Any] = field(default_factory=dict)


def _stored(entry: list, shape=(4, 8, 8)) -> Case:
    """``entry`` after a tensor stored as ``skip`` (layers that read the store)."""
    return Case(shape, [["StoreAs", "skip"], entry])


#: layers that the generic ``[Name, {}]`` entry cannot build: their parameters and input
LAYER_CASES: dict[str, Case] = {
    "Activation": Case((4, 16), [["Activation", "ReLU"]]),
    "CatWith": _stored(["CatWith", "skip"]),
    "Recall": _stored(["Recall", "skip"]),
    "ResizeLike": Case((4, 8, 8), [["StoreAs", "skip"], ["MaxPool2d", {"kernel_size": 2}], ["ResizeLike", "skip"]]),
    "StoreAs": Case((4, 16), [["StoreAs", "skip"]]),
    "ConditionChannels": Case((3, 64), [["ConditionChannels", {"count": 2}]]),
    "FiLM": Case((4, 16), [["StoreAs", "input"], ["Mean", {"dim": -1}], ["StoreAs", "condition"],
                           ["Recall", "input"], ["FiLM", {"key": "condition"}]]),
    "Conv1d": Case((4, 16), [["Conv1d", {"out_channels": 5, "kernel_size": 3}]]),
    "Conv1dTCN": Case((4, 16), [["Conv1dTCN", {"num_channels": [5, 6], "kernel_size": 2}]]),
    "Conv2d": Case((4, 8, 8), [["Conv2d", {"out_channels": 5, "kernel_size": 3}]]),
    "Conv2dDS": Case((4, 8, 8), [["Conv2dDS", {"out_channels": 5}]]),
    "Conv2dRes": Case((4, 8, 8), [["Conv2dRes", {"out_channels": 5}]]),
    "ConvTranspose2d": Case((4, 8, 8), [["ConvTranspose2d", {"out_channels": 5, "kernel_size": 2, "stride": 2}]]),
    "SincNet": Case((1, 400), [["SincNet", {"out_channels": 4, "kernel_size": 51, "sample_rate": 8000}]]),
    "GRU": Case((16, 4), [["GRU", {"hidden_size": 5}]]),
    "LSTMall": Case((16, 4), [["LSTMall", {"hidden_size": 6}]]),
    "LSTMlast": Case((16, 4), [["LSTMlast", {"hidden_size": 5}]]),
    "Linear": Case((16,), [["Linear", {"out_features": 5}]]),
    "MaxPool1d": Case((4, 16), [["MaxPool1d", {"kernel_size": 2}]]),
    "MaxPool2d": Case((4, 8, 8), [["MaxPool2d", {"kernel_size": 2}]]),
    "MultiHeadSelfAttention": Case((16, 4), [["MultiHeadSelfAttention", {"num_heads": 2}]]),
    "PositionalEncoding": Case((16, 4), [["PositionalEncoding", {}]]),
    "TransformerEncoder": Case((16, 4), [["TransformerEncoder", {"nhead": 2}]]),
    "Permute": Case((4, 16), [["Permute", [0, 2, 1]]]),
    "Reshape": Case((4, 16), [["Reshape", [8, -1]]]),
    "Squeeze": Case((1, 16), [["Squeeze", 1]]),
    "UnSqueeze": Case((4, 16), [["UnSqueeze", 1]]),
    "STFT": Case((1, 512), [["STFT", {"n_fft": 128, "hop_length": 64}]]),
    "ISTFT": Case((1, 512), [["StoreAs", "mixture"], ["STFT", {"n_fft": 128, "hop_length": 64}],
                             ["ISTFT", {"key": "mixture", "n_fft": 128, "hop_length": 64}]]),
    "Mask": Case((1, 512), [["STFT", {"n_fft": 128, "hop_length": 64}], ["StoreAs", "spectrum"],
                            ["Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": "same"}],
                            ["Mask", {"key": "spectrum", "sources": 2}]]),
}


def registered_names() -> list[str]:
    registry = getattr(layers, "LAYERS", None)
    names = [name for name, _ in registry.items()] if registry is not None else layers.layer_names()
    return sorted(names)


NAMES = registered_names()


def model_of(layer_l: list) -> dict:
    return {"model": {"name": "contract", "block_l": [{"sequential_l": [{"layer_l": layer_l}]}]}}


def check_runs(name: str, case: Case) -> None:
    """Build ``case`` and run it forward; the output is finite and has the recorded shape."""
    network = build_model(model_of(case.layer_l), case.input_shape, variables=case.variables)
    assert name in [record.name for record in network.records], f"{name} not among the built layers"
    torch.manual_seed(0)
    x = torch.randn(BATCH, *case.input_shape)
    with torch.no_grad():
        y = network(x)
    assert isinstance(y, torch.Tensor), f"{name}: forward gave {type(y).__name__}"
    assert tuple(y.shape) == (BATCH, *network.records[-1].output_shape), (
        f"{name}: output {tuple(y.shape)}, the factory recorded {network.records[-1].output_shape}")
    assert torch.isfinite(y).all(), f"{name}: non-finite output"


def test_the_registry_holds_layers():
    assert NAMES, "no layer registered"


def test_every_case_names_a_registered_layer():
    stale = sorted(set(LAYER_CASES) - set(NAMES))
    assert not stale, f"LAYER_CASES entries for layers that are not registered: {', '.join(stale)}"


@pytest.mark.parametrize("name", NAMES)
def test_builds_from_a_minimal_yaml_entry_and_runs_forward(name):
    if name in LAYER_CASES:
        check_runs(name, LAYER_CASES[name])
        return
    errors = []
    for shape in GENERIC_INPUTS:
        try:
            check_runs(name, Case(shape, [[name, {}]]))
            return
        except (MirError, RuntimeError, ValueError, TypeError, AssertionError) as error:
            errors.append(f"{shape}: {str(error).splitlines()[0] if str(error) else type(error).__name__}")
    pytest.fail(f"layer {name!r} does not build and run from the minimal entry [{name}, {{}}] on any of "
                f"{GENERIC_INPUTS}; add an entry to LAYER_CASES in {__name__.rsplit('.', 1)[-1]}.py "
                f"(or fix the layer): " + "; ".join(errors))


@pytest.mark.parametrize("name", NAMES)
def test_a_misspelt_name_is_one_line_with_a_suggestion(name):
    with pytest.raises(ModelConfigError) as info:
        build_model(model_of([[name + name[-1], {}]]), (4, 16))
    message = str(info.value)
    assert "\n" not in message, message
    assert "model.block_l[0].sequential_l[0].layer_l[0]" in message, message
    assert re.search(rf"did you mean [^;]*\b{re.escape(name)}\b", message), message
