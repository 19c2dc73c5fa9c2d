"""One writer per output: an exclusive, non-blocking lock taken before anything is written.

Every command that writes an output (``pyjama-convert``, ``mirfeat cache``, ``mirmodels fit`` /
``predict``) holds :func:`output_lock` on it for the whole run.  A second run on the same output is
refused at once with one line naming the output and the lock file.  The lock is an OS file lock
(``flock`` through the ``filelock`` library), so the kernel releases it when the holder dies, even
on ``kill -9``: a stale lock file never blocks the next run.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Iterator

from filelock import FileLock, Timeout

from .errors import MirError


class BusyError(MirError):
    """Another live process is writing the same output."""


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file of ``path``: ``.NAME.lock`` in the same folder (a folder's lock sits inside it)."""
    path = Path(path)
    if path.is_dir():
        return path / ".lock"
    return path.with_name(f".{path.name}.lock")


@contextmanager
def output_lock(path: str | os.PathLike, command: str) -> Iterator[Path]:
    """Hold the exclusive lock of output ``path`` for the block; refuse at once if it is held.

    Parameters
    ----------
    path : path-like
        The output file or folder (its parent folder must exist).
    command : str
        The command's name, used in the message (e.g. ``"pyjama-convert"``).

    Raises
    ------
    BusyError
        ``"<path>: another <command> is writing it (lock <lock file>)"``.
    """
    lock_file = lock_path(path)
    lock = FileLock(lock_file, timeout=0, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        raise BusyError(f"{path}: another {command} is writing it (lock {lock_file})") from None
    try:
        yield lock_file
    finally:
        lock.release()
