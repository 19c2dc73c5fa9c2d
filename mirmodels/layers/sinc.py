"""SincNet front-end (Ravanelli & Bengio 2018): learnable band-pass sinc filters on the waveform."""

from __future__ import annotations


import torch
from torch import nn
from torch.nn import functional as F

from pyjama_tools.core.errors import ParameterError
from mirmodels.layers.registry import CHANNELS, register_layer


def _hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    return 2595.0 * torch.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


@register_layer("SincNet", infer={"in_channels": CHANNELS})
class SincNet(nn.Module):
    """Band-pass convolution whose only parameters are each filter's low cut-off and bandwidth.

    Filter k is ``(2 f2 sinc(2 f2 t) - 2 f1 sinc(2 f1 t)) / sample_rate`` (the sampled ideal
    band-pass [f1, f2] Hz, t in seconds) times a Hamming window, so every filter has unit gain
    in its pass band (the original scaled the centre tap to 1 instead, which gives narrow bands
    a gain of sample_rate / (2 × bandwidth)); the cut-offs start evenly spaced on the mel scale
    and are learned.

    Parameters
    ----------
    in_channels : int
        Must be 1 (mono waveform, shape (B, 1, T)).
    out_channels : int
        Number of filters.
    kernel_size : int
        Filter length in samples; an even length is made odd (+1) so filters are symmetric.
    stride, padding, dilation : int
        As in :class:`torch.nn.Conv1d`.
    sample_rate : float
        Sampling rate of the input in Hz (``sr_hz`` is accepted as the tutorial's name).
    min_low_hz, min_band_hz : float
        Lower bounds of the low cut-off and of the bandwidth in Hz.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 dilation: int = 1, sample_rate: float | None = None, sr_hz: float | None = None,
                 min_low_hz: float = 50.0, min_band_hz: float = 50.0):
        super().__init__()
        if in_channels != 1:
            raise ParameterError(f"in_channels={in_channels}: SincNet needs a mono waveform (B, 1, T)")
        if sample_rate is None:
            sample_rate = sr_hz
        if sample_rate is None or sample_rate <= 0:
            raise ParameterError(f"sample_rate={sample_rate!r}: give the input's sampling rate in Hz (> 0)")
        if out_channels < 1 or kernel_size < 3:
            raise ParameterError(f"out_channels={out_channels}, kernel_size={kernel_size}: need >= 1 filter of >= 3 taps")
        if min_low_hz + min_band_hz >= sample_rate / 2:
            raise ParameterError(f"min_low_hz + min_band_hz = {min_low_hz + min_band_hz} Hz: must stay below "
                                 f"Nyquist ({sample_rate / 2} Hz)")
        self.out_channels = out_channels
        self.kernel_size = kernel_size + 1 if kernel_size % 2 == 0 else kernel_size
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.sample_rate = float(sample_rate)
        self.min_low_hz, self.min_band_hz = float(min_low_hz), float(min_band_hz)

        high = self.sample_rate / 2 - (self.min_low_hz + self.min_band_hz)
        edges = _mel_to_hz(torch.linspace(float(_hz_to_mel(torch.tensor(30.0))), float(_hz_to_mel(torch.tensor(high))),
                                          out_channels + 1))
        self.low_hz = nn.Parameter((edges[:-1] - self.min_low_hz).clamp_min(0.0).unsqueeze(1))  # (K, 1)
        self.band_hz = nn.Parameter(torch.diff(edges).unsqueeze(1))  # (K, 1)
        half = (self.kernel_size - 1) / 2
        self.register_buffer("time_s", ((torch.arange(self.kernel_size) - half) / self.sample_rate).unsqueeze(0),
                             persistent=False)  # (1, L) seconds, centred
        self.register_buffer("window", torch.hamming_window(self.kernel_size, periodic=False), persistent=False)

    def filters(self) -> torch.Tensor:
        """The current filters, shape (out_channels, 1, kernel_size)."""
        low = self.min_low_hz + self.low_hz.abs()
        high = torch.clamp(low + self.min_band_hz + self.band_hz.abs(), self.min_low_hz, self.sample_rate / 2)
        band_pass = 2 * high * torch.sinc(2 * high * self.time_s) - 2 * low * torch.sinc(2 * low * self.time_s)
        band_pass = band_pass * self.window / self.sample_rate  # unit gain in the pass band
        return band_pass.unsqueeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, T) → (B, out_channels, T')."""
        return F.conv1d(x, self.filters().to(x.dtype), stride=self.stride, padding=self.padding,
                        dilation=self.dilation)

    def extra_repr(self) -> str:
        return (f"out_channels={self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"sample_rate={self.sample_rate:g}")
