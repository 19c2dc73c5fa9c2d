"""Patch index and torch ``Dataset``s that read lazily from a feature cache (or the audio store).

The patch rule is the tutorial's: a file of T frames gives ``floor((T - L) / S) + 1`` patches of
L frames every S frames (none when T < L). An item is ``{'X': float32 tensor (C, F, L), 'y': tensor,
'key': str, 'start': int}``; waveform features (no frequency axis) give X of shape (1, L).

Reading (why it is fast and safe):

- the HDF5 file is opened on first use **in each process** (a pid check), never inherited across a
  fork, so any ``num_workers`` and ``persistent_workers`` work; the dataset pickles without handles;
- with the cache's usual layouts (uncompressed float32 or float16, chunks (C, F, chunk_frames)) a
  patch is one ``os.preadv`` per chunk it spans, at offsets taken once from HDF5's chunk index: a
  float32 window that is a whole chunk goes straight into its output, other windows through a reused
  chunk buffer (a chunk still in the buffer is not read again) and one copy (float16 → float32 by
  torch's vectorised cast); other layouts use one hyperslab read
  ``value[:, :, s:s+L]`` (``read_direct``) with the HDF5 chunk cache sized for the chunks one patch
  spans;
- a DataLoader batch is fetched through ``__getitems__``, which reads the batch's patches sorted by
  (file, start) (neighbouring patches share chunks) straight into the rows of ONE (B, ...) tensor
  (shared memory in a worker, pinned when CUDA is there) and returns a :class:`PatchBatch`: the
  item dicts in the order asked, holding that batch;
- ``in_memory=True`` loads every array once (for small sets), then patches are array slices.

:func:`collate` (``DataLoader(..., collate_fn=collate)``) returns a :class:`PatchBatch`'s batch as
it is, without copying: ``{'X': (B, ...), 'y': (B, ...), 'key': list of str, 'start': (B,) int64}``,
what :func:`torch.utils.data.default_collate` would build; torch's default collate works too, with
one more copy of X (it stacks the items).
"""

from __future__ import annotations

import functools
import itertools
import math
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterator, Sequence

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler, default_collate

from pyjama_tools.audio_store import AudioStore
from pyjama_tools.core.errors import MirError, ParameterError

from mirfeat.targets import IGNORE_INDEX, Target

#: cap on the chunk cache of one open dataset (bytes), and on open datasets per process
MAX_CHUNK_CACHE_BYTES = 16 * 2**20
MAX_OPEN_DATASETS = 8


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParameterError(f"{name} {value!r} must be a positive integer")
    return int(value)


def _optional_bool(value: Any, name: str) -> bool | None:
    if value is not None and not isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"{name} {value!r} must be true, false or None")
    return None if value is None else bool(value)


def patch_starts(num_frames: int, patch_length: int, patch_hop: int) -> np.ndarray:
    """Start frame of every patch of a file: ``floor((T - L) / S) + 1`` starts, none when T < L.

    Parameters
    ----------
    num_frames : int
        T, frames in the file.
    patch_length : int
        L, frames per patch.
    patch_hop : int
        S, frames between two patch starts.

    Returns
    -------
    np.ndarray (N,) int64
    """
    patch_length = _positive_int(patch_length, "patch_length")
    patch_hop = _positive_int(patch_hop, "patch_hop")
    if isinstance(num_frames, bool) or not isinstance(num_frames, (int, np.integer)) or num_frames < 0:
        raise ParameterError(f"num_frames {num_frames!r} must be an integer >= 0")
    if num_frames < patch_length:
        return np.zeros(0, dtype=np.int64)
    return np.arange((num_frames - patch_length) // patch_hop + 1, dtype=np.int64) * patch_hop


# ----------------------------------------------------------------------------- sources


_READER_IDS = itertools.count()


#: stored dtypes the raw reader handles (anything else goes through HDF5)
_RAW_DTYPES = (np.dtype("<f4"), np.dtype("<f2"))


class _Scratch:
    """A chunk-sized buffer shared by the raw readers of one process, and which chunk it holds."""

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype):
        self.array = np.empty(shape, dtype=dtype)
        self.holds: tuple[int, int] | None = None


def _copy_into(out: np.ndarray, source: np.ndarray) -> None:
    """``out[...] = source`` for float32 ``out``; a float16 ``source`` is cast by torch (F16C
    vectorised: 9-15 µs for a (6, 360, 64) patch where numpy's cast took 230 µs, measured here)."""
    if source.dtype == out.dtype:
        np.copyto(out, source)
    else:
        torch.from_numpy(out).copy_(torch.from_numpy(source))


class _RawChunks:
    """Fast path for the cache's usual layouts: uncompressed float32 or float16 chunks (C, F, chunk_frames).

    The byte offset of every chunk is read once from HDF5's own chunk index (``chunk_iter``), so
    afterwards no HDF5 object needs to stay open for the key; a window that is one whole chunk is
    one ``os.preadv`` straight into the output, any other window one ``os.preadv`` per chunk it
    spans into a buffer shared by all keys, plus one copy into the output. This is faster than
    the HDF5 hyperslab read of the same window (which allocates and evicts chunk-cache entries on
    every random read; see bench/bench_patches.py); an ``mmap`` of the file measured no faster
    (page-table faults and releases cost what the saved copy gains), and neither did one ``preadv``
    scattering a straddling window's rows straight into the output (thousands of 128-byte segments
    cost the kernel more than the copy they save). A float16 chunk is read raw and cast to float32
    by torch (HDF5's own conversion is far slower). Any other layout (compression, big-endian,
    chunks split along C or F, unallocated chunks) falls back to ``read_direct``.
    """

    def __init__(self, dataset: h5py.Dataset, fd: int, scratch: "_Scratch"):
        self.fd = fd
        self.scratch = scratch
        self.buffer = scratch.array
        self.ident = next(_READER_IDS)
        self.chunk_frames = int(dataset.chunks[2])
        count = math.ceil(dataset.shape[2] / self.chunk_frames)
        self.offsets = np.full(count, -1, dtype=np.int64)
        nbytes = self.buffer.nbytes

        def visit(info) -> None:
            if info.byte_offset is not None and info.filter_mask == 0 and info.size == nbytes:
                self.offsets[info.chunk_offset[2] // self.chunk_frames] = info.byte_offset

        if hasattr(dataset.id, "chunk_iter"):
            dataset.id.chunk_iter(visit)
        else:  # older HDF5: one call per chunk
            for i in range(dataset.id.get_num_chunks()):
                visit(dataset.id.get_chunk_info(i))

    @staticmethod
    def eligible(dataset: h5py.Dataset) -> bool:
        try:
            return (dataset.chunks is not None and tuple(dataset.chunks[:2]) == tuple(dataset.shape[:2])
                    and dataset.dtype in _RAW_DTYPES and np.little_endian
                    and dataset.id.get_create_plist().get_nfilters() == 0
                    and hasattr(dataset.id, "get_chunk_info"))
        except Exception:  # noqa: BLE001 - any HDF5 oddity: use the generic path
            return False

    def read_into(self, start: int, out: np.ndarray) -> bool:
        """Frames ``start:start + L`` into ``out`` (C, F, L) C-contiguous; False when a chunk cannot be read raw.

        A float32 window that is exactly one whole chunk (``L == chunk_frames``, aligned: every
        other patch of the usual hop L/2) is one ``preadv`` straight into ``out`` (one copy, page
        cache → output); other windows go through the shared chunk buffer (a chunk still there is
        not read again).
        """
        length, size = out.shape[-1], self.chunk_frames
        direct = self.buffer.dtype == out.dtype
        position = 0
        for chunk in range(start // size, (start + length - 1) // size + 1):
            first = max(start, chunk * size) - chunk * size
            last = min(start + length, (chunk + 1) * size) - chunk * size
            held = self.scratch.holds == (self.ident, chunk)  # consecutive patches often share a chunk
            if not held and direct and first == 0 and last == size == length:
                offset = int(self.offsets[chunk])
                return offset >= 0 and os.preadv(self.fd, [out], offset) == out.nbytes
            if not held:
                offset = int(self.offsets[chunk])
                self.scratch.holds = None
                if offset < 0 or os.preadv(self.fd, [self.buffer], offset) != self.buffer.nbytes:
                    return False
                self.scratch.holds = (self.ident, chunk)
            _copy_into(out[:, :, position:position + last - first], self.buffer[:, :, first:last])
            position += last - first
        return True


class _FeatureSource:
    """A feature cache file (layout ``/<key>/value`` (C, F, T), ``time_sec``, ``frequency_hz``).

    Opened lazily once per process (a pid check). Uncompressed float32 keys are read through
    :class:`_RawChunks` (a chunk-offset table per key, one scratch buffer per chunk shape); other
    layouts through HDF5, whose open datasets are kept in a small LRU (each holds its own chunk
    cache, so the LRU bounds memory). One instance per process: not for concurrent threads.
    """

    def __init__(self, path: str | os.PathLike, patch_length: int | None):
        self.path = Path(path)
        if not self.path.exists():
            raise MirError(f"{self.path}: no such file")
        self.patch_length = patch_length
        self._file: h5py.File | None = None
        self._fd: int | None = None
        self._pid: int | None = None
        self._datasets: OrderedDict[str, h5py.Dataset] = OrderedDict()
        self._raw: dict[str, _RawChunks | None] = {}
        self._buffers: dict[tuple, _Scratch] = {}

    def _open(self, rdcc_nbytes: int | None = None) -> h5py.File:
        try:
            kwargs = {} if rdcc_nbytes is None else {"rdcc_nbytes": rdcc_nbytes, "rdcc_nslots": 10007}
            return h5py.File(self.path, "r", **kwargs)
        except OSError as error:
            raise MirError(f"{self.path}: not a readable HDF5 file ({error})") from None

    def describe(self, keys: Sequence[str]) -> dict[str, Any]:
        """Shapes and grids of ``keys`` (opened and closed here, in the calling process)."""
        shapes, times, freqs, chunk_bytes = [], [], [], 0
        with self._open() as handle:
            for key in keys:
                group = handle.get(key)
                if not isinstance(group, h5py.Group) or "value" not in group:
                    raise MirError(f"{self.path}: no feature for key {key!r}")
                if "complete" in group.attrs and not bool(group.attrs["complete"]):
                    raise MirError(f"{self.path}: feature of key {key!r} is incomplete (resume the cache)")
                value = group["value"]
                if value.ndim != 3:
                    raise MirError(f"{self.path}: {key}/value has shape {value.shape}, expected (C, F, T)")
                shapes.append(value.shape)
                times.append(np.asarray(group["time_sec"][()], dtype=float) if "time_sec" in group else None)
                freqs.append(np.asarray(group["frequency_hz"][()], dtype=float) if "frequency_hz" in group else None)
                if value.chunks is not None and self.patch_length is not None:
                    c, f, t = value.chunks
                    spans = math.ceil(value.shape[0] / c) * math.ceil(value.shape[1] / f) \
                        * (math.ceil(self.patch_length / t) + 1)
                    chunk_bytes = max(chunk_bytes, spans * c * f * t * value.dtype.itemsize)
        self.rdcc_nbytes = int(min(max(chunk_bytes, 2**20), MAX_CHUNK_CACHE_BYTES))
        return {"shapes": shapes, "time_sec": times, "frequency_hz": freqs}

    @property
    def file(self) -> h5py.File:
        if self._file is None or self._pid != os.getpid():
            self._file = self._open(getattr(self, "rdcc_nbytes", None))
            self._fd = os.open(self.path, os.O_RDONLY) if hasattr(os, "preadv") else None
            self._pid = os.getpid()
            self._datasets = OrderedDict()
            self._raw, self._buffers = {}, {}
        return self._file

    def dataset(self, key: str) -> h5py.Dataset:
        handle = self.file
        dataset = self._datasets.get(key)
        if dataset is None:
            dataset = self._datasets[key] = handle[key]["value"]
            if len(self._datasets) > MAX_OPEN_DATASETS:
                self._datasets.popitem(last=False)
        else:
            self._datasets.move_to_end(key)
        return dataset

    def _raw_reader(self, key: str) -> _RawChunks | None:
        self.file  # reopens (and resets the readers) in a new process
        if key not in self._raw:
            dataset = self.dataset(key)
            reader = None
            if self._fd is not None and _RawChunks.eligible(dataset):
                layout = (dataset.chunks, dataset.dtype.str)
                scratch = self._buffers.get(layout)
                if scratch is None:
                    scratch = self._buffers[layout] = _Scratch(dataset.chunks, dataset.dtype)
                reader = _RawChunks(dataset, self._fd, scratch)
            self._raw[key] = reader
        return self._raw[key]

    def read_into(self, key: str, start: int, out: np.ndarray) -> None:
        """Frames ``start:start + out.shape[-1]`` of ``key`` into ``out`` (C, F, L) float32."""
        raw = self._raw_reader(key) if out.flags.c_contiguous else None
        if raw is not None and raw.read_into(start, out):
            return
        dataset = self.dataset(key)
        selection = np.s_[:, :, start:start + out.shape[-1]]
        if dataset.dtype == np.float32 and out.flags.c_contiguous:
            dataset.read_direct(out, source_sel=selection)
        else:
            out[...] = dataset[selection]

    def read(self, key: str) -> np.ndarray:
        return np.asarray(self.dataset(key)[()], dtype=np.float32)

    def close(self) -> None:
        self._datasets = OrderedDict()
        self._raw, self._buffers = {}, {}
        if self._pid == os.getpid():
            if self._file is not None:
                self._file.close()
            if self._fd is not None:
                os.close(self._fd)
        self._file = None
        self._fd = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(_file=None, _fd=None, _pid=None, _datasets=OrderedDict(), _raw={}, _buffers={})
        return state


def _feature_source(path: str | os.PathLike, patch_length: int | None):
    """The source of a feature file: a :mod:`mirfeat.cache` file, or the tutorial's feature-pair
    layout (:mod:`mirfeat.feature_pair`)."""
    from mirfeat.feature_pair import TutorialPairSource, is_tutorial_feature_file

    if is_tutorial_feature_file(path):
        return TutorialPairSource(path, patch_length)
    return _FeatureSource(path, patch_length)


class _AudioSource:
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


# ----------------------------------------------------------------------------- datasets


class _Base(Dataset):
    def _setup(self, source, keys: Sequence[str], target: Target | None) -> None:
        if isinstance(keys, (str, bytes)):  # list("a.wav") would be the keys 'a', '.', 'w', ...
            raise ParameterError(f"keys={keys!r}: a list of keys is expected, not one string (write [{keys!r}])")
        keys = list(keys)
        if not keys:
            raise MirError(f"{source.path}: no keys to read")
        if len(set(keys)) != len(keys):
            twice = next(key for index, key in enumerate(keys) if key in keys[:index])
            raise MirError(f"{source.path}: duplicate keys given ({twice!r} more than once)")
        self._source = source
        self.keys = keys
        self.target = target
        info = source.describe(keys)
        self._shapes = info["shapes"]
        self._frequency_hz = info["frequency_hz"]
        self._time_sec = info["time_sec"]
        # (C, F, L) patches need a frequency axis; a source may keep its axes without Hz (chroma rows)
        self.has_frequency = getattr(source, "keep_axes", False) or all(f is not None for f in self._frequency_hz)
        if target is not None and target.per_frame:
            for i, key in enumerate(keys):
                if self._time_sec[i] is None:
                    if isinstance(source, _AudioSource):
                        self._time_sec[i] = source.time_sec(i, self._shapes[i][2])
                    else:
                        raise MirError(f"{source.path}: key {key!r} has no time_sec, needed by a per-frame target")
                if len(self._time_sec[i]) != self._shapes[i][2]:
                    raise MirError(f"{source.path}: key {key!r} has {len(self._time_sec[i])} times for "
                                   f"{self._shapes[i][2]} frames")
        if target is not None:
            for i, key in enumerate(keys):  # errors in annotations surface now, not in a worker
                target.prepare(key, self._time_sec[i], self._frequency_hz[i])
        channels = {s[:2] for s in self._shapes}
        if len(channels) > 1:
            raise MirError(f"{source.path}: keys have different (C, F) shapes {sorted(channels)}")
        self._channels, self._bins = self._shapes[0][:2]

    def _x_shape(self, length: int) -> tuple[int, ...]:
        if self.has_frequency:
            return (self._channels, self._bins, length)
        return (self._channels * self._bins, length)

    def close(self) -> None:
        """Close the file handle of this process (it reopens on the next read)."""
        self._source.close()


class PatchDataset(_Base):
    """Patches of L frames every S frames over the files of a feature cache.

    Parameters
    ----------
    cache_path : path
        A feature cache (``/<key>/value`` (C, F, T), ``/<key>/time_sec``, ``/<key>/frequency_hz``).
    keys : sequence of str
        The files to use (e.g. one split).
    target : Target or None
        Gives ``y`` (:func:`mirfeat.targets.build_target`); None gives items without ``y``.
    patch_length, patch_hop : int
        L and S in frames (samples for waveforms).
    in_memory : bool
        Load every array once (fast for small sets); else read each patch lazily.
    pin_memory : bool or None
        Batches (:meth:`__getitems__`) made in the main process go to pinned memory, so a CUDA copy
        (and ``DataLoader(pin_memory=True)``) needs no staging copy; None: when CUDA is available.
        Batches made in DataLoader workers are in shared memory instead.

    Use ``DataLoader(dataset, batch_size=B, shuffle=True, collate_fn=mirfeat.patches.collate)``:
    each batch is then read straight into its (B, ...) tensor (see :class:`PatchBatch`); torch's
    default collate gives the same batches with one more copy.

    Attributes
    ----------
    keys : list of str
    index : np.ndarray (N, 2) int64
        (file index into ``keys``, start frame) of every patch.
    short_keys : list of str
        Files shorter than ``patch_length`` (no patch).
    input_shape : tuple
        Shape of X: (C, F, L), or (C, L) without a frequency axis.
    """

    def __init__(self, cache_path: str | os.PathLike, keys: Sequence[str], target: Target | None,
                 patch_length: int, patch_hop: int, in_memory: bool = False, pin_memory: bool | None = None):
        self.patch_length = _positive_int(patch_length, "patch_length")
        self.patch_hop = _positive_int(patch_hop, "patch_hop")
        self.pin_memory = _optional_bool(pin_memory, "pin_memory")
        self._setup(_feature_source(cache_path, self.patch_length), keys, target)
        self._build_index()
        self.in_memory = bool(in_memory)
        self._arrays: list[np.ndarray] | None = None
        if self.in_memory:
            self._arrays = [self._source.read(key) for key in self.keys]
            self._source.close()

    @classmethod
    def from_audio(cls, audio_path: str | os.PathLike, keys: Sequence[str], target: Target | None,
                   patch_length: int, patch_hop: int, in_memory: bool = False,
                   pin_memory: bool | None = None) -> "PatchDataset":
        """Waveform patches read directly from an audio store: X (1, L), L and S in samples."""
        self = cls.__new__(cls)
        self.patch_length = _positive_int(patch_length, "patch_length")
        self.patch_hop = _positive_int(patch_hop, "patch_hop")
        self.pin_memory = _optional_bool(pin_memory, "pin_memory")
        self._setup(_AudioSource(audio_path), keys, target)
        self._build_index()
        self.in_memory = bool(in_memory)
        self._arrays = [self._source.read(key) for key in self.keys] if self.in_memory else None
        if self.in_memory:
            self._source.close()
        return self

    def _build_index(self) -> None:
        parts, self.short_keys = [], []
        for i, shape in enumerate(self._shapes):
            starts = patch_starts(int(shape[2]), self.patch_length, self.patch_hop)
            if starts.size == 0:
                self.short_keys.append(self.keys[i])
            parts.append(np.stack([np.full(starts.size, i, dtype=np.int64), starts], axis=1))
        self.index = np.concatenate(parts, axis=0)
        if len(self.index) == 0:
            raise MirError(f"{self._source.path}: no patch: every file is shorter than patch_length="
                           f"{self.patch_length}")

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one X."""
        return self._x_shape(self.patch_length)

    def __len__(self) -> int:
        return len(self.index)

    def _read(self, file_index: int, start: int) -> np.ndarray:
        stop = start + self.patch_length
        if self._arrays is not None:
            return np.ascontiguousarray(self._arrays[file_index][:, :, start:stop])
        out = np.empty((self._channels, self._bins, self.patch_length), dtype=np.float32)
        self._source.read_into(self.keys[file_index], start, out)
        return out

    def _item(self, i: int) -> dict[str, Any]:
        file_index, start = (int(v) for v in self.index[i])
        key = self.keys[file_index]
        x = self._read(file_index, start).reshape(self.input_shape)
        item: dict[str, Any] = {"X": torch.from_numpy(x)}
        if self.target is not None:
            y = self.target.for_patch(key, start, self.patch_length, self._time_sec[file_index],
                                      self._frequency_hz[file_index])
            item["y"] = torch.from_numpy(np.asarray(y))
        item["key"] = key
        item["start"] = start
        return item

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"patch {i} out of range ({len(self)} patches)")
        return self._item(int(i) % len(self))

    def __getitems__(self, indices: Sequence[int]) -> "PatchBatch":
        """A batch of items: each X read straight into one (B, ...) batch tensor.

        Patches are read in (file, start) order (neighbours share chunks) into their rows of one
        preallocated tensor (in shared memory inside a DataLoader worker, pinned in the main process
        when ``pin_memory``), and returned as a :class:`PatchBatch` in the order asked: a list of
        the usual item dicts (X, y are views of the batch tensors) that also holds the collated
        batch, which :func:`collate` returns without copying.
        """
        index = np.asarray(indices, dtype=np.int64).reshape(-1)
        if index.size == 0:
            raise IndexError("an empty batch of patches")
        count = len(self)
        if index.min() < -count or index.max() >= count:
            bad = index[(index < -count) | (index >= count)][0]
            raise IndexError(f"patch {int(bad)} out of range ({count} patches)")
        rows = self.index[index % count]
        x = _batch_tensor((len(index),) + self.input_shape, self._pin())
        window = x.numpy().reshape(len(index), self._channels, self._bins, self.patch_length)
        for j in np.lexsort((rows[:, 1], rows[:, 0])):
            file_index, start = int(rows[j, 0]), int(rows[j, 1])
            if self._arrays is not None:
                window[j] = self._arrays[file_index][:, :, start:start + self.patch_length]
            else:
                self._source.read_into(self.keys[file_index], start, window[j])
        keys = [self.keys[f] for f in rows[:, 0].tolist()]
        batch: dict[str, Any] = {"X": x}
        if self.target is not None:
            ys = [np.asarray(self.target.for_patch(key, start, self.patch_length, self._time_sec[f],
                                                   self._frequency_hz[f]))
                  for key, f, start in zip(keys, rows[:, 0].tolist(), rows[:, 1].tolist())]
            batch["y"] = torch.from_numpy(np.stack(ys))
        batch["key"] = keys
        batch["start"] = torch.from_numpy(rows[:, 1].copy())
        return PatchBatch(batch)

    def _pin(self) -> bool:
        return _cuda_available() if self.pin_memory is None else self.pin_memory


@functools.lru_cache(maxsize=None)
def _cuda_available() -> bool:
    """Whether CUDA can use pinned batches (asked once per process)."""
    return bool(torch.cuda.is_available())


def _batch_tensor(shape: tuple[int, ...], pin: bool) -> torch.Tensor:
    """An uninitialised float32 tensor for a batch: in shared memory inside a DataLoader worker
    (as torch's collate allocates it, so sending it to the main process copies nothing), else
    pinned when ``pin`` (then ``DataLoader(pin_memory=True)`` copies nothing either)."""
    if torch.utils.data.get_worker_info() is not None:
        try:
            storage = torch.UntypedStorage._new_shared(math.prod(shape) * 4)
            return torch.empty(0, dtype=torch.float32).set_(storage).view(shape)
        except (AttributeError, RuntimeError):  # pragma: no cover - private API moved: pickling shares it
            return torch.empty(shape, dtype=torch.float32)
    if pin:
        try:
            return torch.empty(shape, dtype=torch.float32, pin_memory=True)
        except RuntimeError:  # no usable CUDA after all
            pass
    # numpy's allocator, not torch's: numpy asks for transparent huge pages on large arrays and
    # its freed batches come back without page faults, where a fresh torch.empty of a (32, 6, 360,
    # 64) batch faulted in 300-3700 of its 4320 pages again (preads into it up to 3x slower, measured)
    return torch.from_numpy(np.empty(shape, dtype=np.float32))


class PatchBatch(list):
    """The items of one batch (a list of item dicts, for any collate), holding their collated batch.

    Each item is ``{'X', 'y', 'key', 'start'}`` as :meth:`PatchDataset.__getitem__` gives it, with
    X and y views of the batch tensors. :func:`collate` returns :attr:`collated` (the dict
    ``{'X': (B, ...), 'y': (B, ...), 'key': list of str, 'start': (B,) int64}``, what
    :func:`torch.utils.data.default_collate` would build) without copying; torch's default collate
    also works on it, stacking the views into new tensors (one more copy).
    """

    def __init__(self, collated: dict[str, Any]):
        self.collated = collated
        x, y = collated["X"], collated.get("y")
        items = []
        for j, (key, start) in enumerate(zip(collated["key"], collated["start"].tolist())):
            item: dict[str, Any] = {"X": x[j]}
            if y is not None:
                item["y"] = y[j]
            item["key"] = key
            item["start"] = start
            items.append(item)
        super().__init__(items)
        self._items = tuple(items)

    def intact(self) -> bool:
        """Whether the list still holds exactly the items it was built with (so :attr:`collated` is its batch)."""
        return len(self) == len(self._items) and all(a is b for a, b in zip(self, self._items))


def collate(batch: Sequence[Any]) -> Any:
    """Collate for the DataLoader: a :class:`PatchBatch` gives its batch as is (no copy); anything
    else goes to :func:`torch.utils.data.default_collate` (same output either way).

    Use ``DataLoader(dataset, batch_size=..., collate_fn=collate)`` with :class:`PatchDataset`.
    """
    if isinstance(batch, PatchBatch) and batch.intact():
        return dict(batch.collated)
    return default_collate(batch)


class FileDataset(_Base):
    """One item per whole file, for whole-file evaluation or metric learning.

    Parameters
    ----------
    cache_path : path
    keys : sequence of str
    target : Target or None
    crop_or_pad : int or None
        Crop the first N frames or zero-pad at the end to N frames (e.g. 1800 for CREMA), so that
        files of different lengths batch together; per-frame targets are cropped / padded too
        (frame labels with ``ignore_index``, pitch with 0).

    Items are ``{'X': (C, F, T) (or (C, T)), 'y', 'key', 'num_frames'}`` where ``num_frames`` is the
    number of real (not padded) frames.
    """

    def __init__(self, cache_path: str | os.PathLike, keys: Sequence[str], target: Target | None,
                 crop_or_pad: int | None = None):
        self.crop_or_pad = None if crop_or_pad is None else _positive_int(crop_or_pad, "crop_or_pad")
        self._setup(_feature_source(cache_path, self.crop_or_pad), keys, target)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        """Shape of X when ``crop_or_pad`` fixes the length, else None."""
        return None if self.crop_or_pad is None else self._x_shape(self.crop_or_pad)

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"file {i} out of range ({len(self)} files)")
        i = int(i) % len(self)
        key = self.keys[i]
        total = int(self._shapes[i][2])
        length = total if self.crop_or_pad is None else self.crop_or_pad
        kept = min(total, length)
        x = np.zeros((self._channels, self._bins, length), dtype=np.float32)
        if kept == length:  # crop (or exact): read straight into the output
            self._source.read_into(key, 0, x)
        else:  # pad: read the real frames, zeros after
            part = np.empty((self._channels, self._bins, kept), dtype=np.float32)
            self._source.read_into(key, 0, part)
            x[:, :, :kept] = part
        item: dict[str, Any] = {"X": torch.from_numpy(x.reshape(self._x_shape(length)))}
        if self.target is not None:
            y = self.target.for_file(key, self._time_sec[i], self._frequency_hz[i])
            if self.target.per_frame:
                y = _fit_frames(y, length, IGNORE_INDEX if y.dtype.kind == "i" else 0)
            # np.require keeps a 0-d y 0-d (np.ascontiguousarray would make it (1,))
            item["y"] = torch.from_numpy(np.require(y, requirements="C"))
        item["key"] = key
        item["num_frames"] = kept
        return item


def _fit_frames(y: np.ndarray, length: int, fill: float) -> np.ndarray:
    """Crop or pad the last axis of ``y`` to ``length`` with ``fill``."""
    if y.shape[-1] >= length:
        return y[..., :length]
    pad = np.full(y.shape[:-1] + (length - y.shape[-1],), fill, dtype=y.dtype)
    return np.concatenate([y, pad], axis=-1)


# ----------------------------------------------------------------------------- metric learning


class WorkBatchSampler(Sampler[list[int]]):
    """Batches of ``works_per_batch`` works × ``performances_per_work`` performances (K × P).

    Each epoch shuffles the works and cuts them into batches of K (an incomplete last batch is
    dropped); each work contributes P of its items, drawn without replacement when it has at least
    P, **with replacement** otherwise (a work with 2 performances and P = 4 repeats them, so every
    anchor has a positive; a work with a single performance only gives identical positives; leave
    such works out with ``min_performances=2``). The draw depends only on ``seed`` and the epoch
    (incremented on each ``iter``, or set with :meth:`set_epoch`).

    Parameters
    ----------
    work_ids : list of int
        Work of each dataset item (``CliqueTarget.work_ids(keys)``).
    works_per_batch : int
        K.
    performances_per_work : int
        P.
    seed : int
    min_performances : int
        Works with fewer items are never sampled.
    """

    def __init__(self, work_ids: Sequence[int], works_per_batch: int = 16, performances_per_work: int = 4,
                 seed: int = 0, min_performances: int = 1):
        self.works_per_batch = _positive_int(works_per_batch, "works_per_batch")
        self.performances_per_work = _positive_int(performances_per_work, "performances_per_work")
        self.min_performances = _positive_int(min_performances, "min_performances")
        self.seed = int(seed)
        ids = np.asarray(list(work_ids))
        if ids.ndim != 1 or ids.size == 0:
            raise ParameterError("work_ids must be a non-empty list of work indices, one per item")
        works, inverse = np.unique(ids, return_inverse=True)
        members = [np.flatnonzero(inverse == w) for w in range(len(works))]
        self._members = [m for m in members if len(m) >= self.min_performances]
        if len(self._members) < self.works_per_batch:
            raise ParameterError(f"works_per_batch {self.works_per_batch} is more than the {len(self._members)} "
                                 f"works with at least {self.min_performances} performance(s)")
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the batches of ``epoch`` on the next ``iter``."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self._members) // self.works_per_batch

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        order = rng.permutation(len(self._members))
        k, p = self.works_per_batch, self.performances_per_work
        for b in range(len(self)):
            batch: list[int] = []
            for w in order[b * k:(b + 1) * k]:
                members = self._members[w]
                batch.extend(int(i) for i in rng.choice(members, size=p, replace=len(members) < p))
            yield batch
