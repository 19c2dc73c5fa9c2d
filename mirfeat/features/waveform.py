"""``waveform``: the raw samples as a feature, value (1, 1, N), time_sec = sample times."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mirfeat.features.base import (
    Feature,
    FeatureParams,
    FeatureValue,
    check_audio,
    register_feature,
)
from mirfeat.features.torch_variant import TorchVariant


@dataclass(frozen=True)
class WaveformParams(FeatureParams):
    """The waveform has no parameters."""


@register_feature
class Waveform(TorchVariant, Feature):
    """The samples themselves; frequency_hz is None."""

    name = "waveform"
    Params = WaveformParams
    torch_tolerance = 0.0

    def axes(self, n_samples: int, sr: float) -> tuple[np.ndarray, None]:
        """time_sec (N,) = n / sr and no frequency axis."""
        return np.arange(n_samples, dtype=np.float64) / float(sr), None

    def compute(self, audio: np.ndarray, sr: float) -> FeatureValue:
        """Value (1, 1, N) float32; time_sec (N,) = n / sr."""
        self.check_sample_rate(sr)
        audio = check_audio(audio, self.name, min_samples=1)
        time_sec, _ = self.axes(audio.size, sr)
        return FeatureValue(audio.reshape(1, 1, -1), time_sec, None)

    def torch_value(self, audio, sr: float):
        """The batch (B, N) itself as (B, 1, 1, N)."""
        return audio[:, None, None, :]
