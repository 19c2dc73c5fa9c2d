"""The sources a patch dataset reads: a feature file (:class:`FeatureSource`), the tutorial's
feature pairs (:class:`mirfeat.feature_pair.TutorialPairSource`) or an audio store (:class:`WaveformSource`).

A source gives ``describe(keys)`` (shapes, times, frequencies), ``read_into(key, start, out)``,
``read(key)`` (the whole key) and ``close()``; every one opens its file lazily, once per process
(:class:`~pyjama_tools.core.hdf5.LazyHDF5`), so datasets pickle without handles.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from typing import Any
from collections.abc import Sequence

import h5py
import numpy as np

from mirfeat.patches.raw import RawChunks, Scratch
from pyjama_tools.audio_store import AudioStore
from pyjama_tools.core.errors import MirError
from pyjama_tools.feature_file import VALUE, FeatureFile, open_feature_hdf5

#: cap on the chunk cache of one open dataset (bytes), and on open datasets per process
MAX_CHUNK_CACHE_BYTES = 16 * 2**20
MAX_OPEN_DATASETS = 8


class FeatureSource(FeatureFile):
    """A feature file (:mod:`pyjama_tools.feature_file`) as the source of a patch dataset.

    Opened lazily once per process (:class:`~pyjama_tools.core.hdf5.LazyHDF5`). Uncompressed
    float32 / float16 keys are read through :class:`~mirfeat.patches.raw.RawChunks` (a chunk-offset
    table per key, one scratch buffer per chunk shape, one raw descriptor per process); other
    layouts through HDF5, whose open datasets are kept in a small LRU (each holds its own chunk
    cache, so the LRU bounds memory). Files without the root attributes (the bare layout) are read
    too. One instance per process: not for concurrent threads.
    """

    strict = False
    complete_when_unflagged = True  # a hand-made file without the flags is read, as before

    def __init__(self, path: str | os.PathLike, patch_length: int | None):
        super().__init__(path, open_now=False)
        if not self.path.exists():
            raise MirError(f"{self.path}: no such file")
        self.patch_length = patch_length
        self.rdcc_nbytes: int | None = None
        self._fd: int | None = None
        self._fd_file: tuple[int, int] | None = None  # (st_dev, st_ino) of the file _fd was opened on
        self._forget()

    # ---- handle (LazyHDF5 hooks): the HDF5 file with its chunk cache sized by describe(), and a raw descriptor
    def _open(self) -> h5py.File:
        options = {} if self.rdcc_nbytes is None else {"rdcc_nbytes": self.rdcc_nbytes, "rdcc_nslots": 10007}
        handle = open_feature_hdf5(self.path, strict=False, **options)
        self._close_fd()
        if hasattr(os, "preadv"):
            self._fd = os.open(self.path, os.O_RDONLY)
            stat = os.fstat(self._fd)
            self._fd_file = (stat.st_dev, stat.st_ino)
        return handle

    def _forget(self) -> None:
        self._datasets: OrderedDict[str, h5py.Dataset] = OrderedDict()
        self._raw: dict[str, RawChunks | None] = {}
        self._buffers: dict[tuple, Scratch] = {}
        self._close_fd()

    def _release(self) -> None:
        self._close_fd()

    def _close_fd(self) -> None:
        """Close the raw descriptor of this process: one it opened, or its copy of one inherited by fork
        (closing the copy leaves the parent's open). A number that no longer names the file it was opened
        on (closed and reused meanwhile) is left alone."""
        fd, opened_on = self._fd, self._fd_file
        self._fd = self._fd_file = None
        if fd is None:
            return
        try:
            stat = os.fstat(fd)
        except OSError:
            return
        if (stat.st_dev, stat.st_ino) == opened_on:
            os.close(fd)

    def __getstate__(self) -> dict:
        return dict(super().__getstate__(), _fd=None, _fd_file=None, _datasets=OrderedDict(), _raw={}, _buffers={})

    def describe(self, keys: Sequence[str]) -> dict[str, Any]:
        """Shapes and grids of ``keys`` (read in the calling process, whose handle is closed after)."""
        shapes, times, freqs, chunk_bytes = [], [], [], 0
        self.rdcc_nbytes = None
        try:
            for key in keys:
                layout = self.layout(key)
                shapes.append(layout.shape)
                times.append(layout.time_sec)
                freqs.append(layout.frequency_hz)
                if layout.chunks is not None and self.patch_length is not None:
                    c, f, t = layout.chunks
                    spans = math.ceil(layout.shape[0] / c) * math.ceil(layout.shape[1] / f) \
                        * (math.ceil(self.patch_length / t) + 1)
                    chunk_bytes = max(chunk_bytes, spans * c * f * t * layout.itemsize)
        finally:
            self.close()  # reopened with the chunk cache sized below, in the process that reads
        self.rdcc_nbytes = int(min(max(chunk_bytes, 2**20), MAX_CHUNK_CACHE_BYTES))
        return {"shapes": shapes, "time_sec": times, "frequency_hz": freqs}

    def _value(self, key: str) -> h5py.Dataset:
        """The ``value`` dataset of ``key`` (keys were checked by :meth:`describe`), from a small LRU."""
        handle = self.file
        dataset = self._datasets.get(key)
        if dataset is None:
            dataset = self._datasets[key] = handle[key][VALUE]
            if len(self._datasets) > MAX_OPEN_DATASETS:
                self._datasets.popitem(last=False)
        else:
            self._datasets.move_to_end(key)
        return dataset

    def _raw_reader(self, key: str) -> RawChunks | None:
        _ = self.file  # reopens (and resets the readers) in a new process
        if key not in self._raw:
            dataset = self._value(key)
            reader = None
            if self._fd is not None and RawChunks.eligible(dataset):
                layout = (dataset.chunks, dataset.dtype.str)
                scratch = self._buffers.get(layout)
                if scratch is None:
                    scratch = self._buffers[layout] = Scratch(dataset.chunks, dataset.dtype)
                reader = RawChunks(dataset, self._fd, scratch)
            self._raw[key] = reader
        return self._raw[key]

    def read_into(self, key: str, start: int, out: np.ndarray) -> None:
        """Frames ``start:start + out.shape[-1]`` of ``key`` into ``out`` (C, F, L) float32."""
        raw = self._raw_reader(key) if out.flags.c_contiguous else None
        if raw is not None and raw.read_into(start, out):
            return
        dataset = self._value(key)
        selection = np.s_[:, :, start:start + out.shape[-1]]
        if dataset.dtype == np.float32 and out.flags.c_contiguous:
            dataset.read_direct(out, source_sel=selection)
        else:
            out[...] = dataset[selection]


def feature_source(path: str | os.PathLike, patch_length: int | None):
    """The source of a feature file: a :mod:`pyjama_tools.feature_file` file (``mirfeat cache``,
    the Da-TACOS converter), or the tutorial's feature-pair layout (:mod:`mirfeat.feature_pair`)."""
    from mirfeat.feature_pair import TutorialPairSource, is_tutorial_feature_file

    if is_tutorial_feature_file(path):
        return TutorialPairSource(path, patch_length)
    return FeatureSource(path, patch_length)


class WaveformSource:
    """The audio HDF5 store as a (1, 1, T) 'feature' whose frames are samples."""

    def __init__(self, path: str | os.PathLike):
        self.store = AudioStore(path)
        self.path = self.store.path

    def describe(self, keys: Sequence[str]) -> dict[str, Any]:
        shapes, rates = [], []
        for key in keys:
            if key not in self.store:
                raise MirError(f"{self.path}: no audio key {key!r}")
            shape = self.store.shape(key)
            if len(shape) != 1:
                raise MirError(f"{self.path}: audio {key!r} has shape {shape}, expected mono (samples,)")
            shapes.append((1, 1, shape[0]))
            rates.append(self.store.sample_rate(key))
        self.store.close()
        self.rates = rates
        return {"shapes": shapes, "time_sec": [None] * len(keys), "frequency_hz": [None] * len(keys)}

    def time_sec(self, file_index: int, num_samples: int) -> np.ndarray:
        return np.arange(num_samples, dtype=float) / self.rates[file_index]

    def read_into(self, key: str, start: int, out: np.ndarray) -> None:
        out[0, 0, :] = self.store.read(key, start, start + out.shape[-1])

    def read(self, key: str) -> np.ndarray:
        return self.store.read(key)[None, None, :]

    def close(self) -> None:
        self.store.close()
