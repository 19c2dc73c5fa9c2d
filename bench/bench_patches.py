"""Patch throughput of the lazy PatchDataset vs all-in-RAM tensor indexing vs opening the HDF5 file per item.

Builds synthetic feature caches in the documented layout (random float32, ``/<key>/value`` (C, F, T)
chunked along time as :mod:`mirfeat.cache` chunks it): the HCQT shape (6, 360) as a >= 2 GB cache,
the same stored as float16 (``mirfeat cache --dtype float16``; X is still float32), and the LMS
shape (1, 128). Each path is iterated through a ``DataLoader`` (same sampler and seed,
so the same patches in the same order; batch 32) in one run, interleaved over rounds (best of),
and a table of patches/s and ratios is printed per shape:

- lazy = ``PatchDataset`` with ``collate_fn=mirfeat.patches.collate`` (each batch read straight into
  one tensor, returned without a copy); the row "default collate" is the same dataset with torch's
  default collate (one more copy of X), as a DataLoader built without ``collate_fn`` uses it;
- lazy / in-RAM   (target >= 0.5x): the in-RAM baseline holds a subset of the files in one torch
  tensor (``--ram-files``, to keep it < 2 GB) and indexes ``tensor[f, :, :, s:s+L]`` (default
  collate); the lazy path is timed on the same subset and on the whole cache;
- lazy / open-per-item (target >= 10x): the naive ``with h5py.File(path) as f: f[key]['value'][...]``
  per item (``.float()`` for a float16 cache), default collate;
- the page-cache floor: one ``os.preadv`` of a patch's stored bytes (contiguous, from a chunk
  offset of the same file, no HDF5, no indexing) into its row of a batch, the least work any path
  that delivers new batches from a file in the OS page cache can do. floor / open-per-item is the
  ceiling of the open-per-item ratio on this machine (memory bandwidth, not software, sets it);
- peak RSS growth of the lazy path while it reads (a subprocess, ``VmHWM``) as a share of the
  HCQT cache size (target <= 10 %).

Before timing, the first batch of every path is checked equal (X, start) to the lazy path's.

The cache files are deleted at the end (``--keep`` keeps them). The OS page cache holds a file after
it is written (24 GB RAM here), so every path reads from memory, not disk: the ratios compare the
software overheads, not the disk.

Usage: ``python bench/bench_patches.py [--files 40 --frames 7000 --batches 150 --shapes hcqt,lms --dir /tmp]``
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

from mirfeat.patches import PatchDataset, collate, patch_starts

SHAPES = {"hcqt": ((6, 360), "float32"), "hcqt16": ((6, 360), "float16"), "lms": ((1, 128), "float32")}  # (C, F), stored dtype
PATCH_LENGTH, PATCH_HOP, BATCH = 64, 32, 32


def chunk_length(channels: int, bins: int, frames: int) -> int:
    try:  # the cache writer's own rule when it is installed
        from pyjama_tools.feature_file import chunk_frames
        return chunk_frames(channels, bins, frames)
    except ImportError:  # pragma: no cover
        return min(frames, 64)


def build_cache(path: Path, shape: tuple[int, int], files: int, frames: int, seed: int = 0,
                dtype: str = "float32") -> list[str]:
    """Write ``files`` keys of random (C, F, frames) values (stored as ``dtype``) in the cache layout; returns the keys."""
    rng = np.random.default_rng(seed)
    channels, bins = shape
    keys = [f"genre{i % 10}+++file{i:04d}.wav" for i in range(files)]
    tmp = path.with_name(path.name + ".partial")
    with h5py.File(tmp, "w") as out:
        out.attrs["feature"] = "hcqt" if channels > 1 else "lms"
        out.attrs["params"] = "{}"
        out.attrs["dtype"] = dtype
        for key in keys:
            group = out.create_group(key)
            value = rng.standard_normal((channels, bins, frames), dtype=np.float32).astype(dtype)
            group.create_dataset("value", data=value, chunks=(channels, bins, chunk_length(channels, bins, frames)))
            group.create_dataset("time_sec", data=np.arange(frames) * 512 / 22050)
            group.create_dataset("frequency_hz", data=32.7 * 2 ** (np.arange(bins) / 60))
            group.attrs["complete"] = True
    os.replace(tmp, path)
    return keys


class _Indexed(Dataset):
    """A baseline's patch index: (file, start) of every patch of ``files`` files of ``frames`` frames, as
    PatchDataset numbers them (so one sampler picks the same patches on every path)."""

    def _index(self, files: int, frames: int) -> None:
        self.index = [(f, int(s)) for f in range(files) for s in patch_starts(frames, PATCH_LENGTH, PATCH_HOP)]

    def __len__(self) -> int:
        return len(self.index)


class RamDataset(_Indexed):
    """All files in one torch tensor (F files, C, F, T); a patch is a tensor slice."""

    def __init__(self, path: Path, keys: list[str]):
        with h5py.File(path, "r") as handle:
            self.tensor = torch.from_numpy(np.stack([handle[k]["value"][()] for k in keys])).float()
        self._index(len(keys), self.tensor.shape[-1])

    def __getitem__(self, i: int) -> dict:
        f, s = self.index[i]
        return {"X": self.tensor[f, :, :, s:s + PATCH_LENGTH].contiguous(), "start": s}


class OpenPerItemDataset(_Indexed):
    """The naive way: open the HDF5 file in every ``__getitem__``."""

    def __init__(self, path: Path, keys: list[str], frames: int):
        self.path, self.keys = path, keys
        self._index(len(keys), frames)

    def __getitem__(self, i: int) -> dict:
        f, s = self.index[i]
        with h5py.File(self.path, "r") as handle:
            x = handle[self.keys[f]]["value"][:, :, s:s + PATCH_LENGTH]
        return {"X": torch.from_numpy(x).float(), "start": s}


class PageCacheFloor(_Indexed):
    """The floor: per patch, one ``preadv`` of its stored bytes (C * F * L * itemsize, contiguous from
    the offset of the chunk holding its first frame) into its row of one batch array; no HDF5, no
    straddling, no cast. Same index and sampler as the others; the bytes are not the patch's (nor
    float32 for a float16 cache), only as many."""

    def __init__(self, path: Path, keys: list[str], frames: int):
        self._index(len(keys), frames)
        offsets = []
        with h5py.File(path, "r") as handle:
            value = handle[keys[0]]["value"]
            self.shape, self.dtype, self.chunk = value.shape[:2] + (PATCH_LENGTH,), value.dtype, value.chunks[2]
            for key in keys:
                found: dict[int, int] = {}
                handle[key]["value"].id.chunk_iter(lambda info: found.__setitem__(info.chunk_offset[2], info.byte_offset))
                offsets.append(found)
        self.nbytes = int(np.prod(self.shape)) * self.dtype.itemsize
        last = path.stat().st_size - self.nbytes
        self.offsets = [{start: min(offset, last) for start, offset in found.items()} for found in offsets]
        self.fd = os.open(path, os.O_RDONLY)

    def __getitems__(self, indices: list[int]) -> dict:
        batch = np.empty((len(indices),) + self.shape, dtype=self.dtype)
        for row, i in enumerate(indices):
            f, s = self.index[i]
            os.preadv(self.fd, [batch[row]], self.offsets[f][s - s % self.chunk])
        return {"X": torch.from_numpy(batch)}


def loader(dataset: Dataset, batches: int, workers: int = 0, seed: int = 0, collate_fn=None) -> DataLoader:
    """Shuffled batches of 32 (``batches`` of them), the same patches for the same seed and length."""
    sampler = torch.utils.data.RandomSampler(dataset, num_samples=batches * BATCH,
                                             generator=torch.Generator().manual_seed(seed))
    return DataLoader(dataset, batch_size=BATCH, sampler=sampler, num_workers=workers,
                      persistent_workers=workers > 0, collate_fn=collate_fn)


def throughput(dataset: Dataset, batches: int, workers: int = 0, seed: int = 0, collate_fn=None) -> float:
    """Patches per second over ``batches`` shuffled batches of 32 (after 3 warm-up batches)."""
    iterator = iter(loader(dataset, batches + 3, workers, seed, collate_fn))
    for _ in range(3):
        next(iterator)
    count, begin = 0, time.perf_counter()
    for _ in range(batches):
        count += next(iterator)["X"].shape[0]
    return count / (time.perf_counter() - begin)


def as_is(batch: dict) -> dict:
    """collate_fn of the floor (its ``__getitems__`` returns the batch)."""
    return batch


def first_batch(dataset: Dataset, collate_fn=None) -> dict:
    return next(iter(loader(dataset, 1, seed=123, collate_fn=collate_fn)))


def rss_child(path: str, keys: list[str], batches: int) -> None:
    """Run in a subprocess: RSS before and at peak while the lazy path reads ``batches`` batches."""
    dataset = PatchDataset(path, keys, None, PATCH_LENGTH, PATCH_HOP)
    iterator = iter(loader(dataset, batches + 1, seed=1, collate_fn=collate))
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


def bench_shape(name: str, args: argparse.Namespace) -> None:
    shape, dtype = SHAPES[name]
    path = Path(args.dir) / f"bench_patches_{name}_feat.hdf5"
    begin = time.perf_counter()
    keys = build_cache(path, shape, args.files, args.frames, dtype=dtype)
    size = path.stat().st_size
    chunk = chunk_length(*shape, args.frames)
    print(f"\n## {name}: cache {args.files} files x ({shape[0]}, {shape[1]}, {args.frames}) {dtype} = "
          f"{size / 2**30:.2f} GiB, chunks ({shape[0]}, {shape[1]}, {chunk}), written in "
          f"{time.perf_counter() - begin:.0f} s")
    try:
        subset = keys[:args.ram_files]
        ram_dataset = RamDataset(path, subset)
        ram_bytes = ram_dataset.tensor.numel() * 4
        lazy = PatchDataset(path, keys, None, PATCH_LENGTH, PATCH_HOP)
        lazy_subset = PatchDataset(path, subset, None, PATCH_LENGTH, PATCH_HOP)
        naive = OpenPerItemDataset(path, keys, args.frames)
        # name → (label, dataset, batches, workers, collate_fn)
        paths = {
            "lazy": ("lazy PatchDataset, whole cache, 0 workers", lazy, args.batches, 0, collate),
            "lazy_default": ("  same, torch's default collate", lazy, args.batches, 0, None),
            "lazy2": ("lazy PatchDataset, whole cache, 2 workers", lazy, args.batches, 2, collate),
            "lazy_subset": (f"lazy PatchDataset, {len(subset)}-file subset", lazy_subset, args.batches, 0, collate),
            "ram": (f"all-in-RAM tensor indexing, {len(subset)} files ({ram_bytes / 2**30:.2f} GiB)", ram_dataset,
                    args.batches, 0, None),
            "in_memory": (f"PatchDataset(in_memory=True), {len(subset)} files",
                          PatchDataset(path, subset, None, PATCH_LENGTH, PATCH_HOP, in_memory=True),
                          args.batches, 0, collate),
            "naive": ("open the HDF5 file per item", naive, args.naive_batches, 0, None),
            "floor": ("page-cache floor: one preadv of a patch's bytes per patch", PageCacheFloor(path, keys, args.frames),
                      args.batches, 0, as_is),
        }
        # the same patches and the same output tensors on every path
        reference = {len(keys): first_batch(lazy, collate), len(subset): first_batch(lazy_subset, collate)}
        for key, (_label, dataset, _, _, collate_fn) in paths.items():
            if key == "floor":
                continue  # same amount of bytes, not the same patches
            got, want = first_batch(dataset, collate_fn), reference[len(dataset) // len(patch_starts(
                args.frames, PATCH_LENGTH, PATCH_HOP))]
            if not (torch.equal(got["X"], want["X"]) and torch.equal(got["start"], want["start"])):
                raise SystemExit(f"{name}: path {key!r} does not give the lazy path's batch")
        # rounds interleave the paths so that load from other processes hits them alike; best of the rounds
        best = {key: 0.0 for key in paths}
        for round_index in range(args.rounds):
            for key, (_, dataset, batches, workers, collate_fn) in paths.items():
                best[key] = max(best[key], throughput(dataset, batches, workers, round_index, collate_fn))
        growth = None
        if size >= 2**31:
            child = subprocess.run([sys.executable, __file__, "--batches", str(args.batches), "--rss-child",
                                    str(path), json.dumps(keys)], capture_output=True, text=True, check=True)
            rss = json.loads(child.stdout.strip().splitlines()[-1])
            growth = rss["peak"] - rss["before"]
        print(f"\npatch ({shape[0]}, {shape[1]}, {PATCH_LENGTH}) {dtype} = "
              f"{shape[0] * shape[1] * PATCH_LENGTH * np.dtype(dtype).itemsize / 1024:.0f} KiB (X float32), "
              f"DataLoader shuffle, batch {BATCH}, torch threads 1, best of {args.rounds} interleaved rounds, "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
        print(f"| {'path':<58} | {'patches/s':>10} |")
        print(f"|{'-' * 60}|{'-' * 12}|")
        for key, (label, *_) in paths.items():
            print(f"| {label:<58} | {best[key]:>10.0f} |")
        print()
        print("| ratio | measured | target |")
        print("|---|---|---|")
        print(f"| lazy / all-in-RAM (same {len(subset)} files) | {best['lazy_subset'] / best['ram']:.2f}x | >= 0.5x |")
        print(f"| lazy (whole cache) / all-in-RAM | {best['lazy'] / best['ram']:.2f}x | >= 0.5x |")
        print(f"| lazy / open-per-item | {best['lazy'] / best['naive']:.1f}x | >= 10x |")
        print(f"| lazy, default collate / open-per-item | {best['lazy_default'] / best['naive']:.1f}x | (>= 10x) |")
        print(f"| ceiling of that ratio on this machine: page-cache floor / open-per-item | "
              f"{best['floor'] / best['naive']:.1f}x | |")
        print(f"| lazy / page-cache floor | {best['lazy'] / best['floor']:.2f} | (1 = no overhead) |")
        if growth is not None:
            print(f"| lazy peak RSS growth / cache size | {growth / 2**20:.0f} MiB / {size / 2**30:.2f} GiB = "
                  f"{100 * growth / size:.1f} % (process peak {rss['peak'] / 2**20:.0f} MiB incl. torch) | <= 10 % |")
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--frames", type=int, default=7000)
    parser.add_argument("--ram-files", type=int, default=8, help="files held by the in-RAM baseline")
    parser.add_argument("--batches", type=int, default=150)
    parser.add_argument("--naive-batches", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--shapes", default="hcqt,lms", help=f"comma-separated, from {sorted(SHAPES)}")
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--rss-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.rss_child:
        rss_child(args.rss_child[0], json.loads(args.rss_child[1]), args.batches)
        return
    for name in args.shapes.split(","):
        if name not in SHAPES:
            parser.error(f"--shapes: unknown shape {name!r} (known: {', '.join(sorted(SHAPES))})")
    for name in args.shapes.split(","):
        bench_shape(name, args)


if __name__ == "__main__":
    main()
