"""The prediction writers the task classes name (:meth:`~mirmodels.tasks.Task.write_prediction`):
one audio file's predictions as CSV, PNG, and for multipitch the notes as a .pyjama.

* ``<stem>_predictions.csv``: per patch (multiclass, multilabel: class probabilities), per frame
  (framelabel: label and probability; multipitch: active bins), or the embedding (metric);
* ``<stem>_predictions.png``: a tag-o-gram (classes × time) for multiclass / multilabel / framelabel,
  a piano roll over the CQT for multipitch, the embedding for metric;
* multipitch also ``<stem>_notes.pyjama``: frames above the threshold merged into note segments
  per pitch bin rounded to MIDI (field ``pitchmidi``).

Each file is written atomically and appended to the ``files`` list it is given; each writer
returns the details of the JSON.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import librosa
import numpy as np

from pyjama_tools.core.atomic import atomic_path, write_text_atomic

__all__ = ["salience_to_notes", "write_tags", "write_frames", "write_pitch", "write_embedding"]


def _write_csv(rows: list[list[Any]], header: list[str], path: Path) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return write_text_atomic(buffer.getvalue(), path)


def _save_figure(figure: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    finally:
        plt.close(figure)
    return path


def salience_to_notes(salience: np.ndarray, frequency_hz: np.ndarray, time_sec: np.ndarray,
                      threshold: float = 0.5, end_sec: float | None = None) -> list[tuple[float, float, int]]:
    """Note segments from a (F, T) salience: frames above ``threshold`` whose bin rounds to the same
    MIDI pitch, merged over consecutive frames.

    Parameters
    ----------
    salience : np.ndarray, shape (F, T)
    frequency_hz : np.ndarray, shape (F,), bin centres in Hz
    time_sec : np.ndarray, shape (T,), frame times in s
    threshold : a bin is active when its salience is above it
    end_sec : duration of the audio in s: no note ends after it (default: no limit)

    Returns
    -------
    list of (onset_sec, duration_sec, midi) sorted by onset then pitch; a note ends one frame hop
    after its last active frame (or at ``end_sec``).
    """
    salience = np.asarray(salience)
    time_sec = np.asarray(time_sec, dtype=float)
    if salience.shape[-1] == 0:
        return []
    hop = float(np.median(np.diff(time_sec))) if len(time_sec) > 1 else 0.0
    midi = np.round(librosa.hz_to_midi(np.asarray(frequency_hz, dtype=float))).astype(int)
    active = salience > threshold
    notes = []
    for pitch in np.unique(midi[active.any(axis=1)]):
        frames = active[midi == pitch].any(axis=0).astype(np.int8)
        edges = np.diff(np.concatenate([[0], frames, [0]]))
        for first, last in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1):
            onset = time_sec[first]
            end = time_sec[last] + hop if end_sec is None else min(time_sec[last] + hop, end_sec)
            if end > onset:
                notes.append((float(onset), float(end - onset), int(pitch)))
    return sorted(notes)


def _frame_segments(labels: np.ndarray, time_sec: np.ndarray, names: list[str],
                    end_sec: float | None = None) -> list[dict[str, Any]]:
    """Consecutive frames with the same label → segments {time, duration, value} (none past ``end_sec``)."""
    if labels.size == 0:
        return []
    hop = float(np.median(np.diff(time_sec))) if len(time_sec) > 1 else 0.0
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], change])
    stops = np.concatenate([change, [labels.size]])
    limit = np.inf if end_sec is None else float(end_sec)
    return [{"time": float(time_sec[a]), "duration": float(min(time_sec[b - 1] + hop, limit) - time_sec[a]),
             "value": names[int(labels[a])] if int(labels[a]) < len(names) else str(int(labels[a]))}
            for a, b in zip(starts, stops) if time_sec[a] < limit]


# ----------------------------------------------------------------------------- writers (named by the tasks)


def write_tags(prediction: dict, metadata: dict, stem: Path, threshold: float, files: list[Path],
               duration_sec: float | None = None, single_label: bool = False) -> dict[str, Any]:
    """Class probabilities per patch (CSV) and a tag-o-gram (PNG); the JSON details: the file-level
    mean and the predicted class (``single_label``) or the classes above ``threshold``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = metadata.get("vocabulary") or [str(i) for i in range(prediction["patches"].shape[1])]
    patches, starts, time_sec = prediction["patches"], prediction["starts"], prediction["time_sec"]
    length = metadata["patch_length"]
    hop = float(np.median(np.diff(time_sec))) if len(time_sec) > 1 else 0.0
    start_sec = [float(time_sec[min(s, len(time_sec) - 1)]) for s in starts]
    limit = np.inf if duration_sec is None else float(duration_sec)  # the last patch ends with the audio
    end_sec = [float(min(time_sec[min(s + length, len(time_sec)) - 1] + hop, limit)) for s in starts]
    mean = prediction["output"]
    data: dict[str, Any] = {"labels": names, "file_probabilities": {n: float(p) for n, p in zip(names, mean)}}
    if single_label:
        data["predicted"] = names[int(np.argmax(mean))]
    else:
        data["predicted"] = [n for n, p in zip(names, mean) if p > threshold]
    data["patches"] = [{"start_sec": a, "end_sec": b, "probabilities": [float(v) for v in p]}
                       for a, b, p in zip(start_sec, end_sec, patches)]
    rows = [[f"{a:.3f}", f"{b:.3f}"] + [f"{v:.6f}" for v in p] for a, b, p in zip(start_sec, end_sec, patches)]
    files.append(_write_csv(rows, ["start_sec", "end_sec"] + list(names), stem.with_name(stem.name + "_predictions.csv")))
    figure, axis = plt.subplots(figsize=(max(6, len(starts) * 0.3), max(3, len(names) * 0.25)))
    image = axis.imshow(patches.T, aspect="auto", origin="lower", vmin=0, vmax=1, cmap="viridis",
                        extent=(start_sec[0], end_sec[-1], -0.5, len(names) - 0.5))
    axis.set_yticks(range(len(names)), names, fontsize=7)
    axis.set_xlabel("time (s)")
    axis.set_title(f"{metadata['problem']} probabilities per patch (tag-o-gram)")
    figure.colorbar(image, ax=axis)
    files.append(_save_figure(figure, stem.with_name(stem.name + "_predictions.png")))
    return data


def write_frames(prediction: dict, metadata: dict, stem: Path, files: list[Path],
                 duration_sec: float | None = None) -> dict[str, Any]:
    """Label and probability per frame (CSV), the probabilities (PNG); the JSON details: segments."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    output, time_sec = prediction["output"], np.asarray(prediction["time_sec"], dtype=float)
    names = metadata.get("vocabulary") or [str(i) for i in range(output.shape[0])]
    labels = output.argmax(axis=0)
    data = {"labels": names, "segments": _frame_segments(labels, time_sec, names, duration_sec)}
    rows = [[f"{t:.4f}", names[int(k)], f"{float(output[int(k), i]):.6f}"] for i, (t, k) in enumerate(zip(time_sec, labels))]
    files.append(_write_csv(rows, ["time_sec", "label", "probability"], stem.with_name(stem.name + "_predictions.csv")))
    figure, axis = plt.subplots(figsize=(10, max(3, len(names) * 0.2)))
    axis.imshow(output, aspect="auto", origin="lower", vmin=0, vmax=1, cmap="viridis",
                extent=(time_sec[0], time_sec[-1], -0.5, len(names) - 0.5))
    axis.set_yticks(range(len(names)), names, fontsize=6)
    axis.set_xlabel("time (s)")
    axis.set_title("frame label probabilities")
    files.append(_save_figure(figure, stem.with_name(stem.name + "_predictions.png")))
    return data


def write_pitch(prediction: dict, metadata: dict, stem: Path, threshold: float, files: list[Path],
                feature_value: np.ndarray | None = None, duration_sec: float | None = None) -> dict[str, Any]:
    """Active bins per frame (CSV), the notes (``_notes.pyjama``), a piano roll over the feature
    (PNG); the JSON details: threshold and notes."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pyjama_tools import pyjama

    salience, time_sec = prediction["output"], np.asarray(prediction["time_sec"], dtype=float)
    frequency_hz = np.asarray(prediction["frequency_hz"], dtype=float)
    notes = salience_to_notes(salience, frequency_hz, time_sec, threshold, end_sec=duration_sec)
    data = {"threshold": threshold, "notes": [{"time": t, "duration": d, "midi": m} for t, d, m in notes]}
    active = salience > threshold
    rows = [[f"{t:.4f}", " ".join(f"{f:.2f}" for f in frequency_hz[active[:, i]])] for i, t in enumerate(time_sec)]
    files.append(_write_csv(rows, ["time_sec", "frequencies_hz"], stem.with_name(stem.name + "_predictions.csv")))
    doc = pyjama.PyjamaDoc()
    doc.define("pitchmidi", "segment", "numeric")
    doc.add_entry(metadata.get("input_name", stem.name), {
        "pitchmidi": pyjama.segment_atoms([n[0] for n in notes], [n[1] for n in notes], [n[2] for n in notes])})
    notes_path = stem.with_name(stem.name + "_notes.pyjama")
    pyjama.save(doc, notes_path)
    files.append(notes_path)
    figure, axis = plt.subplots(figsize=(10, 5))
    extent = (time_sec[0], time_sec[-1], 0, len(frequency_hz))
    if feature_value is not None:
        # the h = 1 channel: its bins are the salience's frequency_hz (harmonics [0.5, 1, ...] put it second)
        harmonics = [float(h) for h in (metadata.get("feature_params") or {}).get("harmonics", [1.0])]
        channel = harmonics.index(1.0) if 1.0 in harmonics and len(harmonics) == feature_value.shape[0] else 0
        background = np.log1p(np.abs(feature_value[channel]))
        axis.imshow(background, aspect="auto", origin="lower", cmap="gray_r", extent=extent)
    roll = np.ma.masked_where(~active, salience)
    axis.imshow(roll, aspect="auto", origin="lower", cmap="autumn", vmin=threshold, vmax=1, extent=extent, alpha=0.8)
    ticks = np.linspace(0, len(frequency_hz) - 1, 7).astype(int)
    axis.set_yticks(ticks, [f"{frequency_hz[i]:.0f}" for i in ticks])
    axis.set_ylabel("frequency (Hz)")
    axis.set_xlabel("time (s)")
    axis.set_title(f"piano roll (salience > {threshold:g}) over the CQT")
    files.append(_save_figure(figure, stem.with_name(stem.name + "_predictions.png")))
    return data


def write_embedding(prediction: dict, metadata: dict, stem: Path, files: list[Path]) -> dict[str, Any]:
    """The embedding (CSV, bar chart PNG, and in the JSON details)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    embedding = [float(v) for v in prediction["output"]]
    files.append(_write_csv([[i, f"{v:.6f}"] for i, v in enumerate(embedding)], ["dimension", "value"],
                            stem.with_name(stem.name + "_predictions.csv")))
    figure, axis = plt.subplots(figsize=(6, 3))
    axis.bar(range(len(embedding)), embedding)
    axis.set_xlabel("dimension")
    axis.set_title("embedding")
    files.append(_save_figure(figure, stem.with_name(stem.name + "_predictions.png")))
    return {"embedding": embedding}
