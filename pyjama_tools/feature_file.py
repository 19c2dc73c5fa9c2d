"""The feature file: one HDF5 file of frame features, one group per key, written and read here only.

Layout (FORMATS.md; written by ``mirfeat cache`` and by the Da-TACOS converter, read by
``mirfeat.cache``, ``mirfeat.patches`` and ``mirmodels``)::

    /<key>/value         (C, F, T) float32 or float16, chunked along time (C, F, chunk_frames)
    /<key>/time_sec      (T,) float64, frame centres in seconds
    /<key>/frequency_hz  (F,) float64, bin centres in Hz (absent for the waveform and pitch classes)
    /<key>.attrs         complete = True (written last)
    root attrs           feature, params (JSON, every parameter after defaults), params_hash,
                         source (JSON: where the values come from), dtype, compression,
                         mirfeat_version, skipped (JSON list of [key, message]), complete = True

:func:`write_key` writes one key's group and :func:`write_root_attrs` the root attributes;
:class:`FeatureFile` reads a file back, opened lazily once per process (a
:class:`~pyjama_tools.core.hdf5.LazyHDF5`: safe to create before a fork and to pickle).
Writers write the file under a temporary name and rename it when whole, so a file with its
final name is complete; the per-key ``complete`` flag is kept for files assembled by other means.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pyjama_tools.core.errors import MirError
from pyjama_tools.core.hdf5 import LazyHDF5, open_hdf5
from pyjama_tools.core.registry import did_you_mean

__all__ = [
    "VALUE", "TIME", "FREQUENCY", "COMPLETE", "FEATURE_ATTR", "ROOT_ATTRS", "DTYPES", "COMPRESSIONS",
    "chunk_frames", "write_key", "write_root_attrs", "frame_range", "open_feature_hdf5", "KeyLayout",
    "FeatureFile",
]

# ---- names of the layout
VALUE = "value"
TIME = "time_sec"
FREQUENCY = "frequency_hz"
COMPLETE = "complete"
#: the root attribute that makes an HDF5 file a feature file (the feature's name)
FEATURE_ATTR = "feature"
#: the root attributes, in the order :func:`write_root_attrs` writes them
ROOT_ATTRS = (FEATURE_ATTR, "params", "params_hash", "source", "dtype", "compression", "mirfeat_version",
              "skipped", COMPLETE)

#: Dtypes a feature file may store its values in.
DTYPES = ("float32", "float16")
#: Compression filters allowed for ``value`` (None = none: patch reads stay fastest).
COMPRESSIONS = (None, "lzf", "gzip")

# Chunk sizing: 64 frames for spectral features, the tutorial's patch length, so that a 64-frame
# patch touches one or two chunks and reads little more than itself (256-frame LMS chunks made
# each LMS patch read 4x its size: lazy/in-RAM patch throughput 0.52x → 0.80x with 64); the
# waveform (one value per frame) gets long chunks instead.
_SPECTRAL_FRAMES = 64
_WAVEFORM_FRAMES = 16384


def chunk_frames(channels: int, bins: int, frames: int) -> int:
    """Frames per chunk of a (channels, bins, frames) ``value`` dataset.

    Parameters
    ----------
    channels, bins, frames : int
        The dataset's shape (C, F, T).

    Returns
    -------
    int
        Chunk length along time, in frames (at least 1, at most ``frames``).
    """
    wanted = _WAVEFORM_FRAMES if channels * bins == 1 else _SPECTRAL_FRAMES
    return max(1, min(frames, wanted))


# ----------------------------------------------------------------------------- writing


def write_key(out: h5py.File, key: str, value: np.ndarray, time_sec: np.ndarray,
              frequency_hz: np.ndarray | None, compression: str | None = None,
              chunk: int | None = None, attrs: Mapping[str, Any] | None = None) -> None:
    """Write one key's group; its ``complete`` flag is set last (a group already there is replaced).

    Parameters
    ----------
    out : an HDF5 file open for writing
    key : the key (group name)
    value : (C, F, T) array, already in the file's dtype
    time_sec : (T,) frame times in seconds
    frequency_hz : (F,) bin frequencies in Hz, or None
    compression : None, "lzf" or "gzip"
    chunk : frames per chunk (None: :func:`chunk_frames`); capped at T
    attrs : more attributes of the group (written before ``complete``)
    """
    if key in out:
        del out[key]
    group = out.create_group(key)
    for name, item in (attrs or {}).items():
        group.attrs[name] = item
    channels, bins, frames = value.shape
    length = chunk_frames(channels, bins, frames) if chunk is None else max(1, min(int(chunk), frames))
    chunks = (channels, bins, length) if frames else None
    group.create_dataset(VALUE, data=value, chunks=chunks, compression=compression)
    group.create_dataset(TIME, data=np.asarray(time_sec, dtype=np.float64))
    if frequency_hz is not None:
        group.create_dataset(FREQUENCY, data=np.asarray(frequency_hz, dtype=np.float64))
    group.attrs[COMPLETE] = True


def write_root_attrs(out: h5py.File, feature: str, params: Mapping[str, Any], params_hash: str,
                     source: Mapping[str, Any], version: str, dtype: str = "float32",
                     compression: str | None = None, skipped: Sequence[Sequence[str]] = ()) -> None:
    """The root attributes of the layout, ``complete`` last (call it after every key is written).

    Parameters
    ----------
    out : an HDF5 file open for writing
    feature : the feature's name (``"hcqt"``, ``"crema"``)
    params : every parameter of the feature (JSON-able), stored as sorted JSON
    params_hash : the hash of ``params``
    source : where the values come from (JSON-able: an audio store's fingerprint, a corpus)
    version : version of the code that wrote the file (attribute ``mirfeat_version``)
    dtype : the stored dtype of every ``value``
    compression : the filter of every ``value`` (None is stored as ``"none"``)
    skipped : (key, reason) of every key left out
    """
    out.attrs[FEATURE_ATTR] = feature
    out.attrs["params"] = json.dumps(dict(params), sort_keys=True)
    out.attrs["params_hash"] = params_hash
    out.attrs["source"] = json.dumps(dict(source), sort_keys=True)
    out.attrs["dtype"] = dtype
    out.attrs["compression"] = compression or "none"
    out.attrs["mirfeat_version"] = version
    out.attrs["skipped"] = json.dumps([list(item) for item in skipped])
    out.attrs[COMPLETE] = True


# ----------------------------------------------------------------------------- reading


def frame_range(path: Any, key: str, start: int | None, stop: int | None, frames: int) -> tuple[int, int]:
    """``(begin, end)`` of frames ``start:stop`` (None = the file's edge) of a ``frames``-long item.

    Raises
    ------
    MirError
        A range outside ``0 <= start <= stop <= frames``, naming ``path`` and ``key``.
    """
    begin = 0 if start is None else int(start)
    end = frames if stop is None else int(stop)
    if not 0 <= begin <= end <= frames:
        raise MirError(f"{path}: key {key!r}: frames {begin}:{end} outside 0:{frames}")
    return begin, end


def open_feature_hdf5(path: str | os.PathLike, strict: bool = True, **options: Any) -> h5py.File:
    """Open a feature file read-only (``options`` go to :class:`h5py.File`, e.g. ``rdcc_nbytes``).

    Parameters
    ----------
    path : the file
    strict : refuse a file without the root ``feature`` attribute (an audio store, say)

    Raises
    ------
    MirError
        One line: a missing file, a folder, a file that is not HDF5, or (``strict``) not a feature file.
    """
    path = Path(path)
    handle = open_hdf5(path, what="a feature cache file", **options)
    if strict and FEATURE_ATTR not in handle.attrs:
        handle.close()
        raise MirError(f"{path}: not a feature cache (no 'feature' attribute; is it an audio store?)")
    return handle


def _plain(value: Any) -> Any:
    """HDF5 attribute value → plain Python (bytes → str, numpy scalars → Python)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass(frozen=True)
class KeyLayout:
    """How one key is stored (:meth:`FeatureFile.layout`).

    Attributes
    ----------
    shape : (C, F, T) of ``value``
    chunks : HDF5 chunk shape of ``value`` (None: contiguous)
    itemsize : bytes per stored value (4 for float32, 2 for float16)
    time_sec : (T,) float64 frame times in seconds, or None when the file has none
    frequency_hz : (F,) float64 bin frequencies in Hz, or None (waveform, pitch classes)
    """

    shape: tuple[int, int, int]
    chunks: tuple[int, int, int] | None
    itemsize: int
    time_sec: np.ndarray | None
    frequency_hz: np.ndarray | None


class FeatureFile(LazyHDF5):
    """Read-only access to a feature file, opened lazily and once per process.

    Safe to create before a fork and to pickle (DataLoader workers, joblib): the HDF5 handle
    is opened on first use in each process and never inherited (:class:`LazyHDF5`).

    Parameters
    ----------
    path : path of the feature HDF5 file
    open_now : open (and check) the file now, so that a bad path fails here with one line

    Raises
    ------
    MirError
        When the file is missing, is not HDF5, or is not a feature file (no ``feature`` attribute).
    """

    #: whether the root ``feature`` attribute is required (:func:`open_feature_hdf5`)
    strict = True
    #: whether a key group without the ``complete`` flag counts as complete (hand-made files)
    complete_when_unflagged = False

    def __init__(self, path: str | os.PathLike, open_now: bool = True):
        super().__init__(path)
        self._datasets: dict[str, h5py.Dataset] = {}
        self._keys: list[str] | None = None
        if open_now:
            _ = self.file  # fail now, with one line, on a bad path

    # ---- handle (LazyHDF5 hooks)
    def _open(self) -> h5py.File:
        return open_feature_hdf5(self.path, self.strict)

    def _forget(self) -> None:
        self._datasets = {}

    def __getstate__(self) -> dict:
        return dict(super().__getstate__(), _datasets={})  # h5py objects do not pickle

    # ---- metadata
    @property
    def attrs(self) -> dict[str, Any]:
        """Root attributes as plain Python values."""
        return {k: _plain(v) for k, v in self.file.attrs.items()}

    @property
    def feature(self) -> str:
        """Name of the feature (e.g. ``"hcqt"``)."""
        return str(_plain(self.file.attrs[FEATURE_ATTR]))

    @property
    def params(self) -> dict[str, Any]:
        """Every parameter of the feature after defaults."""
        return json.loads(_plain(self.file.attrs.get("params", "{}")))

    @property
    def params_hash(self) -> str:
        """Hash of the parameters."""
        return str(_plain(self.file.attrs.get("params_hash", "")))

    @property
    def dtype(self) -> str:
        """Stored dtype of the values (``float32`` or ``float16``); reads always return float32."""
        return str(_plain(self.file.attrs.get("dtype", "float32")))

    @property
    def source(self) -> dict[str, Any]:
        """Where the values come from (an audio store's fingerprint, a corpus)."""
        return json.loads(_plain(self.file.attrs.get("source", "{}")))

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """(key, reason) of every key that was left out (bad audio)."""
        return [tuple(item) for item in json.loads(_plain(self.file.attrs.get("skipped", "[]")))]

    def keys(self) -> list[str]:
        """Every complete key (groups whose ``complete`` flag is set), in HDF5 order."""
        if self._keys is None:
            self._keys = [k for k, g in self.file.items() if isinstance(g, h5py.Group) and self._complete(g)]
        return list(self._keys)

    def _complete(self, group: h5py.Group) -> bool:
        """The group's ``complete`` flag (:attr:`complete_when_unflagged` when it has none)."""
        flag = group.attrs.get(COMPLETE)
        return self.complete_when_unflagged if flag is None else bool(flag)

    def __contains__(self, key: str) -> bool:
        group = self.file.get(key)
        return isinstance(group, h5py.Group) and self._complete(group)

    def __len__(self) -> int:
        return len(self.keys())

    # ---- per key
    def group(self, key: str) -> h5py.Group:
        """The group of a complete ``key``.

        Raises
        ------
        MirError
            A key that is absent (with suggestions) or was skipped when the file was built.
        """
        if key not in self:
            reasons = dict(self.skipped)
            if key in reasons:
                raise MirError(f"{self.path}: key {key!r} was skipped when the cache was built ({reasons[key]})")
            raise MirError(f"{self.path}: no key {key!r} in the cache{did_you_mean(key, self.keys(), quote=True)}")
        return self.file[key]

    def _value(self, key: str) -> h5py.Dataset:
        handle = self.file  # reopens (and forgets the datasets) in a new process
        dataset = self._datasets.get(key)
        if dataset is None:
            self.group(key)
            dataset = self._datasets[key] = handle[key][VALUE]
        return dataset

    def shape(self, key: str) -> tuple[int, int, int]:
        """(C, F, T) of ``key``'s value."""
        return tuple(int(s) for s in self._value(key).shape)

    def num_frames(self, key: str) -> int:
        """T, the number of frames of ``key``."""
        return int(self._value(key).shape[-1])

    def time_sec(self, key: str) -> np.ndarray:
        """(T,) float64 frame times of ``key`` in seconds."""
        self._value(key)
        return np.asarray(self.file[key][TIME][()], dtype=np.float64)

    def frequency_hz(self, key: str) -> np.ndarray | None:
        """(F,) float64 bin frequencies in Hz of ``key``, or None (waveform, pitch classes)."""
        self._value(key)
        group = self.file[key]
        return np.asarray(group[FREQUENCY][()], dtype=np.float64) if FREQUENCY in group else None

    def chunks(self, key: str) -> tuple[int, int, int] | None:
        """HDF5 chunk shape of ``key``'s value (None: contiguous)."""
        chunks = self._value(key).chunks
        return None if chunks is None else tuple(int(c) for c in chunks)

    def layout(self, key: str) -> KeyLayout:
        """Shape, chunks, item size and grids of ``key``, read from its group.

        Raises
        ------
        MirError
            ``no feature for key`` (no group or no value), ``is incomplete`` (the flag unset), or a
            value that is not (C, F, T).
        """
        group = self.file.get(key)
        if not isinstance(group, h5py.Group) or VALUE not in group:
            raise MirError(f"{self.path}: no feature for key {key!r}")
        if not self._complete(group):
            raise MirError(f"{self.path}: feature of key {key!r} is incomplete (resume the cache)")
        value = group[VALUE]
        if value.ndim != 3:
            raise MirError(f"{self.path}: {key}/value has shape {value.shape}, expected (C, F, T)")
        return KeyLayout(
            shape=tuple(int(s) for s in value.shape),
            chunks=None if value.chunks is None else tuple(int(c) for c in value.chunks),
            itemsize=int(value.dtype.itemsize),
            time_sec=np.asarray(group[TIME][()], dtype=np.float64) if TIME in group else None,
            frequency_hz=np.asarray(group[FREQUENCY][()], dtype=np.float64) if FREQUENCY in group else None,
        )

    def read(self, key: str, start: int | None = None, stop: int | None = None) -> np.ndarray:
        """Frames ``start:stop`` of ``key`` as float32, shape (C, F, stop - start).

        Raises
        ------
        MirError
            Unknown key, or a range outside ``0 <= start <= stop <= T``.
        """
        dataset = self._value(key)
        begin, end = frame_range(self.path, key, start, stop, dataset.shape[-1])
        block = dataset[:, :, begin:end]
        return block if block.dtype == np.float32 else block.astype(np.float32)
