"""Benchmarks of pyjama_tools, measured side by side in one run.

1. Conversion throughput: ``convert("folder", ..., jobs=2)`` against a sequential loop of
   ``librosa.load(sr=22050)`` + writing each array to an HDF5 file (the tutorial's way), over the
   same synthesized corpus (default 24 files of 30 s, 44.1 kHz stereo, 16-bit WAV). Target ≥ 1.8×
   on 2 cores.
2. Validation of an MTT-sized document (25,000 entries: filepath, ~3 tags out of 50, clip_id,
   title, artist, album) against its audio keys. Target < 1 s.

Usage::

    python bench/bench_pyjama.py [--files 24] [--seconds 30] [--jobs 2] [--repeat 2]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import soundfile

from pyjama_tools import pyjama
from pyjama_tools.convert import convert


def make_corpus(root: Path, files: int, seconds: float, rate: int = 44100) -> list[Path]:
    """``files`` stereo 16-bit WAVs under ``root/<label>/`` (noise plus a tone, different per file)."""
    rng = np.random.default_rng(0)
    paths = []
    t = np.arange(int(seconds * rate)) / rate
    for index in range(files):
        path = root / f"label{index % 4}" / f"file{index:03d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        tone = 0.3 * np.sin(2 * np.pi * (110 + 10 * index) * t)
        audio = np.stack([tone, tone[::-1]], axis=1) + 0.05 * rng.standard_normal((t.size, 2))
        soundfile.write(path, audio.astype(np.float32), rate, subtype="PCM_16")
        paths.append(path)
    return paths


def baseline(paths: list[Path], root: Path, out: Path) -> float:
    """Seconds for the sequential librosa.load loop writing every array to one HDF5 file."""
    import librosa

    start = time.perf_counter()
    with h5py.File(out, "w") as handle:
        for path in paths:
            audio, rate = librosa.load(path, sr=22050)
            key = "+++".join(path.relative_to(root).parts)
            handle.create_dataset(key, data=audio).attrs["sr_hz"] = rate
    return time.perf_counter() - start


def ours(root: Path, out_dir: Path, jobs: int) -> float:
    """Seconds for a whole conversion (decode, resample, write, document, validation)."""
    start = time.perf_counter()
    convert("folder", root, out_dir, jobs=jobs, overwrite=True, quiet=True)
    return time.perf_counter() - start


def mtt_sized_document(entries: int = 25_000, tags: int = 50, seed: int = 0) -> tuple[pyjama.PyjamaDoc, list[str]]:
    """A document shaped like MagnaTagATune's: filepath + ~3 of 50 tags + a few metadata fields."""
    rng = random.Random(seed)
    names = [f"tag{i:02d}" for i in range(tags)]
    doc = pyjama.PyjamaDoc()
    doc.define("tag", type_constraint="value_in_dictionary", dictionary=names)
    doc.define("clip_id", type_content="numeric")
    for name in ("title", "artist", "album"):
        doc.define(name)
    keys = []
    for index in range(entries):
        key = f"{index % 16:x}+++artist_{index // 10}-album-{index % 10:02d}-track-{index}-29.mp3"
        keys.append(key)
        doc.add_entry(key, {"tag": rng.sample(names, rng.randint(1, 5)), "clip_id": [index],
                            "title": [f"Track {index}"], "artist": [f"Artist {index // 10}"],
                            "album": [f"Album {index // 100}"]})
    return doc, keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2, help="best of N runs for each side")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "corpus"
        paths = make_corpus(root, args.files, args.seconds)
        import librosa  # noqa: F401  (import time is not conversion time)

        base_times, our_times, single_times = [], [], []
        for _ in range(args.repeat):  # alternate the sides so all see the same cache and machine load
            base_times.append(baseline(paths, root, Path(tmp) / "baseline_audio.hdf5"))
            our_times.append(ours(root, Path(tmp) / "out", args.jobs))
            single_times.append(ours(root, Path(tmp) / "out", 1))
        base, our, single = min(base_times), min(our_times), min(single_times)
        corpus = f"{args.files} x {args.seconds:g} s 44.1 kHz stereo WAV"
        rows.append((f"convert {corpus}", f"librosa.load loop + h5py: {base:.2f} s",
                     f"convert(jobs={args.jobs}): {our:.2f} s", f"{base / our:.2f}x faster (target >= 1.8x)"))
        rows.append(("  same, one decode thread (jobs=1)", f"librosa.load loop + h5py: {base:.2f} s",
                     f"convert(jobs=1): {single:.2f} s", f"{base / single:.2f}x faster"))

    doc, keys = mtt_sized_document()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        problems = pyjama.validate(doc, keys)
        times.append(time.perf_counter() - start)
        assert problems == [], problems[:3]
    best = min(times)
    rows.append((f"validate {len(doc.entries):,} MTT-sized entries", "limit: 1.00 s", f"validate(): {best:.3f} s",
                 f"{best / 1.0:.2f} of the limit (target < 1)"))

    with tempfile.TemporaryDirectory() as tmp:
        path = pyjama.save(doc, Path(tmp) / "mtt.pyjama")
        size_mb = path.stat().st_size / 1e6
        start = time.perf_counter()
        problems = pyjama.validate(pyjama.load(path), keys)
        both = time.perf_counter() - start
        assert problems == [], problems[:3]
    rows.append((f"load + validate the same file ({size_mb:.1f} MB)", "limit: 1.00 s",
                 f"load()+validate(): {both:.3f} s", f"{both / 1.0:.2f} of the limit (target < 1)"))

    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    print(" | ".join(h.ljust(w) for h, w in zip(("benchmark", "reference", "ours", "ratio"), widths)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths)))


if __name__ == "__main__":
    main()
