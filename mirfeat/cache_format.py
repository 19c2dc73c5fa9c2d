"""The feature-cache HDF5 layout: names, chunking, the source fingerprint, and the reader.

Layout (a contract read by :mod:`mirfeat.patches` and :mod:`mirmodels`)::

    /<key>/value         (C, F, T) float32 or float16, chunked along time (C, F, chunk_frames)
    /<key>/time_sec      (T,) float64, frame centres in seconds
    /<key>/frequency_hz  (F,) float64, bin centres in Hz (absent for the waveform)
    /<key>.attrs         complete = True (written last)
    root attrs           feature, params (JSON, every parameter after defaults), params_hash,
                         source (JSON: audio file name + fingerprint), dtype, mirfeat_version,
                         compression, skipped (JSON list of [key, message]), complete = True

A cache file is only ever written under a temporary name and renamed when whole
(see :mod:`mirfeat.cache`), so a file with this name is complete; the per-key
``complete`` flag is kept for readers of caches assembled by other means.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pyjama_tools.core.errors import MirError

VALUE = "value"
TIME = "time_sec"
FREQUENCY = "frequency_hz"
COMPLETE = "complete"

#: Dtypes a cache may store its values in.
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


# ----------------------------------------------------------------------------- source fingerprint


#: Samples hashed per key (from the middle of each waveform) for the content part of the fingerprint.
CONTENT_SAMPLES = 256


def content_sample(dataset: h5py.Dataset) -> bytes:
    """The ``CONTENT_SAMPLES`` samples in the middle of an audio dataset (last axis = time), as bytes."""
    frames = int(dataset.shape[-1]) if dataset.ndim else 0
    start = max(0, frames // 2 - CONTENT_SAMPLES // 2)
    return np.ascontiguousarray(dataset[..., start:start + CONTENT_SAMPLES], dtype=np.float32).tobytes()


def source_fingerprint(audio_path: str | os.PathLike, keys_and_shapes: list[tuple[str, tuple, int]],
                       content_sha1: str | None = None) -> dict[str, Any]:
    """A cheap fingerprint of an audio store: name, size, mtime, a hash of its layout and of samples.

    Reading every waveform would cost as much as computing the features, so the fingerprint
    hashes the layout (each key's name, array shape and sample rate) and, in ``content_sha1``,
    :data:`CONTENT_SAMPLES` samples from the middle of each key (see :func:`content_sample`):
    a store reconverted with other audio but the same layout and size (another resampler,
    gain, downmix) no longer passes for the old one.  :func:`same_source` compares name, size,
    layout hash and content hash; the mtime is informational (copying a store keeps its caches
    valid).

    Parameters
    ----------
    audio_path : path of the ``*_audio.hdf5`` store
    keys_and_shapes : list of (key, shape, sample_rate) for every key of the store
    content_sha1 : hex SHA-1 of the content samples of every key, in layout order (None: not recorded)

    Returns
    -------
    dict
        ``{"file", "size", "mtime", "layout_sha1", "keys"}`` and ``"content_sha1"`` when given
        (JSON-serialisable).
    """
    path = Path(audio_path)
    stat = path.stat()
    digest = hashlib.sha1()
    for key, shape, rate in keys_and_shapes:
        digest.update(f"{key}\t{tuple(int(s) for s in shape)}\t{int(rate)}\n".encode())
    return {
        "file": path.name,
        "size": int(stat.st_size),
        "mtime": round(stat.st_mtime, 3),
        "layout_sha1": digest.hexdigest(),
        "keys": len(keys_and_shapes),
        **({"content_sha1": content_sha1} if content_sha1 else {}),
    }


def same_source(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two fingerprints describe the same audio store (name, size, layout hash, and
    content hash when both record one: caches written before it was recorded stay valid)."""
    if "content_sha1" in a and "content_sha1" in b and a["content_sha1"] != b["content_sha1"]:
        return False
    return all(a.get(k) == b.get(k) for k in ("file", "size", "layout_sha1"))


# ----------------------------------------------------------------------------- writing one key


def write_key(out: h5py.File, key: str, value: np.ndarray, time_sec: np.ndarray,
              frequency_hz: np.ndarray | None, compression: str | None = None) -> None:
    """Write one key's group in the cache layout; the ``complete`` flag is set last.

    Parameters
    ----------
    out : an HDF5 file open for writing
    key : the audio key (group name)
    value : (C, F, T) array, already in the cache's dtype
    time_sec : (T,) frame times in seconds
    frequency_hz : (F,) bin frequencies in Hz, or None
    compression : None, "lzf" or "gzip"
    """
    if key in out:
        del out[key]
    group = out.create_group(key)
    channels, bins, frames = value.shape
    chunks = (channels, bins, chunk_frames(channels, bins, frames)) if frames else None
    group.create_dataset(VALUE, data=value, chunks=chunks, compression=compression)
    group.create_dataset(TIME, data=np.asarray(time_sec, dtype=np.float64))
    if frequency_hz is not None:
        group.create_dataset(FREQUENCY, data=np.asarray(frequency_hz, dtype=np.float64))
    group.attrs[COMPLETE] = True


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

class FeatureCache:
    """Read-only access to a feature cache, opened lazily and once per process.

    Safe to create before a fork and to pickle (DataLoader workers, joblib): the HDF5 handle
    is opened on first use in each process and never inherited.

    Parameters
    ----------
    path : path of the cache HDF5 file

    Raises
    ------
    MirError
        When the file is missing, is not HDF5, or is not a feature cache (no ``feature`` attribute).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._file: h5py.File | None = None
        self._pid: int | None = None
        self._datasets: dict[str, h5py.Dataset] = {}
        self._keys: list[str] | None = None
        self.file  # fail now, with one line, on a bad path

    # ---- handle
    @property
    def file(self) -> h5py.File:
        """The open HDF5 file of this process."""
        if self._file is None or self._pid != os.getpid():
            self._datasets = {}
            self._file = open_cache_file(self.path)
            self._pid = os.getpid()
        return self._file

    def close(self) -> None:
        """Close this process's handle (it reopens on next use)."""
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None
        self._datasets = {}

    def __enter__(self) -> "FeatureCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:
        return {"path": self.path, "_file": None, "_pid": None, "_datasets": {}, "_keys": self._keys}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    # ---- metadata
    @property
    def attrs(self) -> dict[str, Any]:
        """Root attributes as plain Python values."""
        return {k: _plain(v) for k, v in self.file.attrs.items()}

    @property
    def feature(self) -> str:
        """Name of the cached feature (e.g. ``"hcqt"``)."""
        return str(_plain(self.file.attrs["feature"]))

    @property
    def params(self) -> dict[str, Any]:
        """Every parameter of the feature after defaults."""
        return json.loads(_plain(self.file.attrs.get("params", "{}")))

    @property
    def params_hash(self) -> str:
        """Hash of the parameters (``Feature.params.hash()``)."""
        return str(_plain(self.file.attrs.get("params_hash", "")))

    @property
    def dtype(self) -> str:
        """Stored dtype of the values (``float32`` or ``float16``); reads always return float32."""
        return str(_plain(self.file.attrs.get("dtype", "float32")))

    @property
    def source(self) -> dict[str, Any]:
        """Fingerprint of the audio store the cache was built from."""
        return json.loads(_plain(self.file.attrs.get("source", "{}")))

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """(key, reason) of every file that was left out (bad audio)."""
        return [tuple(item) for item in json.loads(_plain(self.file.attrs.get("skipped", "[]")))]

    def keys(self) -> list[str]:
        """Every complete key (groups whose ``complete`` flag is set), in HDF5 order."""
        if self._keys is None:
            self._keys = [k for k, g in self.file.items()
                          if isinstance(g, h5py.Group) and bool(g.attrs.get(COMPLETE, False))]
        return list(self._keys)

    def __contains__(self, key: str) -> bool:
        group = self.file.get(key)
        return isinstance(group, h5py.Group) and bool(group.attrs.get(COMPLETE, False))

    def __len__(self) -> int:
        return len(self.keys())

    # ---- per key
    def _value(self, key: str) -> h5py.Dataset:
        dataset = self._datasets.get(key) if self._pid == os.getpid() else None
        if dataset is None:
            if key not in self:
                reasons = dict(self.skipped)
                if key in reasons:
                    raise MirError(f"{self.path}: key {key!r} was skipped when the cache was built ({reasons[key]})")
                close = difflib.get_close_matches(key, self.keys(), n=3)
                hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
                raise MirError(f"{self.path}: no key {key!r} in the cache{hint}")
            dataset = self.file[key][VALUE]
            self._datasets[key] = dataset
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
        """(F,) float64 bin frequencies in Hz of ``key``, or None (waveform)."""
        self._value(key)
        group = self.file[key]
        return np.asarray(group[FREQUENCY][()], dtype=np.float64) if FREQUENCY in group else None

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


def open_cache_file(path: str | os.PathLike) -> h5py.File:
    """Open a cache read-only; a missing file, non-HDF5 file or non-cache file is a one-line MirError."""
    path = Path(path)
    if not path.exists():
        raise MirError(f"{path}: no such file")
    if path.is_dir():
        raise MirError(f"{path}: is a folder, not a feature cache file")
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise MirError(f"{path}: not a readable HDF5 file ({str(error).splitlines()[0]})") from None
    if "feature" not in handle.attrs:
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
