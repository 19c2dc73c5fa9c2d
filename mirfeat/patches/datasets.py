"""The patch datasets: :class:`PatchDataset` (patches of L frames every S frames) and
:class:`FileDataset` (one item per whole file), over a source of :mod:`mirfeat.patches.sources`."""

from __future__ import annotations

import os
from typing import Any
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from mirfeat.patches.batch import PatchBatch, batch_tensor, cuda_available
from mirfeat.patches.checks import optional_bool, positive_int
from mirfeat.patches.index import patch_starts
from mirfeat.patches.sources import WaveformSource, feature_source
from mirfeat.targets import IGNORE_INDEX, Target
from pyjama_tools.core.errors import MirError, ParameterError


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
                    if isinstance(source, WaveformSource):
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
        self.patch_length = positive_int(patch_length, "patch_length")
        self.patch_hop = positive_int(patch_hop, "patch_hop")
        self.pin_memory = optional_bool(pin_memory, "pin_memory")
        self._setup(feature_source(cache_path, self.patch_length), keys, target)
        self._build_index()
        self.in_memory = bool(in_memory)
        self._arrays: list[np.ndarray] | None = None
        if self.in_memory:
            self._arrays = [self._source.read(key) for key in self.keys]
            self._source.close()

    @classmethod
    def from_audio(cls, audio_path: str | os.PathLike, keys: Sequence[str], target: Target | None,
                   patch_length: int, patch_hop: int, in_memory: bool = False,
                   pin_memory: bool | None = None) -> PatchDataset:
        """Waveform patches read directly from an audio store: X (1, L), L and S in samples."""
        self = cls.__new__(cls)
        self.patch_length = positive_int(patch_length, "patch_length")
        self.patch_hop = positive_int(patch_hop, "patch_hop")
        self.pin_memory = optional_bool(pin_memory, "pin_memory")
        self._setup(WaveformSource(audio_path), keys, target)
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

    def __getitems__(self, indices: Sequence[int]) -> PatchBatch:
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
        x = batch_tensor((len(index),) + self.input_shape, self._pin())
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
        return cuda_available() if self.pin_memory is None else self.pin_memory




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
        self.crop_or_pad = None if crop_or_pad is None else positive_int(crop_or_pad, "crop_or_pad")
        self._setup(feature_source(cache_path, self.crop_or_pad), keys, target)

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
