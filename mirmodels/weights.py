"""The network weights of a run: plain state_dicts read weights-only and strictly, exported atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from pyjama_tools.core.atomic import atomic_path
from pyjama_tools.core.errors import MirError

__all__ = ["export_state_dict", "load_state_dict", "load_weights_only"]


def load_weights_only(path: Path) -> Any:
    """``torch.load(path, weights_only=True)`` on CPU; any failure is one line, and a file that
    holds more than tensors (a pickle that would run code) is said to be one, not 'corrupt'.

    Raises
    ------
    MirError
        Not a weights-only checkpoint (not loaded), or an unreadable / truncated file.
    """
    import pickle
    import re
    import warnings

    try:
        with warnings.catch_warnings():  # torch's note about the pickle protocol of a foreign file
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        text = str(error)
        if "Weights only load failed" in text:
            found = re.search(r"unsupported GLOBAL (\S+)|Unsupported (operand \d+|class \S+)", text)
            what = f" ({found.group(1) or found.group(2)})" if found else ""
            raise MirError(f"{path}: not a weights-only checkpoint: it holds Python objects other than tensors"
                           f"{what}, so it was not loaded; mirmodels reads only the tensors that mirmodels fit "
                           "writes") from None
        raise MirError(f"{path}: not a readable PyTorch checkpoint, corrupt or truncated "
                       f"(UnpicklingError: {(text.splitlines() or [''])[0]})") from None
    except Exception as error:  # pickle / zip errors of a corrupt file (their text may be a bare number, or empty)
        detail = (str(error).splitlines() or [""])[0]
        raise MirError(f"{path}: not a readable PyTorch checkpoint, corrupt or truncated "
                       f"({type(error).__name__}{': ' + detail if detail else ''})") from None


def load_state_dict(network: torch.nn.Module, path: str | os.PathLike, config_label: str = "the config") -> None:
    """Load a plain state_dict saved by :func:`mirmodels.experiment.fit` (``weights_only=True``), strictly.

    Raises
    ------
    MirError
        Missing/corrupt file, or a checkpoint of another model: the first mismatched key is named.
    """
    path = Path(path)
    if not path.exists():
        raise MirError(f"{path}: no such checkpoint (was the run trained to the end?)")
    state = load_weights_only(path)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = {k.removeprefix("model."): v for k, v in state["state_dict"].items()}
    if not isinstance(state, dict):
        raise MirError(f"{path}: not a state_dict")
    own = network.state_dict()
    for key in own:
        if key not in state:
            raise MirError(f"{path}: does not fit the model of {config_label}: key {key!r} missing from the checkpoint")
        if tuple(state[key].shape) != tuple(own[key].shape):
            raise MirError(f"{path}: does not fit the model of {config_label}: key {key!r} has shape "
                           f"{tuple(state[key].shape)} in the checkpoint, {tuple(own[key].shape)} in the model")
    for key in state:
        if key not in own:
            raise MirError(f"{path}: does not fit the model of {config_label}: unexpected key {key!r} in the checkpoint")
    network.load_state_dict(state, strict=True)


def export_state_dict(checkpoint_path: Path, out: Path) -> Path:
    """Write the network's plain state_dict (``model.`` keys of a Lightning checkpoint) atomically."""
    state = torch.load(checkpoint_path, map_location="cpu", weights_only=True)["state_dict"]
    network = {key.removeprefix("model."): value for key, value in state.items() if key.startswith("model.")}
    with atomic_path(out) as tmp:
        torch.save(network, tmp)
    return out
