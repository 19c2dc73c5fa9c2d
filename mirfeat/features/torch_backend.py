"""Torch backend: batched feature extraction on CPU or CUDA, matching the librosa backend.

``compute_batch(feature, audio, sr, device)`` takes a (B, N) batch of waveforms (numpy or torch) and
returns a float32 tensor (B, C, F, T) on ``device``; the axes are ``feature.axes(N, sr)``.  The
backend and device are *not* parameters of the feature: they change how a value is computed, not
what it is, so they do not enter ``params.hash()`` (the relative error to the librosa backend is
tested: ≤ 1e-3 for LMS/STFT, ≤ 1e-3 per harmonic and octave for CQT/HCQT, see
``tests/test_features_torch.py`` and ``tests/test_hcqt_fidelity.py``).

This module is the shared torch machinery only: batch and device checks, the STFT and window
helpers, the multi-rate decimation and the self-check.  Each feature's torch computation lives in
its own module (``torch_value`` of a :class:`~mirfeat.features.torch_variant.TorchVariant`
feature); this module imports no feature module, and :mod:`mirfeat.features.base` does not import it.

The decimation (used by the CQT/HCQT variant in :mod:`mirfeat.features.cqt`) is librosa's cascade
of soxr_hq halvings, each done in the frequency domain with the halving's measured response (so
bins near a level's Nyquist, e.g. the top of h = 5, are shaped as in ``librosa.cqt``, and each
halving's output ends where soxr's does).

Lead's GPU check::

    python -m mirfeat.features.torch_backend --check --device cuda
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Callable

import librosa
import numpy as np
import scipy.fft
import torch

from mirfeat.features import cqt_engine
from mirfeat.features.base import BadAudioError, Feature, get_feature_class, no_torch_backend, torch_feature_names
from mirfeat.features.torch_variant import TorchVariant
from pyjama_tools.core.errors import ParameterError

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
    if not isinstance(feature, TorchVariant):
        raise no_torch_backend(feature.name)
    implementation = feature.torch_value
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


def relative_error(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Relative Frobenius error ‖estimate − reference‖ / ‖reference‖."""
    return float(np.linalg.norm(estimate - reference) / np.linalg.norm(reference))


def test_signal(sr: int = 22050, seconds: float = 10.0, seed: int = 0) -> np.ndarray:
    """A polyphonic test waveform: harmonic tones (random pitches, onsets) plus a little noise, float32."""
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    t = np.arange(n) / sr
    y = 0.01 * rng.standard_normal(n)
    for _ in range(int(4 * seconds)):
        f0 = 55.0 * 2 ** (rng.integers(0, 48) / 12)
        start = rng.integers(0, n - sr // 4)
        length = min(n - start, int(rng.uniform(0.25, 1.5) * sr))
        envelope = np.exp(-np.arange(length) / (0.3 * sr))
        for k in range(1, 6):
            if k * f0 < sr / 2.2:
                y[start : start + length] += 0.1 / k * envelope * np.sin(2 * np.pi * k * f0 * t[:length])
    return (y / np.abs(y).max()).astype(np.float32)


def check(device: str = "cuda", seconds: float = 10.0, batch: int = 4) -> bool:
    """Compare every registered feature with a torch variant (default parameters) on ``device`` with
    the librosa backend, within the feature's ``torch_tolerance``; print errors and timings."""
    sr = 22050
    audio = np.stack([test_signal(sr, seconds, seed) for seed in range(batch)])
    name_of_device = torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else "cpu"
    print(f"torch {torch.__version__} on {device} ({name_of_device}); batch {batch} x {seconds:g} s")
    ok = True
    for name in torch_feature_names():
        feature = get_feature_class(name)()
        reference = np.stack([feature.compute(row, sr).value for row in audio])
        compute_batch(feature, audio[:1], sr, device)  # warm-up (plan, kernels)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        value = compute_batch(feature, audio, sr, device)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        error = relative_error(value.cpu().numpy(), reference)
        tolerance = feature.torch_tolerance
        passed = value.shape == reference.shape and error <= tolerance + 1e-6
        ok &= passed
        print(f"{name:9s} shape {tuple(value.shape)} rel.err {error:.2e} (tol {tolerance:.0e}) "
              f"{elapsed * 1000:8.1f} ms  {'ok' if passed else 'FAIL'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    """``python -m mirfeat.features.torch_backend --check [--device cuda]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare the torch backend with librosa")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    if not args.check:
        parser.print_help()
        return 0
    return 0 if check(args.device, args.seconds) else 1


if __name__ == "__main__":
    sys.exit(main())
