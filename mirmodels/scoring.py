"""The scorers the task classes name (:meth:`~mirmodels.tasks.Task.score`): whole-file predictions
against the target, with the metric functions of :mod:`mirmodels.metrics`.

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

from typing import Any
from collections.abc import Sequence

import numpy as np

__all__ = ["multipitch_reference", "score_multiclass", "score_multilabel", "score_framelabel", "score_multipitch",
           "score_metric"]


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
