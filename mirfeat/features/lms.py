"""``lms``: log-compressed mel spectrogram, value (1, n_mels, T) = log(1 + compression · mel power).

Defaults are the tutorial's: ``librosa.feature.melspectrogram(y, sr, n_fft=2048, hop_length=1024,
n_mels=128)`` then ``log(1 + 10000 · x)``.  The tutorial's ``L_n`` is the window length
(``win_length``: a Hann window of that length centred in the 2048-point FFT), not the FFT size.
"""

from __future__ import annotations

import functools
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
from pyjama_tools.core.errors import ParameterError


@dataclass(frozen=True)
class LMSParams(FeatureParams):
    """Parameters of the log-mel spectrogram.

    Attributes
    ----------
    n_mels : int
        Mel bands.
    n_fft : int
        FFT size, in samples.
    win_length : int or None
        Hann window length in samples (<= n_fft, zero-padded to n_fft as in librosa); None (or n_fft
        itself, stored as None): n_fft.
    hop_length : int
        Frame hop in samples.
    compression : float
        ``c`` in log(1 + c · x); 0 keeps the linear mel power.
    """

    n_mels: int = 128
    n_fft: int = 2048
    hop_length: int = 1024
    compression: float = 10000.0
    win_length: int | None = None

    def __post_init__(self) -> None:
        checks.positive_int("lms", "n_mels", self.n_mels)
        checks.positive_int("lms", "n_fft", self.n_fft, minimum=2)
        if self.win_length is not None:
            checks.positive_int("lms", "win_length", self.win_length)
            if self.win_length > self.n_fft:
                raise ParameterError(f"lms: parameter win_length={self.win_length} is not allowed; expected "
                                     f"an integer <= n_fft={self.n_fft}")
            if self.win_length == self.n_fft:  # the same analysis as None: one hash, one cache
                object.__setattr__(self, "win_length", None)
        checks.positive_int("lms", "hop_length", self.hop_length)
        checks.finite_float("lms", "compression", self.compression, strict=False)


@functools.lru_cache(maxsize=16)
def mel_basis(sr: float, n_fft: int, n_mels: int) -> np.ndarray:
    """librosa's Slaney mel filterbank, float32 (n_mels, n_fft // 2 + 1) (cached)."""
    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)


def window(params: LMSParams) -> np.ndarray:
    """The analysis window, float32 (n_fft,): a Hann window of ``win_length`` centred in ``n_fft``
    zeros (librosa's ``stft(..., win_length=...)`` window)."""
    length = params.win_length or params.n_fft
    hann = librosa.filters.get_window("hann", length, fftbins=True)
    return librosa.util.pad_center(hann, size=params.n_fft).astype(np.float32)


def compress(mel_power: np.ndarray, compression: float) -> np.ndarray:
    """log(1 + compression · x), or x itself when compression is 0 (works for numpy and torch)."""
    if compression == 0:
        return mel_power
    return (mel_power * compression).log1p() if hasattr(mel_power, "log1p") else np.log1p(compression * mel_power)


@register_feature
class LMS(TorchVariant, Feature):
    """Log-mel spectrogram; value (1, n_mels, 1 + N // hop_length) float32."""

    name = "lms"
    Params = LMSParams

    def min_samples(self) -> int:
        """One frame: ``n_fft`` samples."""
        return self.params.n_fft

    def check_sample_rate(self, sr: float) -> None:
        """Fail when some mel band would hold no FFT bin at this sample rate (too many n_mels for n_fft)."""
        super().check_sample_rate(sr)
        empty = np.flatnonzero(mel_basis(float(sr), self.params.n_fft, self.params.n_mels).max(axis=1) == 0)
        if empty.size:
            raise ParameterError(
                f"lms: parameter n_mels={self.params.n_mels} is too many for n_fft={self.params.n_fft} at "
                f"sample rate {sr:g} Hz ({empty.size} empty mel bands); lower n_mels or raise n_fft"
            )

    def axes(self, n_samples: int, sr: float) -> tuple[np.ndarray, np.ndarray]:
        """time_sec (T,) frame centres and frequency_hz (n_mels,) mel band centres."""
        p = self.params
        n_frames = 1 + n_samples // p.hop_length
        time_sec = librosa.frames_to_time(np.arange(n_frames), sr=sr, hop_length=p.hop_length)
        frequency_hz = librosa.mel_frequencies(n_mels=p.n_mels + 2, fmin=0.0, fmax=sr / 2.0)[1:-1]
        return time_sec.astype(np.float64), frequency_hz.astype(np.float64)

    def compute(self, audio: np.ndarray, sr: float) -> FeatureValue:
        """Log-mel of ``audio`` (N,) at ``sr`` Hz."""
        self.check_sample_rate(sr)
        p = self.params
        audio = check_audio(audio, self.name, min_samples=self.min_samples())
        power = np.abs(librosa.stft(audio, n_fft=p.n_fft, hop_length=p.hop_length, window=window(p), center=True,
                                    pad_mode="constant")) ** 2
        mel = mel_basis(float(sr), p.n_fft, p.n_mels) @ power
        value = compress(mel, p.compression).astype(np.float32)[np.newaxis]
        time_sec, frequency_hz = self.axes(audio.size, sr)
        return FeatureValue(value, time_sec, frequency_hz)

    def torch_value(self, audio, sr: float):
        """Log-mel of a batch (B, N) → (B, 1, n_mels, T): ``torch.stft`` power, the same mel basis."""
        import torch

        from mirfeat.features import torch_backend

        p = self.params
        spectrum = torch_backend.stft(audio, p.n_fft, p.hop_length, torch.as_tensor(window(p), device=audio.device))
        power = spectrum.real.square() + spectrum.imag.square()
        basis = torch.as_tensor(mel_basis(sr, p.n_fft, p.n_mels), device=audio.device)
        return compress(torch.matmul(basis, power), p.compression)[:, None]
