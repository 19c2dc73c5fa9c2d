"""The default ``mirmodels predict`` of one audio file (:meth:`~mirmodels.tasks.Task.predict_file`):
the run's feature of the audio, the network over patches covering it, the task's writer.

The file is decoded at the run's sample rate (:func:`pyjama_tools.audio_store.decode`), the run's
feature is computed with the run's parameters, the network runs over patches covering the file (as
in evaluation, :func:`mirmodels.inference.predict_files`), and the task's
:meth:`~mirmodels.tasks.Task.write_prediction` writes its files beside ``<stem>_predictions.json``.
They are written all or none (in a hidden folder beside them, then moved over them together by
:func:`pyjama_tools.core.atomic.atomic_group`), and a second predict of the same audio into the
same folder is refused while the first runs. Knows no problem: the task class is an argument.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import numpy as np
import torch

from mirmodels.inference import FileInputs, predict_files
from mirmodels.network import load_network
from mirmodels.rundir import write_json
from pyjama_tools.core.errors import MirError
from pyjama_tools.core.locking import output_lock

__all__ = ["predict_patches"]


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


def predict_patches(task: Any, run_dir: str | os.PathLike, config: Any, metadata: dict, audio_file: Path,
                    out_dir: str | os.PathLike | None = None, device: str | None = None,
                    threshold: float | None = None) -> tuple[list[Path], dict]:
    """The default :meth:`~mirmodels.tasks.Task.predict_file`: the run's feature of the audio, the
    network over patches covering it (:func:`mirmodels.inference.predict_files`), the task's
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
    prediction = predict_files(network, task, [item], patch_length,
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
