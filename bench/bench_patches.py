"""Patch throughput of the lazy PatchDataset vs all-in-RAM tensor indexing vs opening the HDF5 file per item.

Builds a >= 2 GB synthetic feature cache in the documented layout (random float32, ``/<key>/value``
(C, F, T) chunked along time as :mod:`mirfeat.cache` chunks it), then iterates each path through a
``DataLoader`` (shuffle, batch 32) in one run and prints a table of patches/s and ratios:

- lazy / in-RAM   (target >= 0.5x): the in-RAM baseline holds a subset of the files in one torch
  tensor (``--ram-files``, to keep it < 2 GB) and indexes ``tensor[f, :, :, s:s+L]``; the lazy path
  is timed on the same subset and on the whole cache;
- lazy / open-per-item (target >= 10x): the naive ``with h5py.File(path) as f: f[key]['value'][...]``;
- peak RSS growth of the lazy path while it reads (a subprocess, ``VmHWM``) as a share
  of the cache size (target <= 10 %).

The cache file is deleted at the end (``--keep`` keeps it). The OS page cache holds the file after it
is written (24 GB RAM here), so every path reads from memory, not disk: the ratios compare the
software overheads, not the disk.

Usage: ``python bench/bench_patches.py [--files 40 --frames 7000 --batches 150 --dir /tmp]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from mirfeat.patches import PatchDataset, patch_starts

CHANNELS, BINS = 6, 360
PATCH_LENGTH, PATCH_HOP, BATCH = 64, 32, 32


def chunk_length(frames: int) -> int:
    try:  # the cache writer's own rule when it is installed
        from mirfeat.cache_format import chunk_frames
        return chunk_frames(CHANNELS, BINS, frames, 4)
    except ImportError:  # pragma: no cover
        return min(frames, 64)


def build_cache(path: Path, files: int, frames: int, seed: int = 0) -> list[str]:
    """Write ``files`` keys of random (C, F, frames) float32 in the cache layout; returns the keys."""
    rng = np.random.default_rng(seed)
    keys = [f"genre{i % 10}+++file{i:04d}.wav" for i in range(files)]
    tmp = path.with_name(path.name + ".partial")
    with h5py.File(tmp, "w") as out:
        out.attrs["feature"] = "hcqt"
        out.attrs["params"] = "{}"
        for key in keys:
            group = out.create_group(key)
            value = rng.standard_normal((CHANNELS, BINS, frames), dtype=np.float32)
            group.create_dataset("value", data=value, chunks=(CHANNELS, BINS, chunk_length(frames)))
            group.create_dataset("time_sec", data=np.arange(frames) * 512 / 22050)
            group.create_dataset("frequency_hz", data=32.7 * 2 ** (np.arange(BINS) / 60))
            group.attrs["complete"] = True
    os.replace(tmp, path)
    return keys


class RamDataset(Dataset):
    """All files in one torch tensor (F files, C, F, T); a patch is a tensor slice."""

    def __init__(self, path: Path, keys: list[str]):
        with h5py.File(path, "r") as handle:
            self.tensor = torch.from_numpy(np.stack([handle[k]["value"][()] for k in keys]))
        frames = self.tensor.shape[-1]
        starts = patch_starts(frames, PATCH_LENGTH, PATCH_HOP)
        self.index = [(f, int(s)) for f in range(len(keys)) for s in starts]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        f, s = self.index[i]
        return {"X": self.tensor[f, :, :, s:s + PATCH_LENGTH].contiguous(), "start": s}


class OpenPerItemDataset(Dataset):
    """The naive way: open the HDF5 file in every ``__getitem__``."""

    def __init__(self, path: Path, keys: list[str], frames: int):
        self.path, self.keys = path, keys
        starts = patch_starts(frames, PATCH_LENGTH, PATCH_HOP)
        self.index = [(f, int(s)) for f in range(len(keys)) for s in starts]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        f, s = self.index[i]
        with h5py.File(self.path, "r") as handle:
            x = handle[self.keys[f]]["value"][:, :, s:s + PATCH_LENGTH]
        return {"X": torch.from_numpy(x), "start": s}


def throughput(dataset: Dataset, batches: int, workers: int = 0, seed: int = 0) -> float:
    """Patches per second over ``batches`` shuffled batches of 32 (after 3 warm-up batches)."""
    sampler = torch.utils.data.RandomSampler(dataset, num_samples=(batches + 3) * BATCH,
                                             generator=torch.Generator().manual_seed(seed))
    loader = DataLoader(dataset, batch_size=BATCH, sampler=sampler, num_workers=workers,
                        persistent_workers=workers > 0)
    iterator = iter(loader)
    for _ in range(3):
        next(iterator)
    count, begin = 0, time.perf_counter()
    for _ in range(batches):
        count += next(iterator)["X"].shape[0]
    return count / (time.perf_counter() - begin)


def rss_child(path: str, keys: list[str], batches: int) -> None:
    """Run in a subprocess: RSS before and at peak while the lazy path reads ``batches`` batches."""
    from mirfeat.patches import PatchDataset

    dataset = PatchDataset(path, keys, None, PATCH_LENGTH, PATCH_HOP)
    sampler = torch.utils.data.RandomSampler(dataset, num_samples=(batches + 1) * BATCH,
                                             generator=torch.Generator().manual_seed(1))
    loader = DataLoader(dataset, batch_size=BATCH, sampler=sampler)
    iterator = iter(loader)
    before = _peak_rss()  # after imports and the index, before any patch is read
    for _ in range(batches + 1):
        next(iterator)
    print(json.dumps({"before": before, "peak": _peak_rss()}))


def _peak_rss() -> int:
    """Peak resident set size of this process in bytes (VmHWM; unlike ru_maxrss it restarts at exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--frames", type=int, default=7000)
    parser.add_argument("--ram-files", type=int, default=8, help="files held by the in-RAM baseline")
    parser.add_argument("--batches", type=int, default=150)
    parser.add_argument("--naive-batches", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--rss-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child[0], json.loads(args.rss_child[1]), args.batches)
        return
    torch.set_num_threads(1)
    path = Path(args.dir) / "bench_patches_cqt_feat.hdf5"
    begin = time.perf_counter()
    keys = build_cache(path, args.files, args.frames)
    size = path.stat().st_size
    print(f"cache: {args.files} files x ({CHANNELS}, {BINS}, {args.frames}) float32 = {size / 2**30:.2f} GiB, "
          f"chunks (6, 360, {chunk_length(args.frames)}), written in {time.perf_counter() - begin:.0f} s")
    try:
        subset = keys[:args.ram_files]
        ram_dataset = RamDataset(path, subset)
        ram_bytes = ram_dataset.tensor.numel() * 4
        paths = {  # name → (dataset, batches, workers)
            "lazy": (PatchDataset(path, keys, None, PATCH_LENGTH, PATCH_HOP), args.batches, 0),
            "lazy2": (PatchDataset(path, keys, None, PATCH_LENGTH, PATCH_HOP), args.batches, 2),
            "lazy_subset": (PatchDataset(path, subset, None, PATCH_LENGTH, PATCH_HOP), args.batches, 0),
            "ram": (ram_dataset, args.batches, 0),
            "in_memory": (PatchDataset(path, subset, None, PATCH_LENGTH, PATCH_HOP, in_memory=True), args.batches, 0),
            "naive": (OpenPerItemDataset(path, keys, args.frames), args.naive_batches, 0),
        }
        # rounds interleave the paths so that load from other processes hits them alike; best of the rounds
        best = {name: 0.0 for name in paths}
        for round_index in range(args.rounds):
            for name, (dataset, batches, workers) in paths.items():
                best[name] = max(best[name], throughput(dataset, batches, workers, seed=round_index))
        child = subprocess.run([sys.executable, __file__, "--batches", str(args.batches), "--rss-child", str(path),
                                json.dumps(keys)], capture_output=True, text=True, check=True)
        rss = json.loads(child.stdout.strip().splitlines()[-1])
        growth = rss["peak"] - rss["before"]
        names = {
            "lazy": "lazy PatchDataset, whole cache, 0 workers",
            "lazy2": "lazy PatchDataset, whole cache, 2 workers",
            "lazy_subset": f"lazy PatchDataset, {len(subset)}-file subset",
            "ram": f"all-in-RAM tensor indexing, {len(subset)} files ({ram_bytes / 2**30:.2f} GiB)",
            "in_memory": f"PatchDataset(in_memory=True), {len(subset)} files",
            "naive": "open the HDF5 file per item",
        }
        print(f"\npatch (6, 360, {PATCH_LENGTH}) float32, DataLoader shuffle, batch {BATCH}, torch threads 1, "
              f"best of {args.rounds} interleaved rounds, load average {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} cores\n")
        print(f"| {'path':<58} | {'patches/s':>10} |")
        print(f"|{'-' * 60}|{'-' * 12}|")
        for name, label in names.items():
            print(f"| {label:<58} | {best[name]:>10.0f} |")
        print()
        print("| ratio | measured | target |")
        print("|---|---|---|")
        print(f"| lazy / all-in-RAM (same {len(subset)} files) | {best['lazy_subset'] / best['ram']:.2f}x | >= 0.5x |")
        print(f"| lazy (whole cache) / all-in-RAM | {best['lazy'] / best['ram']:.2f}x | >= 0.5x |")
        print(f"| lazy / open-per-item | {best['lazy'] / best['naive']:.1f}x | >= 10x |")
        print(f"| lazy peak RSS growth / cache size | {growth / 2**20:.0f} MiB / {size / 2**30:.2f} GiB = "
              f"{100 * growth / size:.1f} % (process peak {rss['peak'] / 2**20:.0f} MiB incl. torch) | <= 10 % |")
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
