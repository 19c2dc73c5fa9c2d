"""Patch inference over whole files: the patches covering a file, the network's activated output on
them, overlapping outputs stitched frame by frame, and the default scoring of a split.

Knows no problem: what depends on it is asked of the task class it is given
(:meth:`~mirmodels.tasks.Task.output_activation`, ``one_patch_per_file``,
:meth:`~mirmodels.tasks.Task.file_output`, :meth:`~mirmodels.tasks.Task.eval_context`,
:meth:`~mirmodels.tasks.Task.score`); :mod:`mirmodels.evaluate` and the task modules' default hooks
use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Callable, Sequence

import numpy as np
import torch

from pyjama_tools.core.errors import MirError

__all__ = ["cover_starts", "run_patches", "tutorial_patch_predictions", "stitch", "stitch_patches", "FileInputs",
           "file_inputs", "predict_files", "score_patches"]


# ----------------------------------------------------------------------------- stitching


def cover_starts(num_frames: int, patch_length: int, hop: int) -> np.ndarray:
    """Patch starts covering all ``num_frames`` frames: every ``hop``, the last one ending at the end.

    A file shorter than one patch gives the single start 0 (the caller zero-pads it).
    """
    if num_frames <= patch_length:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, num_frames - patch_length + 1, hop, dtype=np.int64)
    if starts[-1] + patch_length < num_frames:
        starts = np.append(starts, num_frames - patch_length)
    return starts


def _patches(array: np.ndarray, starts: np.ndarray, patch_length: int) -> np.ndarray:
    """(N, ..., L) patches of ``array`` (..., T) at ``starts`` (zero-padded at the end when T < L)."""
    if array.shape[-1] < patch_length:
        pad = [(0, 0)] * (array.ndim - 1) + [(0, patch_length - array.shape[-1])]
        array = np.pad(array, pad)
    return np.stack([array[..., s:s + patch_length] for s in starts])


@torch.no_grad()
def run_patches(network: torch.nn.Module, activation: Callable[[torch.Tensor], torch.Tensor], array: np.ndarray,
                patch_length: int, hop: int, batch_size: int = 32,
                device: str | torch.device = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """The network's activated output on patches covering ``array`` (..., T).

    Returns
    -------
    outputs : np.ndarray float32 (N, *output_shape)
    starts : np.ndarray int64 (N,)
    """
    starts = cover_starts(array.shape[-1], patch_length, hop)
    array = np.asarray(array, dtype=np.float32)
    outputs = []
    for first in range(0, len(starts), batch_size):  # one batch of patches in memory at a time
        x = torch.from_numpy(_patches(array, starts[first:first + batch_size], patch_length)).to(device)
        outputs.append(activation(network(x)).float().cpu().numpy())
    return np.concatenate(outputs), starts


@torch.no_grad()
def tutorial_patch_predictions(network: torch.nn.Module, activation: Callable[[torch.Tensor], torch.Tensor],
                               target: Any, predictions: dict, inputs, patch_length: int, patch_hop: int,
                               batch_size: int = 32,
                               device: str | torch.device = "cpu") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The tutorial's evaluation patches: the training grid (``floor((T - L) / S) + 1`` patches), each
    predicted on its own (``activation`` of the network's output) → {key: (estimate (N, F, L),
    quantised target (N, F, L))}."""
    from mirfeat.patches import patch_starts

    out = {}
    for item in inputs:
        starts = patch_starts(item.array.shape[-1], patch_length, patch_hop)
        if len(starts) == 0:
            continue
        array = np.asarray(item.array, dtype=np.float32)
        estimates = []
        for first in range(0, len(starts), batch_size):
            x = torch.from_numpy(_patches(array, starts[first:first + batch_size], patch_length)).to(device)
            y = activation(network(x)).float().cpu()
            estimates.append(y.numpy().reshape(y.shape[0], -1, patch_length))
        time_sec, frequency_hz = predictions[item.key]["time_sec"], predictions[item.key]["frequency_hz"]
        reference = np.stack([np.asarray(target.for_patch(item.key, int(s), patch_length, time_sec, frequency_hz))
                              for s in starts])
        out[item.key] = (np.concatenate(estimates), reference)
    return out


def stitch(outputs: np.ndarray, starts: np.ndarray, num_frames: int) -> np.ndarray:
    """Average per-patch outputs (N, ..., L) over their frames → (..., num_frames)."""
    length = outputs.shape[-1]
    total = max(num_frames, int(starts[-1]) + length)
    acc = np.zeros(outputs.shape[1:-1] + (total,), dtype=np.float64)
    count = np.zeros(total, dtype=np.float64)
    for output, start in zip(outputs, starts):
        acc[..., start:start + length] += output
        count[start:start + length] += 1
    return (acc / np.maximum(count, 1))[..., :num_frames].astype(np.float32)


def stitch_patches(outputs: np.ndarray, starts: np.ndarray, num_frames: int,
                   patch_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame outputs (N, [1,] K, L) of one file → (stitched (K, num_frames), patches (N, K, L)).

    Raises
    ------
    MirError
        The outputs do not have one frame per input frame.
    """
    if outputs.ndim == 4 and outputs.shape[1] == 1:  # (N, 1, F, L) → (N, F, L)
        outputs = outputs[:, 0]
    if outputs.shape[-1] != patch_length:
        raise MirError(f"model output has {outputs.shape[-1]} frames for a {patch_length}-frame patch; "
                       "whole-file stitching needs one output per input frame")
    return stitch(outputs, starts, num_frames), outputs


# ----------------------------------------------------------------------------- inputs


@dataclass
class FileInputs:
    """One file as the network sees it.

    Attributes
    ----------
    key : str
    array : np.ndarray float32, (C, F, T) feature or (1, N) waveform
    time_sec : np.ndarray (T,)
    frequency_hz : np.ndarray (F,) or None
    """

    key: str
    array: np.ndarray
    time_sec: np.ndarray
    frequency_hz: np.ndarray | None


def file_inputs(metadata: dict, keys: Sequence[str]):
    """Yield :class:`FileInputs` for ``keys`` from the run's feature cache (or audio store)."""
    if metadata.get("cache_path"):
        from mirfeat.feature_pair import open_feature_file

        cache = open_feature_file(metadata["cache_path"])  # a mirfeat cache or a tutorial feature pair
        try:
            for key in keys:
                yield FileInputs(key, cache.read(key), np.asarray(cache.time_sec(key)),
                                 None if cache.frequency_hz(key) is None else np.asarray(cache.frequency_hz(key)))
        finally:
            cache.close()
    else:
        from pyjama_tools.audio_store import AudioStore

        with AudioStore(metadata["audio_path"]) as store:
            for key in keys:
                audio = store.read(key)
                rate = store.sample_rate(key)
                yield FileInputs(key, audio.reshape(1, -1), np.arange(audio.shape[-1]) / rate, None)


def predict_files(network: torch.nn.Module, task: Any, inputs, patch_length: int, hop: int,
                  batch_size: int = 32, device: str | torch.device = "cpu") -> dict[str, dict[str, Any]]:
    """Per file: ``output`` (the :meth:`~mirmodels.tasks.Task.file_output` of the task class ``task``
    on the activated patch outputs: (K,) mean of patch probabilities, (K, T) / (F, T) stitched, (D,)
    embedding), ``patches`` (N, ...) and ``starts``, ``time_sec``, ``frequency_hz``."""
    activation = task(network).output_activation
    network = network.to(device).eval()
    results: dict[str, dict[str, Any]] = {}
    for item in inputs:
        num_frames = item.array.shape[-1]
        if task.one_patch_per_file:  # the file's first patch, as in training
            outputs, starts = run_patches(network, activation, item.array[..., :patch_length], patch_length,
                                          patch_length, 1, device)
        else:
            outputs, starts = run_patches(network, activation, item.array, patch_length, hop, batch_size, device)
        output, outputs = task.file_output(outputs, starts, num_frames, patch_length)
        results[item.key] = {"output": output, "patches": outputs, "starts": starts, "time_sec": item.time_sec,
                             "frequency_hz": item.frequency_hz}
    return results


# ----------------------------------------------------------------------------- scoring a split


def score_patches(task: Any, network: torch.nn.Module, prepared: Any, keys: Sequence[str], device: str = "cpu",
                  quiet: bool = True) -> dict[str, Any]:
    """The default :meth:`~mirmodels.tasks.Task.score_split`: the network over patches covering each
    file of ``keys``, one output per file, the task's scorer; ``threshold`` first (None when the
    task's outputs are not thresholded)."""
    from tqdm import tqdm

    config = prepared.config
    patch_length = config.feature.patch_length
    batch_size = config.eval.batch_size or config.train.batch_size
    sources = {"cache_path": None if prepared.cache_path is None else str(prepared.cache_path),
               "audio_path": str(prepared.audio_path)}
    inputs = tqdm(file_inputs(sources, keys), total=len(keys), disable=quiet, unit="file", desc="evaluate")
    predictions = predict_files(network, task, inputs, patch_length, config.eval.patch_hop or patch_length,
                                batch_size, device)
    context: dict[str, Any] = {"doc": prepared.doc, "threshold": config.eval.threshold,
                               "annot_key": prepared.annot_key}
    context.update(task.eval_context(network, prepared, predictions, file_inputs(sources, keys), device))
    scores = task.score(predictions, prepared.target, **context)
    return {"threshold": config.eval.threshold if task.thresholded else None, **scores}
