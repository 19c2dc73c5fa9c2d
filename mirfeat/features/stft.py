"""``stft``: STFT magnitude, value (1, n_fft // 2 + 1, T) (the source-separation front end)."""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np

from pyjama_tools.core import checks
from mirfeat.features.base import (
    Feature,
    FeatureParams,
    FeatureValue,
    check_audio,
    register_feature,
)
from mirfeat.features.torch_variant import TorchVariant

WINDOWS = ("hann", "hamming", "blackman", "boxcar")


@dataclass(frozen=True)
class STFTParams(FeatureParams):
    """Parameters of the magnitude STFT.

    Attributes
    ----------
    n_fft : int
        FFT size and window length, in samples.
    hop_length : int
        Frame hop in samples.
    window : str
        Window name (one of :data:`WINDOWS`).
    """

    n_fft: int = 2048
    hop_length: int = 1024
    window: str = "hann"

    def __post_init__(self) -> None:
        checks.positive_int("stft", "n_fft", self.n_fft, minimum=2)
        checks.positive_int("stft", "hop_length", self.hop_length)
        checks.one_of("stft", "window", self.window, WINDOWS)


@register_feature
class STFT(TorchVariant, Feature):
    """|STFT|; value (1, n_fft // 2 + 1, 1 + N // hop_length) float32, centred frames."""

    name = "stft"
    display = "decibels"
    Params = STFTParams

    def min_samples(self) -> int:
        """One frame: ``n_fft`` samples."""
        return self.params.n_fft

    def axes(self, n_samples: int, sr: float) -> tuple[np.ndarray, np.ndarray]:
        """time_sec (T,) frame centres and frequency_hz (n_fft // 2 + 1,) bin frequencies."""
        p = self.params
        n_frames = 1 + n_samples // p.hop_length
        time_sec = librosa.frames_to_time(np.arange(n_frames), sr=sr, hop_length=p.hop_length)
        return time_sec.astype(np.float64), librosa.fft_frequencies(sr=sr, n_fft=p.n_fft).astype(np.float64)

    def compute(self, audio: np.ndarray, sr: float) -> FeatureValue:
        """|STFT| of ``audio`` (N,) at ``sr`` Hz."""
        self.check_sample_rate(sr)
        p = self.params
        audio = check_audio(audio, self.name, min_samples=self.min_samples())
        spectrum = librosa.stft(audio, n_fft=p.n_fft, hop_length=p.hop_length, window=p.window, center=True, pad_mode="constant")
        time_sec, frequency_hz = self.axes(audio.size, sr)
        return FeatureValue(np.abs(spectrum).astype(np.float32)[np.newaxis], time_sec, frequency_hz)

    def torch_value(self, audio, sr: float):
        """|STFT| of a batch (B, N) → (B, 1, n_fft // 2 + 1, T) with ``torch.stft``."""
        from mirfeat.features import torch_backend

        p = self.params
        spectrum = torch_backend.stft(audio, p.n_fft, p.hop_length, torch_backend.get_window(p.window, p.n_fft,
                                                                                             audio.device))
        return spectrum.abs()[:, None]
