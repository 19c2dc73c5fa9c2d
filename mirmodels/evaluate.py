"""``mirmodels evaluate``: score a trained run on whole files; write ``RUN_DIR/metrics.json``.

The network runs over consecutive patches covering each whole file (hop ``eval.patch_hop``,
default the patch length; the last patch is aligned with the file's end, or the file is
zero-padded when shorter than one patch) and the task class makes one output per file
(:meth:`~mirmodels.tasks.Task.file_output`: the mean of the patches, or overlapping outputs
averaged frame by frame).  Then the task's scorer (:meth:`~mirmodels.tasks.Task.score` names one of
the functions here; the metric functions are those of :mod:`mirmodels.metrics`):

* multiclass: file prediction = mean of the patch probabilities → accuracy, macro
  recall / precision / F1, confusion matrix;
* multilabel: file scores = mean of the patch probabilities → macro ROC-AUC and average precision
  (per tag too);
* framelabel: frame accuracy and macro recall; ``mir_eval.chord`` majmin when the labels are chords;
* multipitch: frames above ``eval.threshold`` on the stitched salience vs. the annotation converted
  the mir_eval way (f0 breakpoints → their times and Hz; notes → sampled on the feature's frames),
  ``mir_eval.multipitch`` per file then averaged over files; also the tutorial's per-patch average
  (each patch scored against its quantised target, then averaged), under its own key;
* metric: MR1, MRR, P@1/5/10, mAP from the whole-file embeddings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from mirmodels.experiment import load_network, load_run, write_json
from mirmodels.rundir import RunDir
from pyjama_tools.core.errors import MirError

__all__ = ["EvalResult", "evaluate", "format_metrics", "cover_starts", "run_patches", "stitch", "stitch_patches",
           "FileInputs", "file_inputs", "predict_files", "score_patches", "score_predictions", "multipitch_reference",
           "tutorial_patch_predictions", "score_multiclass", "score_multilabel", "score_framelabel",
           "score_multipitch", "score_metric"]


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


def predict_files(network: torch.nn.Module, problem: str, inputs, patch_length: int, hop: int,
                  batch_size: int = 32, device: str | torch.device = "cpu") -> dict[str, dict[str, Any]]:
    """Per file: ``output`` (the task's :meth:`~mirmodels.tasks.Task.file_output` of the activated
    patch outputs: (K,) mean of patch probabilities, (K, T) / (F, T) stitched, (D,) embedding),
    ``patches`` (N, ...) and ``starts``, ``time_sec``, ``frequency_hz``."""
    from mirmodels.tasks import get_task_class

    task = get_task_class(problem)
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


# ----------------------------------------------------------------------------- references


def multipitch_reference(doc: Any, key: str, field_name: str, time_sec: np.ndarray,
                         pitch_unit: str = "midi") -> tuple[np.ndarray, list[np.ndarray]]:
    """The mir_eval reference of one file: times (N,) in s and a list of Hz arrays (one per time).

    Breakpoint f0 (Bach10's ``f0multi``, 0 = silent) keeps its own times; note segments (MAPS's
    ``pitchmidi``) are sampled on the feature's frame times ``time_sec``. ``pitch_unit`` is the
    unit of the field's values, ``"midi"`` or ``"hz"`` (JAMS ``pitch_contour``, ``note_hz``).
    """
    from mirfeat.targets import pitch_to_midi
    from mirmodels import metrics

    definition = doc.definition(field_name)
    if definition.type_extent == "breakpoint":
        times, values = doc.breakpoints(key, field_name)
        return metrics.midi_to_multipitch(times, pitch_to_midi(values, pitch_unit))
    onsets, durations, pitches = doc.segments(key, field_name)
    return metrics.notes_to_multipitch(onsets, durations, pitch_to_midi(pitches, pitch_unit), time_sec)


# ----------------------------------------------------------------------------- scorers (named by the tasks)


def _file_labels(target: Any, keys: Sequence[str]) -> np.ndarray:
    return np.stack([np.asarray(target.for_file(k, None, None)) for k in keys])


def _names(target: Any, count: int) -> list[str]:
    vocabulary = getattr(target, "vocabulary", None)
    return [str(v) for v in vocabulary] if vocabulary else [str(i) for i in range(count)]


def score_multiclass(predictions: dict, target: Any, **_: Any) -> dict[str, Any]:
    """File-level accuracy, macro recall / precision / F1 and the confusion matrix
    (file prediction = mean of the patch probabilities)."""
    from mirmodels import metrics

    keys = list(predictions)
    y_true = _file_labels(target, keys).astype(int)
    probabilities = np.stack([predictions[k]["output"] for k in keys])
    count = probabilities.shape[1]
    return {"metrics": metrics.multiclass_scores(y_true, probabilities, num_classes=count,
                                                 class_names=_names(target, count))}


def score_multilabel(predictions: dict, target: Any, **_: Any) -> dict[str, Any]:
    """Macro ROC-AUC and average precision over tags (and per tag) of the file-level scores."""
    from mirmodels import metrics

    keys = list(predictions)
    y_true = _file_labels(target, keys).astype(int)
    scores = np.stack([predictions[k]["output"] for k in keys])
    return {"metrics": metrics.multilabel_scores(y_true, scores, tag_names=_names(target, scores.shape[1]))}


def score_framelabel(predictions: dict, target: Any, doc: Any = None, annot_key: str | None = None,
                     **_: Any) -> dict[str, Any]:
    """Frame accuracy and macro recall (frames with the ignore index left out); mir_eval chord
    scores (majmin, root, ...) against the annotated segments when the labels are chords."""
    from mirmodels import metrics

    keys = list(predictions)
    y_true = [np.asarray(target.for_file(k, predictions[k]["time_sec"], predictions[k]["frequency_hz"])).astype(int)
              for k in keys]
    y_pred = [predictions[k]["output"].argmax(axis=0) for k in keys]
    count = predictions[keys[0]]["output"].shape[0]
    result = metrics.framelabel_scores(y_true, y_pred, ignore_index=int(getattr(target, "ignore_index", -100)),
                                       num_classes=count)
    vocabulary = _names(target, count)
    field_name = annot_key or target.spec.field
    if doc is not None and (getattr(target.spec, "chord_vocabulary", None) is not None or _looks_like_chords(vocabulary)):
        chord = []
        for key, pred in zip(keys, y_pred):
            onsets, durations, labels = doc.segments(key, field_name)
            intervals = np.stack([onsets, onsets + durations], axis=1) if len(onsets) else np.zeros((0, 2))
            est_intervals, est_labels = metrics.frames_to_segments(metrics.class_index_to_chord(pred, vocabulary),
                                                                   predictions[key]["time_sec"])
            chord.append(metrics.chord_scores(intervals, [str(v) for v in labels], est_intervals, est_labels))
        result.update(_mean_dicts(chord, prefix="chord_"))
    return {"metrics": result}


def _looks_like_chords(vocabulary: Sequence[str]) -> bool:
    return bool(vocabulary) and all(v == "N" or ":" in str(v) for v in vocabulary)


def _mean_dicts(items: Sequence[dict], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for name in items[0] if items else ():
        values = [float(d[name]) for d in items if isinstance(d.get(name), (int, float, np.floating))
                  and not isinstance(d.get(name), bool)]
        if values:
            out[prefix + name] = float(np.mean(values))
    return out


def score_multipitch(predictions: dict, target: Any, doc: Any = None, threshold: float = 0.5,
                     annot_key: str | None = None, tutorial_patches: dict | None = None, **_: Any) -> dict[str, Any]:
    """Whole-file ``mir_eval.multipitch`` (per file, then the mean over files) against the annotation
    itself; plus the tutorial's per-patch average (key ``metrics_patch_average_tutorial``) when
    ``tutorial_patches`` {key: (est (N, F, L), ref (N, F, L))} is given."""
    from mirmodels import metrics

    from mirfeat.targets import pitch_unit_of, pitch_values

    field_name = annot_key or target.spec.field
    if field_name == target.spec.field and getattr(target, "pitch_unit", None) in ("midi", "hz"):
        unit = target.pitch_unit  # what the model was trained on
    else:
        unit = pitch_unit_of(field_name, lambda: np.concatenate(
            [np.zeros(0)] + [pitch_values(doc, key, field_name) for key in predictions]))
    per_file = {}
    for key, prediction in predictions.items():
        time_sec = np.asarray(prediction["time_sec"], dtype=float)
        ref_time, ref_freqs = multipitch_reference(doc, key, field_name, time_sec, unit)
        est_time, est_freqs = metrics.salience_to_multipitch(prediction["output"], prediction["frequency_hz"],
                                                             time_sec, threshold)
        per_file[key] = metrics.multipitch_scores(ref_time, ref_freqs, est_time, est_freqs)
    result: dict[str, Any] = {"metrics": _mean_dicts(list(per_file.values())),
                              "per_file": {k: {n: float(v) for n, v in d.items()} for k, d in per_file.items()}}
    if tutorial_patches:
        est = np.concatenate([e for e, _r in tutorial_patches.values()])
        ref = np.concatenate([r for _e, r in tutorial_patches.values()])
        frequency_hz = next(iter(predictions.values()))["frequency_hz"]
        result["metrics_patch_average_tutorial"] = metrics.patchwise_multipitch_scores(
            est, ref, frequency_hz, threshold=threshold)
    return result


def score_metric(predictions: dict, target: Any, **_: Any) -> dict[str, Any]:
    """MR1, MRR, P@1/5/10 and mAP of the whole-file embeddings (each file queries all others)."""
    from mirmodels import metrics

    keys = list(predictions)
    embeddings = np.stack([predictions[k]["output"] for k in keys])
    work_ids = np.asarray(target.work_ids(keys) if hasattr(target, "work_ids") else _file_labels(target, keys))
    return {"metrics": metrics.retrieval_scores(embeddings, work_ids)}


def score_predictions(problem: str, predictions: dict, target: Any, **context: Any) -> dict[str, Any]:
    """Score per-file predictions (as :func:`predict_files` returns them) with the problem's scorer
    (:meth:`~mirmodels.tasks.Task.score`)."""
    from mirmodels.tasks import get_task_class

    return get_task_class(problem).score(predictions, target, **context)


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
    predictions = predict_files(network, prepared.problem, inputs, patch_length, config.eval.patch_hop or patch_length,
                                batch_size, device)
    context: dict[str, Any] = {"doc": prepared.doc, "threshold": config.eval.threshold,
                               "annot_key": prepared.annot_key}
    context.update(task.eval_context(network, prepared, predictions, file_inputs(sources, keys), device))
    scores = task.score(predictions, prepared.target, **context)
    return {"threshold": config.eval.threshold if task.thresholded else None, **scores}


# ----------------------------------------------------------------------------- evaluate


@dataclass
class EvalResult:
    """What :func:`evaluate` wrote to ``metrics.json``."""

    path: Path
    data: dict = field(default_factory=dict)


def evaluate(run_dir: str | os.PathLike, split: str | None = None, data_root: str | os.PathLike | None = None,
             quiet: bool = True, device: str | None = None) -> EvalResult:
    """Score the best network of a run on the whole files of a split.

    Parameters
    ----------
    run_dir : a directory written by :func:`mirmodels.experiment.fit`
    split : valid | test | train (default ``eval.split`` of the run's config)
    data_root : folder of the dataset pair (default: where the run was trained)
    quiet : no progress bar
    device : torch device (default cuda when available, else cpu)

    Returns
    -------
    EvalResult
        ``RUN_DIR/metrics.json`` and its content.

    Raises
    ------
    MirError
        Not a run directory, a checkpoint of another model, features that do not match the run's
        input shape, an empty split.
    """
    from mirmodels.data import check_same_classes, prepare_data
    from mirmodels.tasks import get_task_class

    config, metadata = load_run(run_dir)
    split = split or config.eval.split
    if data_root is None and metadata.get("audio_path"):
        data_root = Path(metadata["audio_path"]).parent
    prepared = prepare_data(config, data_root, quiet=quiet)
    if tuple(prepared.input_shape) != tuple(metadata["input_shape"]):
        raise MirError(f"{run_dir}: the dataset's features give examples of shape {tuple(prepared.input_shape)}, "
                       f"the run was trained on {tuple(metadata['input_shape'])}")
    check_same_classes(prepared, metadata, str(run_dir))
    keys = prepared.splits.get(split) or []
    if not keys:
        raise MirError(f"{run_dir}: the {split!r} split is empty (rule {config.dataset.split!r})")
    network = load_network(run_dir, config, metadata)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    scores = get_task_class(prepared.problem).score_split(network, prepared, keys, device=device, quiet=quiet)
    data = {"run": str(run_dir), "split": split, "problem": prepared.problem, "num_files": len(keys),
            **_json_ready(scores)}
    return EvalResult(write_json(data, RunDir(run_dir).metrics), data)


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def format_metrics(result: EvalResult | dict) -> str:
    """The task's table of the scalar metrics (:meth:`~mirmodels.tasks.Task.format_metrics`), then the
    path written."""
    from mirmodels.tasks import TASKS, Task

    data = result.data if isinstance(result, EvalResult) else result
    task = TASKS.get(data.get("problem", ""), Task)  # the task's own table (a metrics.json of any problem)
    return task.format_metrics(data) + (f"\nwritten: {result.path}" if isinstance(result, EvalResult) else "")
