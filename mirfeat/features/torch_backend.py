"""Torch backend: batched feature extraction on CPU or CUDA, matching the librosa backend.

``compute_batch(feature, audio, sr, device)`` takes a (B, N) batch of waveforms (numpy or torch) and
returns a float32 tensor (B, C, F, T) on ``device``; the axes are ``feature.axes(N, sr)``.  The
backend and device are *not* parameters of the feature: they change how a value is computed, not
what it is, so they do not enter ``params.hash()`` (the relative error to the librosa backend is
tested: ≤ 1e-3 for LMS/STFT, ≤ 1e-3 per harmonic and octave for CQT/HCQT, see
``tests/mirfeat/test_features_torch.py`` and ``tests/mirfeat/test_hcqt_fidelity.py``).

This module is the shared torch machinery only: batch and device checks, the STFT and window
helpers and the multi-rate decimation (the self-check against librosa is
:mod:`mirfeat.features.torch_check`).  Each feature's torch computation lives in
its own module (``torch_value`` of a :class:`~mirfeat.features.torch_variant.TorchVariant`
feature); this module imports no feature module, nor :mod:`mirfeat.features.base`.

The decimation (used by the CQT/HCQT variant in :mod:`mirfeat.features.cqt`) is librosa's cascade
of soxr_hq halvings, each done in the frequency domain with the halving's measured response (so
bins near a level's Nyquist, e.g. the top of h = 5, are shaped as in ``librosa.cqt``, and each
halving's output ends where soxr's does).

GPU check::

    python -m mirfeat.features.torch_check --check --device cuda
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING
from collections.abc import Callable

import librosa
import numpy as np
import scipy.fft
import torch

from mirfeat.features import cqt_engine
from mirfeat.features.errors import BadAudioError
from pyjama_tools.core.errors import ParameterError

if TYPE_CHECKING:
    from mirfeat.features.base import Feature

# Zeros appended before a frequency-domain halving: more than soxr_hq's filter (about 3,300 taps).
HALVING_MARGIN = 4096


def as_batch(feature: Feature, audio: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """Validate ``audio`` (N,) or (B, N) and return it as float32 (B, N) on ``device``.

    Raises
    ------
    BadAudioError
        Wrong rank, not floating point, empty, shorter than ``feature.min_samples()``, NaN/inf.
    """
    tensor = torch.as_tensor(audio)
    if tensor.ndim == 1:
        tensor = tensor[None]
    name = feature.name
    if tensor.ndim != 2:
        raise BadAudioError(f"{name}: audio batch must be (N,) or (B, N), got shape {tuple(tensor.shape)}")
    if not tensor.is_floating_point():
        raise BadAudioError(f"{name}: audio must be floating point, got dtype {tensor.dtype}")
    if tensor.shape[0] == 0 or tensor.shape[1] == 0:
        raise BadAudioError(f"{name}: audio is empty (shape {tuple(tensor.shape)})")
    if tensor.shape[1] < feature.min_samples():
        raise BadAudioError(
            f"{name}: audio has {tensor.shape[1]} samples, shorter than one frame ({feature.min_samples()} samples)"
        )
    tensor = tensor.to(device=device, dtype=torch.float32)
    if not bool(torch.isfinite(tensor).all()):
        raise BadAudioError(f"{name}: audio holds NaN/inf samples")
    return tensor


def compute_batch(
    feature: Feature, audio: np.ndarray | torch.Tensor, sr: float, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """Compute ``feature`` for a batch of equal-length waveforms with torch.

    Parameters
    ----------
    feature : Feature
        A configured feature (``build_feature(...)``); must have a torch variant (``torch_value``).
    audio : np.ndarray or torch.Tensor
        (B, N) or (N,) float waveforms at ``sr`` Hz.
    sr : float
        Sample rate in Hz.
    device : str or torch.device
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``...

    Returns
    -------
    torch.Tensor
        float32 (B, C, F, T) on ``device``; time/frequency axes are ``feature.axes(N, sr)``.
    """
    implementation, device = check_device(feature, device)
    feature.check_sample_rate(sr)
    batch = as_batch(feature, audio, device)
    with torch.no_grad():
        return implementation(batch, float(sr))


def check_device(feature: Feature, device: str | torch.device) -> tuple[Callable, torch.device]:
    """The torch variant of ``feature`` (its bound ``torch_value``) and the parsed ``device``, or a
    one-line ParameterError.

    Fails when the feature has no torch variant, or the device is unknown, unsupported or absent.
    """
    implementation = feature.torch_function()  # one line when the feature has no torch variant
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):  # torch's message lists every device type it knows
        raise ParameterError(f"{feature.name}: device {str(device)!r} is not a torch device; use cpu, cuda "
                             f"or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ParameterError(f"{feature.name}: device {str(device)!r} requested but CUDA is not available")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ParameterError(f"{feature.name}: device {str(device)!r} requested but only "
                             f"{torch.cuda.device_count()} CUDA device(s) are visible")
    if device.type not in ("cpu", "cuda"):
        raise ParameterError(f"{feature.name}: device {str(device)!r} not supported; use cpu, cuda or cuda:N")
    return implementation, device


def stft(audio: torch.Tensor, n_fft: int, hop_length: int, window: torch.Tensor) -> torch.Tensor:
    """Complex STFT (B, n_fft // 2 + 1, T) of a (B, N) batch: centred frames, zero padding (librosa's
    ``stft(..., center=True, pad_mode="constant")``)."""
    return torch.stft(
        audio, n_fft=n_fft, hop_length=hop_length, window=window, center=True,
        pad_mode="constant", return_complex=True,
    )


def get_window(name: str, n_fft: int, device: torch.device) -> torch.Tensor:
    """librosa's periodic window ``name`` of ``n_fft`` samples, float32 on ``device``."""
    window = librosa.filters.get_window(name, n_fft, fftbins=True)
    return torch.as_tensor(window, dtype=torch.float32, device=device)


def halve(signal: torch.Tensor) -> torch.Tensor:
    """One energy-preserving halving of a (B, N) batch → (B, ceil(N / 2)): :func:`cqt_engine.halve` in
    the frequency domain (its measured response, :func:`cqt_engine.halving_response`), on the signal
    zero-padded by more than the filter's length, so that the output ends where soxr's does."""
    n_samples = signal.shape[-1]
    # an even 5-smooth length (torch's FFT is slow on lengths with large prime factors)
    padded = 2 * scipy.fft.next_fast_len(math.ceil((n_samples + HALVING_MARGIN) / 2), real=True)
    n_keep = padded // 4 + 1  # the bins below the new Nyquist
    gain = cqt_engine.halving_response(np.arange(n_keep) / padded) * 0.5  # 0.5: irfft at half the length
    spectrum = torch.fft.rfft(signal, n=padded)[..., :n_keep]
    low = torch.fft.irfft(spectrum * torch.as_tensor(gain, dtype=torch.float32, device=signal.device), n=padded // 2)
    return low[..., : math.ceil(n_samples / 2)]


def decimate(audio: torch.Tensor, decimations: set[int]) -> dict[int, torch.Tensor]:
    """Energy-preserving decimations of a (B, N) batch by 2**k for each k: cascaded :func:`halve`.

    Returns (B, ceil(N / 2**k)) tensors scaled by 2**(k / 2), like cascaded ``librosa.resample(...,
    scale=True)`` halvings (flat to 0.92 × each new Nyquist, then soxr's transition band).
    """
    out = {0: audio} if 0 in decimations else {}
    signal = audio
    for k in range(1, max(decimations) + 1):
        signal = halve(signal)
        if k in decimations:
            out[k] = signal
    return out
