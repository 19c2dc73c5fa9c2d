"""A read-only HDF5 file opened lazily, once per process: safe to create before a fork or to pickle.

DataLoader workers and joblib/Dask workers inherit (or unpickle) the objects made in the parent; an
h5py handle must never cross that line. :class:`LazyHDF5` opens the file on first use in each process
and drops it when pickled, so every reader of the project's files (the audio store, the feature cache,
the patch reader, the stem reader) shares one rule.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py

from pyjama_tools.core.errors import MirError

__all__ = ["LazyHDF5", "open_hdf5"]


def open_hdf5(path: str | os.PathLike, *, what: str = "an HDF5 file", **options) -> h5py.File:
    """``h5py.File(path, "r", **options)``; a missing file, a folder or an unreadable file is one line naming it.

    Parameters
    ----------
    path : the file
    what : what the file should be, in the message for a folder (``"a feature cache file"``)
    options : passed to :class:`h5py.File` (``rdcc_nbytes``, say)

    Raises
    ------
    MirError
        ``<path>: no such file``, ``<path>: is a folder, not <what>`` or
        ``<path>: not a readable HDF5 file (<h5py's first line>)``.
    """
    path = Path(path)
    if not path.exists():
        raise MirError(f"{path}: no such file")
    if path.is_dir():
        raise MirError(f"{path}: is a folder, not {what}")
    try:
        return h5py.File(path, "r", **options)
    except OSError as error:
        first_line = str(error).splitlines()[0] if str(error) else repr(error)
        raise MirError(f"{path}: not a readable HDF5 file ({first_line})") from None


class LazyHDF5:
    """Base of a reader holding one HDF5 file, opened on first use in the current process.

    Subclasses open the file their own way in :meth:`_open` and drop per-process state (cached
    datasets, raw descriptors) in :meth:`_forget`.

    Parameters
    ----------
    path : path of the HDF5 file
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._file: h5py.File | None = None
        self._pid: int | None = None

    def _open(self) -> h5py.File:
        """The HDF5 file of this process (override to pass options or check the layout)."""
        return open_hdf5(self.path)

    def _forget(self) -> None:
        """Drop what belongs to one process's handle (override; called on reopen and close)."""

    def _release(self) -> None:
        """Close what this process opened beside the file (override; called on close in the owner process)."""

    @property
    def owns_handle(self) -> bool:
        """True when the open handle was opened by this process."""
        return self._file is not None and self._pid == os.getpid()

    @property
    def file(self) -> h5py.File:
        """The open file of this process (opened now when it is not)."""
        if self._file is None or self._pid != os.getpid():
            self._forget()
            self._file = self._open()
            self._pid = os.getpid()
        return self._file

    def close(self) -> None:
        """Close this process's handle (it reopens on next use); a handle inherited by fork is left alone."""
        if self._pid == os.getpid():
            self._release()
            if self._file is not None:
                self._file.close()
        self._file = None
        self._pid = None
        self._forget()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(_file=None, _pid=None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._forget()
