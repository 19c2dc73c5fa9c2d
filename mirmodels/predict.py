"""``mirmodels predict``: run a trained model on any audio file.

The file is decoded at the run's sample rate (:func:`pyjama_tools.audio_store.decode`), the run's
feature is computed with the run's parameters, the network runs over patches covering the file
(as in evaluation), and the predictions are written next to the audio (or in ``-o DIR``):

* ``<stem>_predictions.json`` and ``<stem>_predictions.csv``: per patch (multiclass, multilabel:
  class probabilities, plus the file-level mean in the JSON), per frame (framelabel: label and
  probability; multipitch: active bins), or the embedding (metric);
* ``<stem>_predictions.png``: a tag-o-gram (classes × time) for multiclass / multilabel / framelabel,
  a piano roll over the CQT for multipitch, the embedding for metric;
* multipitch also ``<stem>_notes.pyjama``: frames above the threshold merged into note segments
  per pitch bin rounded to MIDI (field ``pitchmidi``).

The outputs of one predict are written all or none (in a hidden folder beside them, then moved
over them together by :func:`pyjama_tools.core.atomic.atomic_group`), and a second predict of the same audio into the same folder is refused while
the first runs.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import librosa
import numpy as np
import torch

from mirmodels.evaluate import FileInputs, predict_files
from mirmodels.experiment import load_network, load_run, write_json
from pyjama_tools.core.atomic import atomic_path, write_text_atomic
from pyjama_tools.core.errors import MirError
from pyjama_tools.core.locking import output_lock

__all__ = ["PredictResult", "predict", "predict_patches", "salience_to_notes", "write_tags", "write_frames",
           "write_pitch", "write_embedding"]


@dataclass
class PredictResult:
    """The files written by :func:`predict` and the predictions (JSON content)."""

    files: list[Path] = field(default_factory=list)
    data: dict = field(default_factory=dict)


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


# ----------------------------------------------------------------------------- predict


@contextmanager
def _stderr_to_nowhere() -> Iterator[None]:
    """Send what C libraries write on file descriptor 2 (mpg123's notes while libsndfile probes a
    file) to a temporary file for the block."""
    import sys
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def _decode_quietly(audio_file: Path, sample_rate: int) -> tuple[np.ndarray, int]:
    """:func:`pyjama_tools.audio_store.decode` (mono, at the run's rate) with the decoders' notes
    kept off the terminal, so that a bad file is the error line alone."""
    from pyjama_tools.audio_store import AudioDecodeError, decode

    with _stderr_to_nowhere():
        try:
            return decode(audio_file, sample_rate=sample_rate, mono=True)
        except AudioDecodeError as error:
            # libsndfile says 'File does not exist or is not a regular file' of any file it cannot parse
            if audio_file.is_file() and "File does not exist" in str(error):
                raise AudioDecodeError(f"{audio_file}: cannot decode (not an audio format libsndfile reads, "
                                       "or a damaged file)") from None
            raise



def predict(run_dir: str | os.PathLike, audio_file: str | os.PathLike, out_dir: str | os.PathLike | None = None,
            threshold: float | None = None, device: str | None = None) -> PredictResult:
    """Predict on one audio file with the best network of a run.

    Parameters
    ----------
    run_dir : a run directory written by :func:`mirmodels.experiment.fit`
    audio_file : any audio file :func:`pyjama_tools.audio_store.decode` reads (wav, flac, mp3, mp4 ...)
    out_dir : output folder (default: the audio file's folder)
    threshold : decision threshold (default ``eval.threshold``)
    device : torch device (default cuda when available)

    Returns
    -------
    PredictResult
        The files written by the task's :meth:`~mirmodels.tasks.Task.predict_file` (JSON, CSV, PNG,
        and for multipitch the notes .pyjama; separation: one WAV per source).
    """
    from mirmodels.tasks import get_task_class

    config, metadata = load_run(run_dir)
    task = get_task_class(metadata["problem"])
    return PredictResult(*task.predict_file(run_dir, config, metadata, Path(audio_file), out_dir, device,
                                            threshold=threshold))


def predict_patches(task: Any, run_dir: str | os.PathLike, config: Any, metadata: dict, audio_file: Path,
                    out_dir: str | os.PathLike | None = None, device: str | None = None,
                    threshold: float | None = None) -> tuple[list[Path], dict]:
    """The default :meth:`~mirmodels.tasks.Task.predict_file`: the run's feature of the audio, the
    network over patches covering it (:func:`mirmodels.evaluate.predict_files`), the task's
    :meth:`~mirmodels.tasks.Task.write_prediction`, all files or none → (files, JSON content)."""
    from mirfeat.features import build_feature

    threshold = config.eval.threshold if threshold is None else float(threshold)
    if not 0 < threshold < 1:
        raise MirError(f"--threshold: expected a number in (0, 1), got {threshold}")
    audio_file = Path(audio_file)
    from mirfeat.features import feature_names

    if metadata["feature"] not in feature_names() or metadata.get("sample_rate") is None:
        raise MirError(f"{run_dir}: trained on the feature file {metadata['feature']!r} of a feature-only dataset; "
                       f"predict computes features from audio and knows {', '.join(feature_names())}")
    audio, sample_rate = _decode_quietly(audio_file, int(metadata["sample_rate"]))
    feature = build_feature(metadata["feature"], metadata["feature_params"])
    try:
        value = feature.compute(audio, sample_rate)
    except MirError as error:  # too short for one frame ...: name the file
        raise type(error)(f"{audio_file}: {error}") from None
    if metadata["feature"] == "waveform":
        array = value.value.reshape(1, -1)
    else:
        array = value.value
    expected = tuple(metadata["input_shape"][:-1])
    if tuple(array.shape[:-1]) != expected:
        raise MirError(f"{audio_file}: the feature has shape {tuple(array.shape[:-1])} (without time), the run "
                       f"expects {expected}")
    network = load_network(run_dir, config, metadata)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    patch_length = config.feature.patch_length
    item = FileInputs(audio_file.name, array, np.asarray(value.time_sec), value.frequency_hz)
    prediction = predict_files(network, metadata["problem"], [item], patch_length,
                               config.eval.patch_hop or patch_length,
                               config.eval.batch_size or config.train.batch_size, device)[audio_file.name]
    out = Path(out_dir) if out_dir is not None else audio_file.parent
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise MirError(f"{out}: cannot create the output folder ({error.strerror or error})") from None
    duration_sec = float(len(audio) / sample_rate)
    # one predict's outputs are all written or none: staged in a hidden folder beside them, then
    # renamed together; a second predict of the same file into the same folder is refused
    with output_lock(out / f"{audio_file.stem}_predictions", "mirmodels predict"):
        stage = out / f".{audio_file.stem}_predictions.partial"
        try:
            shutil.rmtree(stage, ignore_errors=True)  # left by a predict that was killed
            stage.mkdir()
            staged: list[Path] = []
            stem = stage / audio_file.stem
            details = task.write_prediction(prediction, dict(metadata, input_name=audio_file.name), stem,
                                            threshold=threshold, files=staged, feature_value=value.value,
                                            duration_sec=duration_sec)
            data = {"file": str(audio_file), "run": str(run_dir), "problem": metadata["problem"],
                    "duration_sec": duration_sec, **details}
            staged.insert(0, write_json(data, stem.with_name(stem.name + "_predictions.json")))
        except BaseException as error:  # nothing of this predict is left
            shutil.rmtree(stage, ignore_errors=True)
            if isinstance(error, OSError):  # a full disk, a read-only folder
                raise MirError(f"{out}: cannot write the predictions ({error.strerror or error})") from None
            raise
        try:
            files = _replace_all(staged, out)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    return files, data


def _replace_all(staged: list[Path], out: Path) -> list[Path]:
    """Move the staged files over ``out/<name>`` together (:func:`pyjama_tools.core.atomic.atomic_group`,
    the JSON last): the earlier outputs stay until every new one is in place.

    Raises
    ------
    MirError
        An output name taken by a folder (nothing is moved).
    """
    from pyjama_tools.core.atomic import atomic_group

    ordered = sorted(staged, key=lambda path: path.name.endswith("_predictions.json"))  # the JSON last
    finals = [out / path.name for path in ordered]
    for final in finals:
        if final.is_dir():
            raise MirError(f"{final}: is a folder; no prediction was written (remove it or use -o)")
    try:
        with atomic_group(finals) as targets:
            for path, target in zip(ordered, targets):
                os.replace(path, target)
    except OSError as error:
        raise MirError(f"{out}: cannot write the predictions ({error.strerror or error}); "
                       "the earlier ones are kept") from None
    return [out / path.name for path in staged]
