"""``chroma``: 12-bin chromagram from a CQT (:func:`librosa.feature.chroma_cqt`), value (1, n_chroma, T).

The frequency axis is pitch classes (C, C#, ..., B), not Hz, so ``frequency_hz`` is None.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import librosa
import numpy as np

from mirfeat.features import cqt_engine
from pyjama_tools.core import checks
from mirfeat.features.base import (
    Feature,
    FeatureParams,
    FeatureValue,
    check_audio,
    register_feature,
)
from pyjama_tools.core.errors import ParameterError


@dataclass(frozen=True)
class ChromaParams(FeatureParams):
    """Parameters of the CQT chromagram.

    Attributes
    ----------
    hop_length : int
        Frame hop in samples.
    n_chroma : int
        Pitch classes.
    bins_per_octave : int
        CQT resolution (a multiple of n_chroma).
    n_octaves : int
        Octaves analysed above fmin.
    fmin : float
        Lowest CQT bin in Hz.
    tuning : float
        Tuning offset in fractions of a bin (0 = A440; fixed so that results do not depend on the audio).
    """

    hop_length: int = 512
    n_chroma: int = 12
    bins_per_octave: int = 36
    n_octaves: int = 7
    fmin: float = 32.7
    tuning: float = 0.0

    def __post_init__(self) -> None:
        checks.positive_int("chroma", "hop_length", self.hop_length)
        checks.positive_int("chroma", "n_chroma", self.n_chroma)
        checks.positive_int("chroma", "bins_per_octave", self.bins_per_octave)
        checks.positive_int("chroma", "n_octaves", self.n_octaves)
        checks.finite_float("chroma", "fmin", self.fmin)
        checks.finite_float("chroma", "tuning", self.tuning, minimum=-0.5, strict=False)
        if self.bins_per_octave % self.n_chroma:
            raise ParameterError(
                f"chroma: parameter bins_per_octave={self.bins_per_octave} is not allowed; "
                f"expected a multiple of n_chroma={self.n_chroma}"
            )


@register_feature
class Chroma(Feature):
    """CQT chromagram; value (1, n_chroma, 1 + N // hop_length) float32, each frame max-normalised."""

    name = "chroma"
    Params = ChromaParams

    def min_samples(self) -> int:
        """One frame: ``hop_length`` samples."""
        return self.params.hop_length

    def check_sample_rate(self, sr: float) -> None:
        """Fail when the top CQT bin lies above Nyquist."""
        super().check_sample_rate(sr)
        p = self.params
        cqt_engine.check_nyquist(self.name, sr, p.fmin, p.n_octaves * p.bins_per_octave, p.bins_per_octave, (1.0,))

    def compute(self, audio: np.ndarray, sr: float) -> FeatureValue:
        """Chromagram of ``audio`` (N,) at ``sr`` Hz."""
        self.check_sample_rate(sr)
        p = self.params
        audio = check_audio(audio, self.name, min_samples=self.min_samples())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # librosa warns when its n_fft exceeds a very short signal
            chroma = librosa.feature.chroma_cqt(
                y=audio, sr=sr, hop_length=p.hop_length, fmin=p.fmin, n_chroma=p.n_chroma,
                n_octaves=p.n_octaves, bins_per_octave=p.bins_per_octave, tuning=p.tuning,
            )
        n_frames = 1 + audio.size // p.hop_length
        time_sec = librosa.frames_to_time(np.arange(n_frames), sr=sr, hop_length=p.hop_length)
        return FeatureValue(chroma[:, :n_frames].astype(np.float32)[np.newaxis], time_sec.astype(np.float64), None)
