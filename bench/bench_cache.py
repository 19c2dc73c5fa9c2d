"""Bench: the HCQT cache of 16 × 30 s files, ``mirfeat.cache.build_cache`` vs the tutorial's pipeline.

Both sides run in this one process, one after the other, on the same synthesized audio store
(polyphonic harmonic tones + noise at 22050 Hz), with a process pool of the same size:

- tutorial: for each file, ``np.abs(librosa.cqt(y, sr, hop_length=512, fmin=h × 32.7,
  n_bins=360, bins_per_octave=60))`` for each harmonic h in (0.5, 1, 2, 3, 4, 5), stacked to
  (6, 360, T), in a ``multiprocessing`` pool of JOBS processes, one ``.npz`` per file, then all
  merged into one HDF5;
- ours: ``build_cache(audio, out, "hcqt", jobs=JOBS)`` (workers read the audio store themselves,
  journal shards streamed into the cache, atomic rename).

Each side runs twice: "cold" includes starting its worker processes (which then import
librosa / scipy / numba), "warm" reuses the started processes.  Prints both times, the
ratios, and how close the two caches' values are.  Run: ``python bench/bench_cache.py [--files 16] [--seconds 30] [--jobs 2]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

SR = 22050
HARMONICS = (0.5, 1.0, 2.0, 3.0, 4.0, 5.0)
FMIN, BINS, BINS_PER_OCTAVE, HOP = 32.7, 360, 60, 512


def synthesize_store(path: Path, files: int, seconds: float) -> Path:
    """An audio store of ``files`` clips: 3-note chords of 6-partial tones changing every second, + noise."""
    rng = np.random.default_rng(0)
    n = int(seconds * SR)
    t = np.arange(SR) / SR
    with h5py.File(path, "w") as store:
        for index in range(files):
            audio = np.empty(n, dtype=np.float64)
            for start in range(0, n, SR):
                chord = 40 + rng.integers(0, 36, size=3)
                block = np.zeros(SR)
                for midi in chord:
                    f0 = 440.0 * 2 ** ((midi - 69) / 12)
                    for partial in range(1, 7):
                        if f0 * partial < SR / 2:
                            block += np.sin(2 * np.pi * f0 * partial * t + rng.uniform(0, 6.3)) / (3 * partial)
                audio[start:start + SR] = block[: min(SR, n - start)]
            audio += 0.02 * rng.standard_normal(n)
            dataset = store.create_dataset(f"bench+++clip{index:02d}.wav", data=audio.astype(np.float32))
            dataset.attrs["sr_hz"] = SR
        store.attrs["sr_hz"] = SR
    return path


# ----------------------------------------------------------------------------- the tutorial's way


def _tutorial_one(args: tuple[str, str, str]) -> str:
    """One file the tutorial's way: librosa.cqt per harmonic, stacked, saved as .npz."""
    import librosa

    audio_path, key, npz_dir = args
    with h5py.File(audio_path, "r") as store:
        y = store[key][()]
    hcqt = np.stack([np.abs(librosa.cqt(y=y, sr=SR, hop_length=HOP, fmin=h * FMIN, n_bins=BINS,
                                        bins_per_octave=BINS_PER_OCTAVE)) for h in HARMONICS])
    times = librosa.frames_to_time(np.arange(hcqt.shape[-1]), sr=SR, hop_length=HOP)
    frequencies = librosa.cqt_frequencies(n_bins=BINS, fmin=FMIN, bins_per_octave=BINS_PER_OCTAVE)
    out = Path(npz_dir) / f"{key}.npz"
    np.savez(out, value=hcqt.astype(np.float32), time_sec=times, frequency_hz=frequencies)
    return str(out)


def tutorial_pipeline(audio_path: Path, out_path: Path, npz_dir: Path, pool) -> None:
    """The tutorial's way with an open ``pool``: per-file .npz in parallel, then one merge."""
    with h5py.File(audio_path, "r") as store:
        keys = list(store)
    npz_dir.mkdir()
    paths = pool.map(_tutorial_one, [(str(audio_path), key, str(npz_dir)) for key in keys])
    with h5py.File(out_path, "w") as out:
        for key, path in zip(keys, paths):
            with np.load(path) as data:
                group = out.create_group(key)
                for name in ("value", "time_sec", "frequency_hz"):
                    group.create_dataset(name, data=data[name])


# ----------------------------------------------------------------------------- ours


def ours(audio_path: Path, out_path: Path, jobs: int) -> None:
    from mirfeat.cache import build_cache

    build_cache(audio_path, out_path, "hcqt", jobs=jobs, quiet=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_cache_") as folder:
        work = Path(folder)
        audio = synthesize_store(work / "bench_audio.hdf5", args.files, args.seconds)
        # cold = the first run, starting the worker processes (they import librosa/scipy/numba);
        # warm = a second run on the same, already started processes (loky reuses its pool)
        times: dict[str, list[float]] = {"tutorial": [], "ours": []}
        start = time.perf_counter()
        with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
            for run in range(2):
                tutorial_pipeline(audio, work / f"tutorial_feat{run}.hdf5", work / f"npz{run}", pool)
                times["tutorial"].append(time.perf_counter() - start)
                start = time.perf_counter()
        for run in range(2):
            start = time.perf_counter()
            ours(audio, work / f"ours_feat{run}.hdf5", args.jobs)
            times["ours"].append(time.perf_counter() - start)
        (work / "tutorial_feat0.hdf5").rename(work / "tutorial_feat.hdf5")
        (work / "ours_feat0.hdf5").rename(work / "ours_feat.hdf5")
        with h5py.File(work / "tutorial_feat.hdf5", "r") as a, h5py.File(work / "ours_feat.hdf5", "r") as b:
            key = sorted(a)[0]
            ref, got = a[key]["value"][()], b[key]["value"][()]
            assert ref.shape == got.shape, (ref.shape, got.shape)
            relative = float(np.linalg.norm(got - ref) / np.linalg.norm(ref))
    print(f"HCQT cache of {args.files} × {args.seconds:g} s at {SR} Hz, (6, 360, T), {args.jobs} processes each")
    label = f'mirfeat build_cache(..., "hcqt", jobs={args.jobs})'
    print(f"{'pipeline':<48} {'cold s':>8} {'warm s':>8}")
    print(f"{'tutorial (librosa.cqt per harmonic, npz, merge)':<48} {times['tutorial'][0]:8.2f} {times['tutorial'][1]:8.2f}")
    print(f"{label:<48} {times['ours'][0]:8.2f} {times['ours'][1]:8.2f}")
    print(f"{'ratio tutorial / ours':<48} {times['tutorial'][0] / times['ours'][0]:7.2f}x "
          f"{times['tutorial'][1] / times['ours'][1]:7.2f}x")
    print(f"relative L2 difference of the values (first file): {relative:.2e}")


if __name__ == "__main__":
    main()
