"""The crash-safe journal of a cache build: one shard file per finished key.

Why a journal and not the HDF5 file itself: an HDF5 file being written when the process
is killed (``kill -9``, out of memory, power cut) can be left unreadable, losing every key
already written.  So the workers write each key to its own small ``.npz`` shard under a
temporary name and rename it (atomic on POSIX): a shard is either whole or absent.  The
cache file is assembled from the shards under a temporary name and renamed over ``OUT``
only when every key is in; the journal is deleted after that.  A run killed at any moment
therefore loses at most the keys being computed, and the rerun recomputes only those.

Folder ``.<OUT name>.partial/`` beside the output::

    manifest.json          what is being built (feature, params, hash, dtype, source); atomic
    shards/<id>.npz        value, time_sec, [frequency_hz], key        one per finished key
    shards/<id>.skip.json  {"key", "message"}                          one per bad-audio key
    assembled.hdf5         the cache being assembled (never trusted after a crash: rebuilt)

``<id>`` is a hash of the key, so keys with any characters map to safe file names.  The running
build holds the output's lock (:func:`pyjama_tools.core.locking.output_lock`, ``.<OUT name>.lock``
beside it; released by the kernel on ``kill -9``), so a second build of the same output is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pyjama_tools.core.atomic import partial_path
from pyjama_tools.core.locking import output_lock

MANIFEST = "manifest.json"
SHARDS = "shards"
ASSEMBLED = "assembled.hdf5"


def journal_dir(out_path: str | os.PathLike) -> Path:
    """The journal folder of cache ``out_path`` (hidden, beside it)."""
    return partial_path(out_path)


def shard_id(key: str) -> str:
    """File-name-safe id of a key (first 20 hex digits of its SHA-1)."""
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]


def _atomic_write_bytes(path: Path, write) -> None:
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it to ``path``."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Shard:
    """One key's result read back from the journal."""

    key: str
    value: np.ndarray
    time_sec: np.ndarray
    frequency_hz: np.ndarray | None


def write_shard(shard_dir: Path, key: str, value: np.ndarray, time_sec: np.ndarray,
                frequency_hz: np.ndarray | None) -> Path:
    """Write one key's result atomically as ``<id>.npz`` (uncompressed) in ``shard_dir``."""
    arrays = {"value": value, "time_sec": np.asarray(time_sec, dtype=np.float64), "key": np.array(key)}
    if frequency_hz is not None:
        arrays["frequency_hz"] = np.asarray(frequency_hz, dtype=np.float64)
    path = shard_dir / f"{shard_id(key)}.npz"
    _atomic_write_bytes(path, lambda handle: np.savez(handle, **arrays))
    return path


def write_skip(shard_dir: Path, key: str, message: str) -> Path:
    """Record atomically that ``key`` was skipped (bad audio) and why."""
    path = shard_dir / f"{shard_id(key)}.skip.json"
    payload = json.dumps({"key": key, "message": message}).encode()
    _atomic_write_bytes(path, lambda handle: handle.write(payload))
    return path


def read_shard(path: Path) -> Shard:
    """Load a shard written by :func:`write_shard`."""
    with np.load(path, allow_pickle=False) as data:
        frequency = data["frequency_hz"] if "frequency_hz" in data.files else None
        return Shard(str(data["key"]), data["value"], data["time_sec"], frequency)


class Journal:
    """The journal folder of one cache build (see the module docstring).

    Parameters
    ----------
    out_path : the cache file being built
    """

    def __init__(self, out_path: str | os.PathLike):
        self.out_path = Path(out_path)
        self.root = journal_dir(self.out_path)
        self.shard_dir = self.root / SHARDS
        self.assembled = self.root / ASSEMBLED
        self._lock_handle = None

    def exists(self) -> bool:
        """Whether a journal (from an unfinished run) is present."""
        return (self.root / MANIFEST).exists()

    def manifest(self) -> dict[str, Any] | None:
        """The manifest of an existing journal, or None (absent or unreadable)."""
        try:
            return json.loads((self.root / MANIFEST).read_text())
        except (OSError, ValueError):
            return None

    def create(self, manifest: dict[str, Any]) -> None:
        """Start a fresh journal with ``manifest`` (drops any previous shards; keeps the lock file).

        The old manifest goes first and the new one is written last, so a kill in between
        leaves a journal without manifest, which the next run simply starts afresh.
        """
        (self.root / MANIFEST).unlink(missing_ok=True)
        if self.shard_dir.exists():
            shutil.rmtree(self.shard_dir)
        self.assembled.unlink(missing_ok=True)
        self.shard_dir.mkdir(parents=True)
        payload = json.dumps(manifest, sort_keys=True).encode()
        _atomic_write_bytes(self.root / MANIFEST, lambda handle: handle.write(payload))

    def lock(self) -> None:
        """Take the output's exclusive lock; another live build of the same output is an error.

        Raises
        ------
        pyjama_tools.core.locking.BusyError
            ``"OUT: another mirfeat cache is writing it (lock ...)"``.
        """
        held = ExitStack()
        held.enter_context(output_lock(self.out_path, "mirfeat cache"))
        self._lock_handle = held

    def unlock(self) -> None:
        """Release the lock (also released by the kernel if the process dies)."""
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None

    def clean_temporaries(self) -> None:
        """Delete what a killed run may have left half-written: ``*.tmp`` files and the assembly."""
        if self.shard_dir.exists():
            for path in self.shard_dir.glob("*.tmp"):
                path.unlink(missing_ok=True)
        for path in self.root.glob("*.tmp"):
            path.unlink(missing_ok=True)
        self.assembled.unlink(missing_ok=True)

    def done(self) -> dict[str, Path]:
        """Key → shard path of every finished key (reads the key stored in each shard)."""
        found: dict[str, Path] = {}
        for path in sorted(self.shard_dir.glob("*.npz")):
            try:
                with np.load(path, allow_pickle=False) as data:
                    found[str(data["key"])] = path
            except Exception:  # a shard that cannot be read is redone (cannot happen with atomic renames)
                path.unlink(missing_ok=True)
        return found

    def skipped(self) -> dict[str, str]:
        """Key → reason of every key recorded as skipped."""
        found: dict[str, str] = {}
        for path in sorted(self.shard_dir.glob("*.skip.json")):
            try:
                record = json.loads(path.read_text())
                found[str(record["key"])] = str(record["message"])
            except (OSError, ValueError, KeyError):
                path.unlink(missing_ok=True)
        return found

    def remove(self) -> None:
        """Delete the journal folder."""
        if self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)
