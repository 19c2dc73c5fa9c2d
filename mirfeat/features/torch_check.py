"""Self-check of the torch backend: every feature with a torch variant against the librosa backend.

::

    python -m mirfeat.features.torch_check --check --device cuda

prints, per feature, the relative error to librosa (within the feature's ``torch_tolerance``) and the
time of one batch, and exits 1 when a feature is off.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from mirfeat.features.base import get_feature_class, torch_feature_names
from mirfeat.features.torch_backend import compute_batch

__all__ = ["check", "main", "relative_error", "test_signal"]


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
    """``python -m mirfeat.features.torch_check --check [--device cuda]``."""
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
