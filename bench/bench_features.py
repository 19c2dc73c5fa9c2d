"""Benchmark mirfeat features against the tutorial's librosa recipes, side by side in one run.

Prints one table: for each feature, the tutorial recipe's time, ours (librosa backend, then the torch
backend on CPU and, when present, CUDA), the speed-up ratio and the relative Frobenius error to the
recipe, overall and (CQT/HCQT) in the worst harmonic × octave block.  The audio is N clips of 30 s
(the real GTZAN clip when ../shared/fixtures has it, else synthesized polyphonic tones + noise).  Usage::

    python bench/bench_features.py [--clips 16] [--seconds 30] [--repeats 1]

Times are the best of ``--repeats`` runs over all clips, after one warm-up (plans, librosa's lazy
imports, CUDA kernels), single process.  The librosa-backend rows use one thread like the cache's
joblib workers; the torch CPU row uses ``torch.get_num_threads()`` threads (printed).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import librosa
import numpy as np
import torch

from mirfeat.features import build_feature, torch_backend, torch_check

SR = 22050
HARMONICS = (0.5, 1, 2, 3, 4, 5)
GTZAN = Path(__file__).resolve().parents[1].parent / "shared/fixtures/gtzan_genre/gtzan_genre/genres/country/country.00000.wav"


def recipe_hcqt(y: np.ndarray, harmonics=HARMONICS) -> np.ndarray:
    return np.stack([
        np.abs(librosa.cqt(y=y, sr=SR, hop_length=512, fmin=h * 32.7, n_bins=360, bins_per_octave=60))
        for h in harmonics
    ])


def recipe_lms(y: np.ndarray) -> np.ndarray:
    return np.log(1 + 10000 * librosa.feature.melspectrogram(y=y, sr=SR, n_fft=2048, hop_length=1024, n_mels=128))[None]


RECIPES = {"hcqt": recipe_hcqt, "cqt": lambda y: recipe_hcqt(y, (1,)), "lms": recipe_lms}


def worst_octave_error(value: np.ndarray, reference: np.ndarray, bins_per_octave: int = 60) -> tuple[float, str]:
    """The largest relative Frobenius error over the (harmonic, octave) blocks of (B, C, F, T) arrays, and where."""
    worst, where = 0.0, ""
    for channel in range(reference.shape[1]):
        for start in range(0, reference.shape[2], bins_per_octave):
            ref = reference[:, channel, start:start + bins_per_octave]
            error = float(np.linalg.norm(value[:, channel, start:start + bins_per_octave] - ref) / np.linalg.norm(ref))
            if error > worst:
                worst, where = error, f"channel {channel}, octave {start // bins_per_octave + 1}"
    return worst, where


def load_clips(n_clips: int, seconds: float) -> tuple[np.ndarray, str]:
    n = int(seconds * SR)
    if GTZAN.exists():
        y, _ = librosa.load(GTZAN, sr=SR, duration=seconds)
        y = np.pad(y, (0, max(0, n - y.size)))[:n]
        return np.stack([np.roll(y, 997 * i) for i in range(n_clips)]).astype(np.float32), "GTZAN country.00000 (rolled copies)"
    return np.stack([torch_check.test_signal(SR, seconds, seed) for seed in range(n_clips)]), "synthesized tones + noise"


def best_time(function, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    clips, source = load_clips(args.clips, args.seconds)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"machine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), torch {torch.__version__} "
          f"with {torch.get_num_threads()} CPU threads; CUDA: "
          f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}")
    print(f"audio: {args.clips} x {args.seconds:g} s at {SR} Hz, {source}; times = best of {args.repeats}, whole batch\n")
    print(f"{'feature':8s} {'method':34s} {'time s':>8s} {'x recipe':>9s} {'rel.err':>9s}")
    for name, recipe in RECIPES.items():
        feature = build_feature(name)
        recipe(clips[0][: SR * 2]), feature.compute(clips[0][: SR * 2], SR)  # warm-up: lazy imports, plan
        recipe_time, reference = best_time(lambda: [recipe(y) for y in clips], args.repeats)
        reference = np.stack(reference)
        print(f"{name:8s} {'tutorial recipe (librosa)':34s} {recipe_time:8.2f} {1.0:9.2f} {0.0:9.1e}")
        ours_time, ours = best_time(lambda: [feature.compute(y, SR).value for y in clips], args.repeats)
        error = np.linalg.norm(np.stack(ours) - reference) / np.linalg.norm(reference)
        print(f"{'':8s} {'mirfeat, librosa backend':34s} {ours_time:8.2f} {recipe_time / ours_time:9.2f} {error:9.1e}")
        if name in ("cqt", "hcqt"):
            worst, where = worst_octave_error(np.stack(ours), reference)
            print(f"{'':8s} {'  worst harmonic x octave':34s} {'':8s} {'':9s} {worst:9.1e}  ({where})")
        for device in devices:
            torch_backend.compute_batch(feature, clips[:2], SR, device)  # warm-up
            synchronize(device)

            def run() -> np.ndarray:
                values = [torch_backend.compute_batch(feature, clips[i : i + 8], SR, device) for i in range(0, len(clips), 8)]
                synchronize(device)
                return torch.cat(values).cpu().numpy()

            torch_time, value = best_time(run, args.repeats)
            error = np.linalg.norm(value - reference) / np.linalg.norm(reference)
            label = f"mirfeat, torch {device} (batches of 8)"
            print(f"{'':8s} {label:34s} {torch_time:8.2f} {recipe_time / torch_time:9.2f} {error:9.1e}")


if __name__ == "__main__":
    main()
