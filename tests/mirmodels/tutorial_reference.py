"""Test helpers for the tutorial's own config files (../shared/fixtures/tutorial/config_*.yaml).

1. :func:`tutorial_count` — the number of parameters the tutorial's factory gives a model, worked
   out by arithmetic from what that factory does (``model_factory.f_parse_component`` and the
   bricks of ``model_module.py``, repository geoffroypeeters/deeplearning-101-audiomir_notebook),
   without torch and without any of its code: it keeps the tutorial's *tracked* shape (the list
   ``current_input_dim`` it updates layer by layer, batch first) and adds each layer's weights.
   Its rules, per layer (k = kernel area, C_in / C_out = channels):

   - LayerNorm: ``normalized_shape: -1`` = tracked shape without batch; 2 · its product.
   - BatchNorm1d / BatchNorm1dT: ``num_features: -1`` = last tracked axis; 2 · n (0 when ``affine: False``).
   - BatchNorm2d: ``num_features: -1`` = tracked axis 1; 2 · n.
   - Conv1d / Conv2d: C_out · C_in · k + C_out; with ``padding`` other than 'same' (default
     'valid') each axis becomes ``floor((L - k) / s + 1)``.
   - Conv2dDS (depthwise_separable_conv): depthwise C_in · k + C_in, pointwise C_in · C_out + C_out.
   - Conv2dRes (ResidualBlock): two convolutions with bias, each followed by a BatchNorm2d
     (C_in·C_out·k + C_out + 2·C_out, C_out·C_out·k + C_out + 2·C_out), plus a 1×1 convolution
     with bias (C_in·C_out + C_out) when C_in ≠ C_out; shape kept.
   - Conv2dNext (ConvNeXtBlock, kernel 7 whatever the YAML says): depthwise 49·C + C, LayerNorm
     2·C, Linear C→4C (4C² + 4C), Linear 4C→C_out (4C·C_out + C_out).
   - Conv1dTCN (TemporalConvNet, kernel 2): per level two weight-normalized Conv1d
     (C_out·C_in·2 + C_out bias + C_out gains, then C_out·C_out·2 + 2·C_out), plus a 1×1
     Conv1d (C_in·C_out + C_out) when C_in ≠ C_out; time length kept.
   - SincNet (SincConv_fast): 2 parameters per filter (low cut-off, band); length as a valid conv.
   - ConvTranspose2d: C_in · C_out · k + C_out; each axis × stride.
   - Linear: ``in_features: -1`` = last tracked axis; in · out + out.
   - LSTMall: a bidirectional LSTM of ``hidden_size / 2`` units per direction, ``input_size: -1``
     = tracked axis 2; per layer and direction 4h(in + h) + 8h; LSTMlast: unidirectional.
   - Activation PReLU: 1; AutoPoolWeight / AutoPoolWeightSplit: 1 (alpha); every other layer 0.
   - Shape-only rules: MaxPool1d/2d divide by the kernel (floor); Squeeze drops the listed axes;
     UnSqueeze inserts one; Permute reorders; Mean / Max without keepdim keep (B, C);
     AutoPoolWeight sets axis 3 to 1, AutoPoolWeightSplit / SoftmaxWeight also halve axis 1;
     DoubleChannel doubles axis 1 (the U-Net's CatWith leaves the tracked shape as it is).

   It reproduces the figures the issue measured with the tutorial's factory (autotagging on 50
   tags 167,355; bittner 406,253; chord 6,959,721; cover 1,869,094; doras 7,093,591; Bittner with
   ResNet blocks 853,741), which test_tutorial_models.py checks first.

2. :func:`select_variant` / :func:`swap_line` — un-comment a variant of a tutorial file from its
   text (the files switch variants by commenting lines in and out, under ``# C2``, ``# I1`` ...).

3. :func:`tutorial_input_shape` — the shape of one example the notebooks feed the model, from the
   file's ``feature`` section.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

# ----------------------------------------------------------------------------- 1. parameter counts


def _pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _next_size(length: int, kernel: int, stride: int) -> int:
    return math.floor((length - kernel) / stride + 1)


def _lstm(input_size: int, hidden: int, layers: int, directions: int) -> int:
    total, size = 0, input_size
    for _ in range(layers):
        total += directions * (4 * hidden * (size + hidden) + 8 * hidden)
        size = hidden * directions
    return total


def _layer(name: str, p: Mapping[str, Any], dims: list[int]) -> tuple[int, list[int]]:
    """(parameters, tracked shape after) of one layer, by the tutorial factory's rules."""
    p = dict(p) if isinstance(p, Mapping) else p
    dims = list(dims)
    n = 0
    if name == "LayerNorm":
        shape = dims[1:] if p["normalized_shape"] == -1 else list(p["normalized_shape"])
        n = 2 * math.prod(shape)
    elif name in ("BatchNorm1d", "BatchNorm1dT"):
        features = dims[-1] if p["num_features"] == -1 else p["num_features"]
        n = 2 * features if p.get("affine", True) else 0
    elif name == "BatchNorm2d":
        n = 2 * (dims[1] if p["num_features"] == -1 else p["num_features"])
    elif name in ("Conv1d", "SincNet"):
        c_in = dims[1] if p["in_channels"] == -1 else p["in_channels"]
        n = 2 * p["out_channels"] if name == "SincNet" else p["out_channels"] * c_in * p["kernel_size"] + p["out_channels"]
        dims[1] = p["out_channels"]
        if p.get("padding", "valid") != "same":
            dims[2] = _next_size(dims[2], p["kernel_size"], p["stride"])
    elif name == "Conv1dTCN":
        c_in = dims[1] if p["in_channels"] == -1 else p["in_channels"]
        for c_out in p["num_channels"]:
            n += (c_out * c_in * 2 + 2 * c_out) + (c_out * c_out * 2 + 2 * c_out)
            n += c_in * c_out + c_out if c_in != c_out else 0
            c_in = c_out
        dims[1] = p["num_channels"][-1]
    elif name in ("Conv2d", "Conv2dDS"):
        c_in, c_out = (dims[1] if p["in_channels"] == -1 else p["in_channels"]), p["out_channels"]
        kf, kt = _pair(p["kernel_size"])
        n = c_out * c_in * kf * kt + c_out if name == "Conv2d" else (c_in * kf * kt + c_in) + (c_in * c_out + c_out)
        dims[1] = c_out
        if p.get("padding", "valid") != "same":
            sf, st = _pair(p["stride"])
            dims[2], dims[3] = _next_size(dims[2], kf, sf), _next_size(dims[3], kt, st)
    elif name == "Conv2dRes":
        c_in, c_out = (dims[1] if p["in_channels"] == -1 else p["in_channels"]), p["out_channels"]
        k = math.prod(_pair(p["kernel_size"]))
        n = (c_in * c_out * k + c_out + 2 * c_out) + (c_out * c_out * k + c_out + 2 * c_out)
        n += c_in * c_out + c_out if c_in != c_out else 0
        dims[1] = c_out
    elif name == "Conv2dNext":
        c, c_out = (dims[1] if p["in_channels"] == -1 else p["in_channels"]), p["out_channels"]
        n = (49 * c + c) + 2 * c + (c * 4 * c + 4 * c) + (4 * c * c_out + c_out)
        dims[1] = c_out
    elif name == "ConvTranspose2d":
        c_in, c_out = (dims[1] if p["in_channels"] == -1 else p["in_channels"]), p["out_channels"]
        kf, kt = _pair(p["kernel_size"])
        n = c_in * c_out * kf * kt + c_out
        sf, st = _pair(p["stride"])
        dims[1], dims[2], dims[3] = c_out, dims[2] * sf, dims[3] * st
    elif name == "Linear":
        f_in = dims[-1] if p["in_features"] == -1 else p["in_features"]
        n = f_in * p["out_features"] + p["out_features"]
        dims[-1] = p["out_features"]
    elif name in ("LSTMall", "LSTMlast"):
        size = dims[2] if p["input_size"] == -1 else p["input_size"]
        if name == "LSTMall":
            n = _lstm(size, int(p["hidden_size"] / 2), p["num_layers"], 2)
            dims = [dims[0], dims[1], p["hidden_size"]]
        else:
            n = _lstm(size, p["hidden_size"], p["num_layers"], 1)
            dims = [dims[0], p["hidden_size"]]
    elif name == "Activation":
        n = 1 if p == "PReLU" else 0
    elif name == "MaxPool1d":
        dims[2] = math.floor(dims[2] / p["kernel_size"])
    elif name == "MaxPool2d":
        kf, kt = _pair(p["kernel_size"])
        dims[2], dims[3] = math.floor(dims[2] / kf), math.floor(dims[3] / kt)
    elif name == "Squeeze":
        axes = p["dim"] if isinstance(p["dim"], list) else [p["dim"]]
        dims = [size for axis, size in enumerate(dims) if axis not in axes]
    elif name == "UnSqueeze":
        dims.insert(p["dim"], 1)
    elif name == "Permute":
        dims = [dims[axis] for axis in p["shape"]]
    elif name in ("Mean", "Max"):
        if not p.get("keepdim", False):
            dims = [dims[0], dims[1]]
    elif name in ("AutoPoolWeight", "AutoPoolWeightSplit", "SoftmaxWeight"):
        n = 0 if name == "SoftmaxWeight" else 1
        if name != "AutoPoolWeight":
            dims[1] = int(dims[1] / 2)
        dims[3] = 1
    elif name == "DoubleChannel":
        dims[1] *= 2
    elif name in ("Dropout", "AbsLayer", "StoreAs", "CatWith", "Flatten"):
        if name == "Flatten":
            dims = [dims[0], dims[1] * dims[2]]
    else:
        raise KeyError(f"no tutorial rule for layer {name!r}")
    return n, dims


def tutorial_count(model: Mapping[str, Any], input_shape: Sequence[int]) -> int:
    """Parameters of ``model`` (the mapping holding ``block_l``) by the tutorial factory's rules,
    for examples of ``input_shape`` (batch excluded)."""
    dims = [1, *input_shape]
    total = 0
    for block in model["block_l"]:
        for sequential in block["sequential_l"]:
            for entry in sequential["layer_l"]:
                n, dims = _layer(entry[0], entry[1] if len(entry) > 1 else None, dims)
                total += n
    return total


def resize_last_linear(model: Mapping[str, Any], n_out: int) -> dict:
    """A copy of ``model`` whose last Linear has ``out_features: n_out`` (the notebooks size the
    last layer from the dataset)."""
    import copy

    model = copy.deepcopy(dict(model))
    last = None
    for block in model["block_l"]:
        for sequential in block["sequential_l"]:
            for entry in sequential["layer_l"]:
                if entry[0] == "Linear":
                    last = entry
    assert last is not None, "no Linear layer"
    last[1] = {**last[1], "out_features": n_out}
    return model


# ----------------------------------------------------------------------------- 2. variants from the text

_TAG = re.compile(r"^\s*#\s*(?:---\s*)?([A-Z]\d(?:\s*[,/]\s*[A-Z]\d)*)(?![\w])")
_CONTENT = re.compile(r"^(\s*)(#\s*)?(-\s*\[.*|\{.*)$")


def _uncomment(line: str, indent: str) -> str:
    return indent + line.split("#", 1)[1].strip()


def _comment(line: str) -> str:
    stripped = line.lstrip()
    return line if stripped.startswith("#") else line[: len(line) - len(stripped)] + "#" + stripped


def select_variant(text: str, **choice: str) -> str:
    """The file's text with the variant ``choice`` (e.g. ``C="C3", I="I2", D="D1"``) switched on.

    A comment naming tags (``# C2``, ``# C2, C3, C4 Temporal``, ``# C3 / C4``, ``# I1``) opens a
    group: the layer lines or ``{...}`` lines that follow it, commented or not, until the next
    comment or structural line.  Where several groups with the same tag letter share a
    ``layer_l`` (or a top-level section), the groups naming the chosen tag are un-commented and
    the others commented out; a lone group (``# --- C1`` on a layer every variant keeps) is left
    as it is.
    """
    lines = text.splitlines()
    groups: list[dict] = []  # {tags, letter, scope, members}
    scope, current = 0, None
    for index, line in enumerate(lines):
        tag = _TAG.match(line)
        content = _CONTENT.match(line)
        if tag:
            tags = set(re.findall(r"[A-Z]\d", tag.group(1)))
            letters = {t[0] for t in tags}
            current = {"tags": tags, "letter": letters.pop() if len(letters) == 1 else None, "scope": scope,
                       "members": []}
            groups.append(current)
        elif content and current is not None and not content.group(3).startswith("- layer_l"):
            current["members"].append(index)
        else:
            current = None
            if line.strip() and not line.lstrip().startswith("#"):
                scope += 1  # '- layer_l:', 'feature:', 'model:' ... start a new scope
    rewritten = list(lines)
    for group in groups:
        letter = group["letter"]
        if letter not in choice or not group["members"]:
            continue
        rivals = [g for g in groups if g is not group and g["scope"] == group["scope"] and g["letter"] == letter
                  and g["members"]]
        if not rivals:
            continue
        on = choice[letter] in group["tags"]
        for index in group["members"]:
            line = lines[index]
            indent = line[: len(line) - len(line.lstrip())]
            rewritten[index] = _uncomment(line, indent) if on and line.lstrip().startswith("#") else \
                line if on else _comment(line)
    return "\n".join(rewritten) + "\n"


def swap_line(text: str, off: str, on: str) -> str:
    """Comment out the active line containing ``off`` and un-comment the commented line
    containing ``on``, re-indented as the line it replaces."""
    lines = text.splitlines()
    (i_off,) = [i for i, line in enumerate(lines) if off in line and not line.lstrip().startswith("#")]
    (i_on,) = [i for i, line in enumerate(lines) if on in line and line.lstrip().startswith("#")]
    indent = lines[i_off][: len(lines[i_off]) - len(lines[i_off].lstrip())]
    lines[i_on] = _uncomment(lines[i_on], indent)
    lines[i_off] = _comment(lines[i_off])
    return "\n".join(lines) + "\n"


def enable_line(text: str, on: str, like: str) -> str:
    """Un-comment the commented line containing ``on``, indented as the active line containing
    ``like`` (a commented option with no line to replace, e.g. a final activation)."""
    lines = text.splitlines()
    (i_on,) = [i for i, line in enumerate(lines) if on in line and line.lstrip().startswith("#")]
    (i_like,) = [i for i, line in enumerate(lines) if like in line and not line.lstrip().startswith("#")]
    lines[i_on] = _uncomment(lines[i_on], lines[i_like][: len(lines[i_like]) - len(lines[i_like].lstrip())])
    return "\n".join(lines) + "\n"


def toggle_block(text: str, first: str, count: int, on: bool) -> str:
    """Un-comment (``on``) or comment out the ``count`` lines starting at the one containing
    ``first`` (commented lines keep the indentation written before their ``#``)."""
    lines = text.splitlines()
    (start,) = [i for i, line in enumerate(lines) if first in line and line.lstrip().startswith("#") == on]
    for index in range(start, start + count):
        line = lines[index]
        indent = line[: len(line) - len(line.lstrip())]
        lines[index] = (_uncomment(line, indent) if line.lstrip().startswith("#") else line) if on else _comment(line)
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- 3. input shapes

#: The cover notebook's input (its CoverDataset: h = 23, w = 1800; it prints torch.Size([4, 1, 23,
#: 1800]) for one clique of 4): the (T, 12) CREMA chroma transposed, stacked on itself minus the
#: last row (23 rows, so every transposition is a 12-row window), cropped / zero-padded to 1800 frames.
COVER_INPUT = (1, 23, 1800)


def tutorial_input_shape(document: Mapping[str, Any]) -> tuple[int, ...]:
    """Shape of one example (batch excluded) that the notebooks build from ``feature``:
    LMS (1, nb_band, patch_L_frame); waveform (1, patch_L_frame); HCQT (len(h_l), nb_band or
    12 · bins_per_semitone · n_octaves, patch_L_frame); no feature section (cover): COVER_INPUT."""
    feature = document.get("feature")
    if feature is None:
        return COVER_INPUT
    kind = feature["type"]
    if kind == "lms":
        return (1, feature["nb_band"], feature["patch_L_frame"])
    if kind == "waveform":
        return (1, feature["patch_L_frame"])
    if kind == "hcqt":
        bins = feature.get("nb_band", 12 * feature["bins_per_semitone"] * feature["n_octaves"])
        return (len(feature["h_l"]), bins, feature["patch_L_frame"])
    raise KeyError(f"no input-shape rule for feature type {kind!r}")
