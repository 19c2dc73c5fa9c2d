"""The tutorial's feature-only pairs: ``<base>_feat.hdf5`` + ``<base>.pyjama``, without audio.

The cover-song notebook's datasets (Cover-1000, Da-TACOS benchmark) ship features, not audio:
``<base>_feat.hdf5`` holds one dataset per entry at ``/<filepath value>/`` of shape (T, 12), the
CREMA chroma of T frames, and no attributes. The notebook reads an entry as
``f['/' + key + '/'][:].T`` and stacks the (12, T) matrix with itself less its last row: (23, T),
so that a (12, ·) kernel followed by a (12, 1) max-pool sees every transposition of the chroma
(the MOVE model of ``config_cover.yaml``).

:class:`TutorialFeatureFile` reads such a file with the interface of
:class:`mirfeat.cache.FeatureCache` (``keys``, ``shape``, ``read``, ``time_sec``, ...), each entry
as (1, 2R - 1, T) float32 for R rows (23 for CREMA); :func:`open_feature_file` opens either kind.
:class:`TutorialPairSource` is the same file as a source of :mod:`mirfeat.patches` datasets.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any
from collections.abc import Sequence

import h5py
import numpy as np

from pyjama_tools.core.errors import MirError
from pyjama_tools.core.hdf5 import LazyHDF5, open_hdf5
from pyjama_tools.core.registry import did_you_mean
from pyjama_tools.feature_file import FEATURE_ATTR, FeatureFile, frame_range, open_feature_hdf5

__all__ = ["TUTORIAL_FEATURE", "is_tutorial_feature_file", "TutorialFeatureFile", "TutorialPairSource",
           "open_feature_file", "stack_rows"]

#: The feature the tutorial's feature-only pairs hold.
TUTORIAL_FEATURE = "crema"


def stack_rows(matrix: np.ndarray) -> np.ndarray:
    """(R, T) → (2R - 1, T): the matrix on top of itself less its last row (12 chroma rows → 23)."""
    return np.concatenate([matrix, matrix[:-1]], axis=0)


def _key_name(key: str) -> str:
    return "/" + str(key).strip("/") + "/"


def is_tutorial_feature_file(path: str | os.PathLike) -> bool:
    """True when ``path`` is an HDF5 file in the tutorial's feature-pair layout: no ``feature``
    attribute (which a :mod:`mirfeat.cache` file has) and 2-D datasets at its root."""
    path = Path(path)
    if not path.is_file():
        return False
    try:
        with open_hdf5(path) as handle:
            if FEATURE_ATTR in handle.attrs:
                return False
            first = next(iter(handle.values()), None)
            return isinstance(first, h5py.Dataset) and first.ndim == 2
    except (MirError, OSError):
        return False


class TutorialFeatureFile(LazyHDF5):
    """Read-only access to a tutorial feature file, opened lazily once per process.

    Parameters
    ----------
    path : path of ``<base>_feat.hdf5``

    Notes
    -----
    Entry ``key`` is the (T, R) dataset ``/<key>/``, read as (1, 2R - 1, T) float32 (see
    :func:`stack_rows`). The file gives no frame rate: :meth:`time_sec` is the frame index, and
    the rows are pitch classes, not Hz (:meth:`frequency_hz` is None).

    Raises
    ------
    MirError
        A missing or unreadable file, a file of another layout, datasets of different row counts.
    """

    feature = TUTORIAL_FEATURE

    def __init__(self, path: str | os.PathLike):
        super().__init__(path)
        if not self.path.is_file():
            raise MirError(f"{self.path}: no such file")
        with self._open() as handle:
            shapes = {name: item.shape for name, item in handle.items() if isinstance(item, h5py.Dataset)}
        if not shapes:
            raise MirError(f"{self.path}: holds no feature dataset")
        bad = next((name for name, shape in shapes.items() if len(shape) != 2), None)
        if bad is not None:
            raise MirError(f"{self.path}: /{bad}/ has shape {shapes[bad]}, expected (frames, rows) as the "
                           "tutorial's feature pairs write it")
        rows = sorted({shape[1] for shape in shapes.values()})
        if len(rows) > 1:
            raise MirError(f"{self.path}: datasets have different row counts {rows}")
        self.rows = int(rows[0])
        self._frames = {name: int(shape[0]) for name, shape in shapes.items()}

    def _open(self) -> h5py.File:
        return open_feature_hdf5(self.path, strict=False)

    # ---- metadata, as FeatureCache gives it
    @property
    def params(self) -> dict[str, Any]:
        """What the file's shape says of the feature: its rows and the stacked rows read."""
        return {"layout": "tutorial_feature_pair", "rows": self.rows, "stacked_rows": 2 * self.rows - 1}

    @property
    def params_hash(self) -> str:
        return hashlib.sha1(repr(sorted(self.params.items())).encode()).hexdigest()[:12]

    @property
    def attrs(self) -> dict[str, Any]:
        return {}

    def keys(self) -> list[str]:
        """Every entry key (dataset name), in HDF5 order."""
        return list(self._frames)

    def __contains__(self, key: str) -> bool:
        return str(key).strip("/") in self._frames

    def __len__(self) -> int:
        return len(self._frames)

    # ---- per key
    def _check(self, key: str) -> str:
        name = str(key).strip("/")
        if name not in self._frames:
            hint = did_you_mean(name, self.keys(), quote=True)
            raise MirError(f"{self.path}: no dataset /{name}/ for key {key!r}{hint}")
        return name

    def shape(self, key: str) -> tuple[int, int, int]:
        """(1, 2R - 1, T) of ``key`` as read."""
        return (1, 2 * self.rows - 1, self._frames[self._check(key)])

    def num_frames(self, key: str) -> int:
        return self._frames[self._check(key)]

    def time_sec(self, key: str) -> np.ndarray:
        """Frame indices (the file gives no frame rate)."""
        return np.arange(self.num_frames(key), dtype=np.float64)

    def frequency_hz(self, key: str) -> None:
        """None: the rows are pitch classes."""
        self._check(key)
        return None

    def read(self, key: str, start: int | None = None, stop: int | None = None) -> np.ndarray:
        """Frames ``start:stop`` of ``key`` as float32 (1, 2R - 1, stop - start).

        Raises
        ------
        MirError
            Unknown key, or a range outside ``0 <= start <= stop <= T``.
        """
        name = self._check(key)
        begin, end = frame_range(self.path, key, start, stop, self._frames[name])
        block = np.asarray(self.file[_key_name(name)][begin:end], dtype=np.float32).T  # (R, frames)
        return np.ascontiguousarray(stack_rows(block)[None])


class TutorialPairSource:
    """A :class:`TutorialFeatureFile` as a source of :mod:`mirfeat.patches` datasets."""

    #: X keeps its (1, rows, frames) axes although the rows have no frequency in Hz
    keep_axes = True

    def __init__(self, path: str | os.PathLike, patch_length: int | None = None):
        self.features = TutorialFeatureFile(path)
        self.path = self.features.path
        self.patch_length = patch_length

    def describe(self, keys: Sequence[str]) -> dict[str, Any]:
        shapes = [self.features.shape(key) for key in keys]
        return {"shapes": shapes, "time_sec": [None] * len(shapes), "frequency_hz": [None] * len(shapes)}

    def read_into(self, key: str, start: int, out: np.ndarray) -> None:
        out[...] = self.features.read(key, start, start + out.shape[-1])

    def read(self, key: str) -> np.ndarray:
        return self.features.read(key)

    def close(self) -> None:
        self.features.close()


def open_feature_file(path: str | os.PathLike):
    """A reader of a feature file of either kind: :class:`pyjama_tools.feature_file.FeatureFile`
    (``mirfeat.cache.FeatureCache``) for a feature file in the cache layout,
    :class:`TutorialFeatureFile` for the tutorial's feature pairs."""
    if is_tutorial_feature_file(path):
        return TutorialFeatureFile(path)
    return FeatureFile(path)
