"""What every task's scorer (:meth:`~mirmodels.tasks.Task.score`) shares: the file-level labels of a
target, the names of its outputs, the mean of per-file score dicts, and the mir_eval reference of a
pitch annotation. Knows no problem: each task module holds its own scorer and calls the metric
functions of :mod:`mirmodels.metrics` with these.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Sequence

import numpy as np

__all__ = ["multipitch_reference", "file_labels", "output_names", "mean_scores"]


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


def file_labels(target: Any, keys: Sequence[str]) -> np.ndarray:
    """The file-level ``y`` of each key, stacked (keys first)."""
    return np.stack([np.asarray(target.for_file(k, None, None)) for k in keys])


def output_names(target: Any, count: int) -> list[str]:
    """The names of the ``count`` outputs: the target's vocabulary, else "0", "1", ..."""
    vocabulary = target.vocabulary
    return [str(v) for v in vocabulary] if vocabulary else [str(i) for i in range(count)]


def mean_scores(items: Sequence[dict], prefix: str = "") -> dict[str, float]:
    """The mean over ``items`` of each numeric score of the first one (booleans and other values left
    out), named ``prefix + name``."""
    out: dict[str, float] = {}
    for name in items[0] if items else ():
        values = [float(d[name]) for d in items if isinstance(d.get(name), (int, float, np.floating))
                  and not isinstance(d.get(name), bool)]
        if values:
            out[prefix + name] = float(np.mean(values))
    return out
