"""Bricks for source separation on the complex STFT: STFT, ISTFT, ResizeLike, Mask, ConditionChannels.

The book's U-Net (``examples/models/separation_unet.yaml``) reads::

    [StoreAs, mixture]                      # waveform (C, N), kept for the iSTFT's length
    [STFT, {n_fft: 2048, hop_length: 1024}] # → (2C, T, F): real parts of the C channels, then imaginary
    [StoreAs, spectrum]
    ... Conv2d stride 2 encoder, [ResizeLike, E5] + Conv2d + [CatWith, E5] decoder ...
    [ResizeLike, spectrum]
    [Mask, {key: spectrum, sources: $n_out}]  # conv → tanh masks × the mixture's real / imaginary parts
    [ISTFT, {n_fft: 2048, hop_length: 1024, key: mixture}]  # → (S, C, N) waveforms

``ConditionChannels`` splits a conditioned input (C + K, N) — the mixture followed by a one-hot
source repeated over time — into the mixture and a stored (K,) condition for ``FiLM`` (CUNet).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pyjama_tools.core.errors import MirError, ParameterError
from mirmodels.layers.registry import CHANNELS, InferContext, LayerInputError, register_layer


def _positive(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{name}={value!r}: expected an integer >= 1")
    return value


def _stored(store: dict, key: str) -> torch.Tensor:
    if key not in store:
        raise LayerInputError(f"no tensor stored as {key!r} before this layer "
                              f"(stored: {', '.join(map(repr, store)) or 'none'})")
    return store[key]


def _stored_channels(context: InferContext) -> int:
    key = context.params.get("key")
    if key not in context.stored:
        raise MirError(f"no tensor stored as {key!r} (stored: {', '.join(map(repr, context.stored)) or 'none'})")
    return int(context.stored[key][1])


@register_layer("STFT")
class STFT(nn.Module):
    """Waveform (B, C, N) → complex STFT as real channels (B, 2C, T, F).

    Channels 0..C-1 are the real parts of the C audio channels, C..2C-1 their imaginary parts;
    T = 1 + N // hop_length frames (centred, Hann window), F = n_fft // 2 + 1 bins.

    Parameters
    ----------
    n_fft : int
        FFT size in samples (the book: 2048 at 44.1 kHz).
    hop_length : int
        Hop in samples (the book: n_fft / 2).
    """

    def __init__(self, n_fft: int = 2048, hop_length: int = 1024):
        super().__init__()
        self.n_fft = _positive("n_fft", n_fft)
        self.hop_length = _positive("hop_length", hop_length)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise LayerInputError(f"STFT needs a waveform (channels, samples) per example, got {tuple(x.shape[1:])}")
        batch, channels, samples = x.shape
        spectrum = torch.stft(x.reshape(batch * channels, samples).float(), self.n_fft, self.hop_length,
                              window=self.window, center=True, return_complex=True)
        spectrum = spectrum.reshape(batch, channels, *spectrum.shape[-2:])  # (B, C, F, T)
        return torch.cat((spectrum.real, spectrum.imag), dim=1).transpose(2, 3).contiguous()

    def extra_repr(self) -> str:
        return f"n_fft={self.n_fft}, hop_length={self.hop_length}"


@register_layer("ISTFT", positional="key")
class ISTFT(nn.Module):
    """(B, S·2C, T, F) real / imaginary channels → waveforms (B, S, C, N).

    C and N are those of the waveform stored under ``key`` (``[StoreAs, mixture]`` before the
    STFT); S = channels / 2C sources.

    Parameters
    ----------
    key : str
        Name of the stored input waveform (B, C, N).
    n_fft, hop_length : int
        As in the matching ``STFT``.
    """

    uses_store = True

    def __init__(self, key: str = "mixture", n_fft: int = 2048, hop_length: int = 1024):
        super().__init__()
        self.key = str(key)
        self.n_fft = _positive("n_fft", n_fft)
        self.hop_length = _positive("hop_length", hop_length)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)

    def forward(self, x: torch.Tensor, store: dict[str, torch.Tensor]) -> torch.Tensor:
        waveform = _stored(store, self.key)
        channels, samples = int(waveform.shape[1]), int(waveform.shape[-1])
        if x.dim() != 4 or x.shape[1] % (2 * channels) or x.shape[-1] != self.n_fft // 2 + 1:
            raise LayerInputError(f"ISTFT needs (S*2*{channels}, T, {self.n_fft // 2 + 1}) per example "
                                  f"(real and imaginary parts of {channels} channel(s)), got {tuple(x.shape[1:])}")
        batch, frames = x.shape[0], x.shape[2]
        sources = x.shape[1] // (2 * channels)
        parts = x.float().reshape(batch, sources, 2, channels, frames, -1)
        spectrum = torch.complex(parts[:, :, 0], parts[:, :, 1]).transpose(-1, -2)  # (B, S, C, F, T)
        audio = torch.istft(spectrum.reshape(-1, *spectrum.shape[-2:]), self.n_fft, self.hop_length,
                            window=self.window, center=True, length=samples)
        return audio.reshape(batch, sources, channels, samples)

    def extra_repr(self) -> str:
        return f"key={self.key!r}, n_fft={self.n_fft}, hop_length={self.hop_length}"


@register_layer("ResizeLike", positional="key")
class ResizeLike(nn.Module):
    """Interpolate (B, C, T, F) to the (T, F) of the tensor stored under ``key`` (bilinear: the
    book's up-sampling in the U-Net decoder, which lands exactly on the skip's size)."""

    uses_store = True

    def __init__(self, key: str, mode: str = "bilinear"):
        super().__init__()
        if mode not in ("bilinear", "nearest", "bicubic"):
            raise ParameterError(f"mode={mode!r}: expected bilinear, nearest or bicubic")
        self.key = str(key)
        self.mode = mode

    def forward(self, x: torch.Tensor, store: dict[str, torch.Tensor]) -> torch.Tensor:
        other = _stored(store, self.key)
        if x.dim() != 4 or other.dim() != 4:
            raise LayerInputError(f"ResizeLike needs (C, T, F) tensors, got {tuple(x.shape[1:])} and stored "
                                  f"{self.key!r} {tuple(other.shape[1:])}")
        options = {} if self.mode == "nearest" else {"align_corners": False}
        return F.interpolate(x, size=tuple(other.shape[-2:]), mode=self.mode, **options)

    def extra_repr(self) -> str:
        return f"key={self.key!r}, mode={self.mode!r}"


@register_layer("Mask", infer={"in_channels": CHANNELS, "spectrum_channels": _stored_channels})
class Mask(nn.Module):
    """Masks applied to the stored mixture spectrum: (B, in, T, F) → (B, S·2C, T, F).

    A ``kernel_size`` convolution gives ``sources × spectrum_channels`` maps, tanh bounds them to
    (-1, 1), and each multiplies the mixture's real and imaginary parts (the book's masking).

    Parameters
    ----------
    key : str
        The stored spectrum (B, 2C, T, F) from ``STFT``.
    sources : int
        S, the number of masks sets (sources estimated at once; 1 for a conditioned model).
    in_channels, spectrum_channels : int
        Inferred from the incoming and the stored tensors.
    kernel_size : int
        Odd convolution kernel (padding keeps T and F).
    """

    uses_store = True

    def __init__(self, key: str, sources: int, in_channels: int, spectrum_channels: int, kernel_size: int = 3):
        super().__init__()
        self.key = str(key)
        self.sources = _positive("sources", sources)
        if _positive("kernel_size", kernel_size) % 2 == 0:
            raise ParameterError(f"kernel_size={kernel_size}: expected an odd size")
        self.spectrum_channels = spectrum_channels
        self.conv = nn.Conv2d(in_channels, self.sources * spectrum_channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor, store: dict[str, torch.Tensor]) -> torch.Tensor:
        spectrum = _stored(store, self.key)
        if x.dim() != 4 or tuple(x.shape[-2:]) != tuple(spectrum.shape[-2:]):
            raise LayerInputError(f"Mask input {tuple(x.shape[1:])} must have the (T, F) of the stored "
                                  f"{self.key!r} {tuple(spectrum.shape[1:])} (add [ResizeLike, {self.key}] before)")
        masks = torch.tanh(self.conv(x))
        batch = x.shape[0]
        masked = masks.reshape(batch, self.sources, self.spectrum_channels, *x.shape[-2:]) * spectrum.unsqueeze(1)
        return masked.reshape(batch, self.sources * self.spectrum_channels, *x.shape[-2:])

    def extra_repr(self) -> str:
        return f"key={self.key!r}, sources={self.sources}"


@register_layer("ConditionChannels")
class ConditionChannels(nn.Module):
    """(B, C + count, N) → (B, C, N), storing the last ``count`` channels at sample 0 as the
    condition (B, count) under ``key`` (a one-hot source for ``FiLM``, the book's CUNet)."""

    uses_store = True

    def __init__(self, count: int, key: str = "condition"):
        super().__init__()
        self.count = _positive("count", count)
        self.key = str(key)

    def forward(self, x: torch.Tensor, store: dict[str, torch.Tensor]) -> torch.Tensor:
        if x.dim() != 3 or x.shape[1] <= self.count:
            raise LayerInputError(f"ConditionChannels needs (channels + {self.count}, samples) per example, "
                                  f"got {tuple(x.shape[1:])}")
        store[self.key] = x[:, -self.count:, 0]
        return x[:, :-self.count]

    def extra_repr(self) -> str:
        return f"count={self.count}, key={self.key!r}"
