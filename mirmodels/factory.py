"""The YAML model grammar → a PyTorch network, with shapes inferred by running each layer.

Grammar (the tutorial's, kept for compatibility)::

    model:
      name: Bittner
      block_l:
      - sequential_l:
        - layer_l:
          - [BatchNorm2d, {num_features: -1}]
          - [Conv2d, {in_channels: -1, out_channels: 128, kernel_size: [5, 5], padding: same}]
          - [Activation, ReLU]

A layer is ``[Name, params]`` with ``params`` a mapping, a bare value for layers that take one
(``[Activation, ReLU]``, ``[StoreAs, E64]``), or nothing / ``empty``.  A parameter written
``-1`` (or left out, for the parameters a layer knows how to infer) is computed from the
incoming tensor; a string ``"$name"`` is replaced by ``variables[name]``.  The model may give
defaults, ``model: {variables: {n_out: 10}, ...}``, which the caller's ``variables`` override (one
model file then serves GTZAN's 10 classes and MagnaTagATune's 50 tags).

Each layer is built and run at once on a probe batch (2 examples, CPU, eval mode, no
gradient) so the next layer sees the real shape: no hand-kept shape arithmetic, and every
mistake is reported before training as one line naming the YAML path, e.g.
``model.block_l[1].sequential_l[0].layer_l[2] (Conv2d): kernel (5, 5) larger than input (6, 3, 2)``.
"""

from __future__ import annotations

import inspect
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Iterator, Mapping, Sequence

import torch
from torch import nn

from pyjama_tools.core.errors import MirError
from pyjama_tools.core.registry import did_you_mean
from pyjama_tools.core.yamlfile import read_yaml
from mirmodels.config.fields import decimal_text
from mirmodels.layer_size import last_size_layer, resize_last_layer
from mirmodels.layers import InferContext, LayerSpec, get_layer

__all__ = ["ModelConfigError", "NoOutputLayerError", "LayerRecord", "OutputResize", "YamlNetwork", "build_model",
           "load_model_config"]

PROBE_BATCH = 2
#: the keys of a model description (the tutorial's ``name`` and ``block_l``, our ``variables``)
MODEL_KEYS = ("name", "variables", "block_l")
_EMPTY = (None, "empty", "none")


class ModelConfigError(MirError):
    """A model description that cannot be built; the message names the YAML path and the layer."""


class NoOutputLayerError(ModelConfigError):
    """``n_out`` was given for a model with neither ``$n_out`` nor a ``Linear`` layer to size
    (a multi-pitch network whose output is a salience map)."""


@dataclass(frozen=True)
class LayerRecord:
    """What the factory learned about one layer while building it.

    Attributes
    ----------
    path : str
        YAML path, e.g. ``model.block_l[0].sequential_l[1].layer_l[2]``.
    name : str
        The YAML layer name.
    params : dict
        The parameters the layer was built with (``-1`` and ``$variables`` resolved).
    input_shape, output_shape : tuple of int
        Shapes of one example (batch axis excluded) into and out of the layer.
    """

    path: str
    name: str
    params: dict
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]


@dataclass(frozen=True)
class OutputResize:
    """The last ``Linear`` resized to ``n_out`` (as the tutorial's notebooks size the last layer
    from the dataset).

    Attributes
    ----------
    path : str
        YAML path and name of the layer, e.g. ``model.block_l[2].sequential_l[0].layer_l[0] (Linear)``.
    key : str
        The size parameter (``out_features``).
    written, n_out : int
        The size as written in the YAML, and as built.
    """

    path: str
    key: str
    written: Any
    n_out: int

    def describe(self) -> str:
        """One line for the user: ``n_out=50: model...layer_l[0] (Linear) out_features 10 -> 50``."""
        return f"n_out={self.n_out}: {self.path} {self.key} {self.written} -> {self.n_out}"


class YamlNetwork(nn.Module):
    """A network built from the YAML grammar.

    Modules are nested as in the YAML (``block_l[i][j][k]`` is block i, sequential j, layer k),
    so state-dict keys read ``block_l.0.1.2.weight``.  ``forward`` threads one local dict
    through the layers for ``StoreAs`` / ``CatWith`` / ``FiLM`` (layers whose class sets
    ``uses_store = True`` are called as ``layer(x, store)``); nothing else is kept between
    calls, so the model pickles, moves to any device and works under DDP and autocast.

    Attributes
    ----------
    name : str
        ``model.name`` from the YAML.
    input_shape, output_shape : tuple of int
        Shape of one example in and out (batch excluded).
    records : tuple of LayerRecord
        One per layer, in forward order.
    output_resize : OutputResize or None
        The layer that ``n_out`` resized, None when none was.
    """

    def __init__(self, blocks: Sequence[Sequence[Sequence[nn.Module]]], records: Sequence[LayerRecord],
                 input_shape: Sequence[int], output_shape: Sequence[int], name: str = "model",
                 output_resize: OutputResize | None = None):
        super().__init__()
        self.block_l = nn.ModuleList(nn.ModuleList(nn.ModuleList(layers) for layers in block) for block in blocks)
        self.records = tuple(records)
        self.input_shape = tuple(input_shape)
        self.output_shape = tuple(output_shape)
        self.name = name
        self.output_resize = output_resize

    def layers(self) -> Iterator[tuple[LayerRecord, nn.Module]]:
        """Every layer with its record, in forward order."""
        modules = (layer for block in self.block_l for sequential in block for layer in sequential)
        return zip(self.records, modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *input_shape) → (B, *output_shape)."""
        store: dict[str, torch.Tensor] = {}
        for block in self.block_l:
            for sequential in block:
                for layer in sequential:
                    x = layer(x, store) if getattr(layer, "uses_store", False) else layer(x)
        return x


def load_model_config(config: str | Path | Mapping[str, Any]) -> tuple[Mapping[str, Any], str | None]:
    """The ``model`` mapping of a config and the file it came from.

    Parameters
    ----------
    config : path or mapping
        A YAML file, a mapping holding ``model: {...}``, or the model mapping itself
        (the one holding ``block_l``).  In a YAML file, ``model: models/net.yaml`` (an
        experiment config naming its model file, relative to the config's folder) is followed.

    Returns
    -------
    model : mapping
        The model description.
    origin : str or None
        The YAML file that holds it (prefix of error messages), None for a mapping.

    Raises
    ------
    ModelConfigError
        Missing file, YAML syntax error, or no model description found.
    """
    source = "model"
    if isinstance(config, (str, Path)):
        path = Path(config)
        document = read_yaml(path, error=ModelConfigError)
        if document is None:
            raise ModelConfigError(f"{path}: empty file, no model description")
        source = f"{path}: model"
        origin: str | None = str(path)
        config = document
    else:
        origin = None
    if not isinstance(config, Mapping):
        raise ModelConfigError(f"{source}: expected a mapping with a 'model' key, got {type(config).__name__}")
    if "block_l" not in config:
        if "model" not in config:
            raise ModelConfigError(f"{source}: no 'model' key (nor a 'block_l' list)")
        config = config["model"]
        if isinstance(config, (str, Path)) and origin is not None:
            # an experiment config naming its model file (relative to the config's folder)
            reference = Path(config)
            reference = reference if reference.is_absolute() else Path(origin).parent / reference
            model, model_origin = load_model_config(reference)
            return model, model_origin
        if not isinstance(config, Mapping):
            raise ModelConfigError(f"{source}: expected a mapping with 'block_l', got {type(config).__name__}")
    return config, origin


def build_model(config: str | Path | Mapping[str, Any], input_shape: Sequence[int],
                variables: Mapping[str, Any] | None = None, n_out: int | None = None) -> YamlNetwork:
    """Build the network described by ``config`` for examples of shape ``input_shape``.

    Parameters
    ----------
    config : path or mapping
        YAML file or mapping (see :func:`load_model_config`).
    input_shape : sequence of int
        Shape of one example, batch excluded, e.g. ``(6, 360, 64)`` for an HCQT patch
        (channels, frequency bins, frames) or ``(1, 3200)`` for a waveform patch.
    variables : mapping, optional
        Values for ``"$name"`` placeholders in layer parameters (e.g. ``{"n_out": 50}``); they
        override the defaults of the model's own ``variables`` mapping.
    n_out : int, optional
        Size of the network's output (classes, tags): the value of ``$n_out`` when the model
        uses that placeholder (unless ``variables`` gives it), otherwise the ``out_features`` of
        the model's last ``Linear`` layer, as the tutorial's notebooks set it from the dataset
        (the tutorial's files write e.g. ``out_features: 10`` and train on 50 MagnaTagATune tags).
        The resized layer is kept in ``network.output_resize``.

    Returns
    -------
    YamlNetwork
        In training mode, on CPU, float32.

    Raises
    ------
    ModelConfigError
        One line naming the YAML path and layer: unknown layer (with the closest names), bad
        or missing parameter, undefined variable, impossible shape.
    """
    model, origin = load_model_config(config)
    try:
        variables = dict(variables or {})
        resize = None
        if n_out is not None:
            model, resize, variables = _apply_n_out(model, n_out, variables)
        network = _build(model, _check_input_shape(input_shape), variables)
        network.output_resize = resize
        return network
    except ModelConfigError as error:
        if origin is None:
            raise
        raise type(error)(f"{origin}: {error}") from None


def _build(model: Mapping[str, Any], shape: tuple[int, ...], variables: dict[str, Any]) -> YamlNetwork:
    source = "model"
    for key in model:  # a misspelt key (``nme: Cover``) would be ignored: the name chooses the problem
        if key not in MODEL_KEYS:
            raise ModelConfigError(f"{source}.{key}: unknown key{did_you_mean(key, MODEL_KEYS, n=1)}; "
                                   f"allowed: {', '.join(MODEL_KEYS)}")
    defaults = model.get("variables") or {}
    if not isinstance(defaults, Mapping) or not all(isinstance(name, str) for name in defaults):
        raise ModelConfigError(f"{source}.variables: expected a mapping of names to default values, got {defaults!r}")
    variables = {**defaults, **variables}
    blocks_config = _as_list(model.get("block_l"), f"{source}.block_l")
    if not blocks_config:
        raise ModelConfigError(f"{source}.block_l: empty, the model has no layer")

    x = torch.randn(PROBE_BATCH, *shape)
    store: dict[str, torch.Tensor] = {}
    blocks: list[list[list[nn.Module]]] = []
    records: list[LayerRecord] = []
    for b, block in enumerate(blocks_config):
        block_path = f"{source}.block_l[{b}]"
        sequentials = _as_list(_child(block, "sequential_l", block_path), f"{block_path}.sequential_l")
        blocks.append([])
        for s, sequential in enumerate(sequentials):
            sequential_path = f"{block_path}.sequential_l[{s}]"
            layers = _as_list(_child(sequential, "layer_l", sequential_path), f"{sequential_path}.layer_l")
            blocks[-1].append([])
            for k, entry in enumerate(layers):
                path = f"{sequential_path}.layer_l[{k}]"
                module, record, x = _build_layer(entry, path, x, store, variables)
                blocks[-1][-1].append(module)
                records.append(record)
    if not records:
        raise ModelConfigError(f"{source}.block_l: the model has no layer")
    network = YamlNetwork(blocks, records, shape, tuple(x.shape[1:]), name=str(model.get("name", "model")))
    return network.train()


# --------------------------------------------------------------------------- helpers


def _uses_variable(value: Any, name: str) -> bool:
    if isinstance(value, str):
        return value == f"${name}"
    if isinstance(value, list):
        return any(_uses_variable(item, name) for item in value)
    if isinstance(value, Mapping):
        return any(_uses_variable(item, name) for item in value.values())
    return False


def _apply_n_out(model: Mapping[str, Any], n_out: Any, variables: dict[str, Any]
                 ) -> tuple[Mapping[str, Any], OutputResize | None, dict[str, Any]]:
    """``$n_out`` when the model has it, else the last Linear's ``out_features`` set to ``n_out``
    (the rule of :mod:`mirmodels.layer_size`, restricted to ``out_features``)."""
    if isinstance(n_out, bool) or not isinstance(n_out, int) or n_out < 1:
        raise ModelConfigError(f"n_out={n_out!r}: expected a positive int (number of classes or tags)")
    if _uses_variable(model.get("block_l"), "n_out"):
        return model, None, {"n_out": n_out, **variables}
    found = last_size_layer(model, keys=("out_features",))
    if found is None:
        raise NoOutputLayerError(f"model: n_out={n_out}: no Linear layer to size and no $n_out placeholder; "
                                 "write out_features: $n_out in the layer that gives the classes")
    resized = resize_last_layer(model, n_out, keys=("out_features",))
    if resized is None:  # already n_out, or not a plain number (reported by the build itself)
        return model, None, variables
    _, path, key, written = found
    return resized[0], OutputResize(path, key, written, n_out), variables


def _check_input_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    try:
        shape = tuple(int(size) for size in input_shape)
        valid = bool(shape) and all(size > 0 and size == original for size, original in zip(shape, input_shape))
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ModelConfigError(f"input_shape={input_shape!r}: expected a non-empty list of positive ints "
                               "(one example, batch excluded)")
    return shape


def _as_list(value: Any, path: str) -> list:
    if not isinstance(value, list):
        raise ModelConfigError(f"{path}: expected a list, got {type(value).__name__}")
    return value


def _child(node: Any, key: str, path: str) -> Any:
    if not isinstance(node, Mapping):
        raise ModelConfigError(f"{path}: expected a mapping with {key!r}, got {type(node).__name__}")
    unknown = [name for name in node if name != key]
    if unknown:
        raise ModelConfigError(f"{path}: unknown key {unknown[0]!r} (expected {key!r})")
    if key not in node:
        raise ModelConfigError(f"{path}: missing {key!r}")
    return node[key]


def _shape_text(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(size)) for size in shape) + ("," if len(shape) == 1 else "") + ")"


def _parse_entry(entry: Any, path: str) -> tuple[str, Any]:
    if isinstance(entry, Mapping) and len(entry) == 1:  # {Conv2d: {...}} is accepted too
        (name, params), = entry.items()
    elif isinstance(entry, list) and len(entry) in (1, 2):
        name, params = entry[0], entry[1] if len(entry) == 2 else None
    else:
        raise ModelConfigError(f"{path}: expected [LayerName, {{params}}], got {entry!r}")
    if not isinstance(name, str):
        raise ModelConfigError(f"{path}: the layer name must be a string, got {name!r}")
    return name, params


def _substitute(value: Any, variables: Mapping[str, Any], where: str) -> Any:
    """Replace ``"$name"`` strings (at any depth of lists / mappings) by ``variables[name]``."""
    if isinstance(value, str) and value.startswith("$") and len(value) > 1:
        name = value[1:]
        if name not in variables:
            known = ", ".join(sorted(variables)) or "none"
            raise ModelConfigError(f"{where}: variable ${name} is not defined (given: {known})")
        return variables[name]
    if isinstance(value, list):
        return [_substitute(item, variables, where) for item in value]
    if isinstance(value, Mapping):
        return {key: _substitute(item, variables, where) for key, item in value.items()}
    return value


def _tuples(value: Any) -> Any:
    """YAML lists → tuples (kernel sizes, strides, axes), recursively."""
    if isinstance(value, list):
        return tuple(_tuples(item) for item in value)
    return value


def _signature(builder: Any) -> tuple[dict[str, inspect.Parameter], bool, dict[str, Any]]:
    """Accepted keyword parameters, whether ``**kwargs`` is taken, and simple type hints."""
    target = builder.__init__ if inspect.isclass(builder) else builder
    try:
        parameters = dict(inspect.signature(builder).parameters)
    except (TypeError, ValueError):
        return {}, True, {}
    var_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    accepted = {name: p for name, p in parameters.items()
                if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
                and name not in ("self", "device", "dtype")}
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # unresolvable annotations: skip type checks, the builder still validates
        hints = {}
    return accepted, var_keyword, hints


_SIMPLE = {int: "int", float: "float", bool: "bool", str: "str", type(None): "null"}


def _type_problem(value: Any, hint: Any) -> str | None:
    """A message when ``value`` plainly does not fit ``hint`` (only simple scalar hints are checked)."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    if not options or not all(option in _SIMPLE for option in options):
        return None
    for option in options:
        if option is type(None) and value is None:
            return None
        if option is bool and isinstance(value, bool):
            return None
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return None
        if option is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return None
        if option is str and isinstance(value, str):
            return None
    return " or ".join(_SIMPLE[option] for option in options)


def _resolve_params(spec: LayerSpec, raw: Any, prefix: str, shape: tuple[int, ...],
                    stored: Mapping[str, tuple[int, ...]], variables: Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        params = dict(raw)
    elif raw in _EMPTY or raw == {}:
        params = {}
    elif spec.positional is not None:
        params = {spec.positional: raw}
    else:
        raise ModelConfigError(f"{prefix}: expected a mapping of parameters, got {raw!r}")
    params = {str(key): _tuples(_substitute(value, variables, f"{prefix}: parameter {key!r}"))
              for key, value in params.items()}

    accepted, var_keyword, hints = _signature(spec.builder)
    if not var_keyword:
        for key in params:
            if key not in accepted:
                hint = did_you_mean(key, accepted, n=1, quote=True)
                raise ModelConfigError(f"{prefix}: unknown parameter {key!r}{hint}; "
                                       f"allowed: {', '.join(accepted) or 'none'}")
    context = InferContext(shape, params, stored)
    for key, rule in spec.infer.items():
        if key not in params or params[key] == -1:
            try:
                params[key] = rule(context)
            except MirError as error:
                raise ModelConfigError(f"{prefix}: cannot infer {key!r} from input {_shape_text(shape[1:])}: {error}") from None
            except (IndexError, KeyError, TypeError, ValueError):
                raise ModelConfigError(f"{prefix}: cannot infer {key!r} from input {_shape_text(shape[1:])}") from None
    missing = [name for name, p in accepted.items() if p.default is inspect.Parameter.empty and name not in params]
    if missing:
        raise ModelConfigError(f"{prefix}: missing parameter {missing[0]!r}")
    for key, value in params.items():
        if key in hints:
            expected = _type_problem(value, hints[key])
            if expected and _type_problem(decimal_text(value), hints[key]) is None:
                params[key], expected = decimal_text(value), None  # eps: 1e-5 (text to PyYAML)
            if expected:
                raise ModelConfigError(f"{prefix}: parameter {key!r} must be {expected}, got {value!r}")
    return params


def _rank_problem(module: nn.Module, shape: tuple[int, ...]) -> str | None:
    """PyTorch convolutions also take an unbatched input of one rank less, which the probe would
    then read with its batch as channels (a confusing error, or mixed examples); refuse it here."""
    if not isinstance(module, nn.modules.conv._ConvNd):
        return None
    spatial = len(module.kernel_size)
    if len(shape) == spatial + 2:
        return None
    axes = {1: "(channels, T)", 2: "(channels, F, T)", 3: "(channels, D, F, T)"}.get(spatial, f"rank {spatial + 1}")
    return f"{type(module).__name__} needs {axes} per example, got input {_shape_text(shape[1:])}"


def _kernel_problem(module: nn.Module, shape: tuple[int, ...]) -> str | None:
    """'kernel K larger than input S' when a (valid-padded) kernel cannot fit the input."""
    kernel = getattr(module, "kernel_size", None)
    if kernel is None or isinstance(module, nn.modules.conv._ConvTransposeNd):
        return None
    if isinstance(kernel, (tuple, list)):
        kernel = tuple(int(k) for k in kernel)
    elif isinstance(kernel, int):
        name = type(module).__name__.lower()
        kernel = (kernel,) * (3 if "3d" in name else 2 if "2d" in name else 1)
    else:
        return None
    n = len(kernel)
    if len(shape) != n + 2:  # rank mismatch: let the layer itself say what it expected
        return None
    padding = getattr(module, "padding", 0)
    if padding == "same":
        return None
    padding = (0,) * n if padding == "valid" else padding
    padding = tuple(padding) if isinstance(padding, (tuple, list)) else (padding,) * n
    dilation = getattr(module, "dilation", 1)
    dilation = tuple(dilation) if isinstance(dilation, (tuple, list)) else (dilation,) * n
    if len(padding) != n or len(dilation) != n:
        return None
    spatial = shape[-n:]
    effective = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if any(e > s + 2 * p for e, s, p in zip(effective, spatial, padding)):
        what = "dilated kernel" if effective != kernel else "kernel"
        return f"{what} {_shape_text(effective)} larger than input {_shape_text(shape[1:])}"
    return None


def _first_line(error: BaseException) -> str:
    text = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
    text = str(text).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _build_layer(entry: Any, path: str, x: torch.Tensor, store: dict[str, torch.Tensor],
                 variables: Mapping[str, Any]) -> tuple[nn.Module, LayerRecord, torch.Tensor]:
    name, raw = _parse_entry(entry, path)
    prefix = f"{path} ({name})"
    try:
        spec = get_layer(name)
    except MirError as error:
        raise ModelConfigError(f"{prefix}: {error}") from None
    shape = tuple(x.shape)
    stored = {key: tuple(value.shape) for key, value in store.items()}
    params = _resolve_params(spec, raw, prefix, shape, stored, variables)
    try:
        module = spec.builder(**params)
    except MirError as error:
        raise ModelConfigError(f"{prefix}: {error}") from None
    except (TypeError, ValueError, RuntimeError, AssertionError, ZeroDivisionError) as error:
        raise ModelConfigError(f"{prefix}: bad parameter: {_first_line(error)}") from None
    if not isinstance(module, nn.Module):
        raise ModelConfigError(f"{prefix}: the builder returned {type(module).__name__}, not a torch.nn.Module")
    problem = _rank_problem(module, shape) or _kernel_problem(module, shape)
    if problem:
        raise ModelConfigError(f"{prefix}: {problem}")
    module.eval()
    try:
        with torch.no_grad():
            out = module(x, store) if getattr(module, "uses_store", False) else module(x)
    except MirError as error:
        raise ModelConfigError(f"{prefix}: {error}") from None
    except Exception as error:  # any failure of the probe is a shape the YAML makes impossible
        raise ModelConfigError(f"{prefix}: cannot run on input {_shape_text(shape[1:])}: {_first_line(error)}") from None
    module.train()
    if not isinstance(out, torch.Tensor):
        raise ModelConfigError(f"{prefix}: returned {type(out).__name__}, expected a tensor")
    if out.dim() == 0 or out.shape[0] != PROBE_BATCH:
        raise ModelConfigError(f"{prefix}: output {tuple(out.shape)} lost the batch axis (input {_shape_text(shape)} with batch)")
    printable = {key: list(value) if isinstance(value, tuple) else value for key, value in params.items()}
    record = LayerRecord(path, name, printable, shape[1:], tuple(out.shape[1:]))
    return module, record, out
