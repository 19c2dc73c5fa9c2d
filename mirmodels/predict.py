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
over them together by :func:`pyjama_tools.core.atomic.atomic_group`), and a second predict of the same audio into
the same folder is refused while
the first runs. The default predict of a file is :mod:`mirmodels.prediction`, the writers are
:mod:`mirmodels.writers`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from mirmodels.run_config import load_run

__all__ = ["PredictResult", "predict"]


@dataclass
class PredictResult:
    """The files written by :func:`predict` and the predictions (JSON content)."""

    files: list[Path] = field(default_factory=list)
    data: dict = field(default_factory=dict)


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
