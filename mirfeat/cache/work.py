"""The unit of work of a cache build: one key, computed by a worker that reads its own audio.

A worker receives only a small :class:`KeyJob` (paths, key, the feature object, dtype): it
opens the audio store itself (once per process), computes the feature, writes the result as
a journal shard and returns a tiny status tuple.  No waveform or feature array crosses a
process boundary, so memory in the parent stays flat in the number of files.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mirfeat.cache.journal import write_shard, write_skip
from mirfeat.features.base import BadAudioError, Feature
from pyjama_tools.audio_store import AudioStore
from pyjama_tools.core.errors import MirError

DONE, SKIPPED, FAILED = "done", "skipped", "failed"
_FLOAT16_MAX = float(np.finfo(np.float16).max)


@dataclass(frozen=True)
class KeyJob:
    """Everything a worker needs to compute one key.

    Attributes
    ----------
    audio_path : str, the audio HDF5 store (read by the worker)
    key : str, the audio key
    feature : Feature, the configured feature (small, picklable)
    dtype : str, "float32" or "float16"
    shard_dir : str, the journal's shard folder (written by the worker)
    device : str or None, a torch device ("cuda", "cuda:1", "cpu") for the torch backend;
        None computes with the numpy/librosa backend
    """

    audio_path: str
    key: str
    feature: Feature
    dtype: str
    shard_dir: str
    device: str | None = None


@dataclass(frozen=True)
class KeyResult:
    """What a worker returns: the key, DONE / SKIPPED / FAILED and a one-line message."""

    key: str
    status: str
    message: str = ""


_STORES: dict[str, tuple[tuple[int, ...], AudioStore]] = {}
_THREADS_LIMITED = False


def _file_identity(path: str) -> tuple[int, ...]:
    """(device, inode, size, mtime in ns) of ``path``: changes when the file is replaced or rewritten."""
    try:
        stat = os.stat(path)
    except OSError as error:  # e.g. a Dask worker on a machine that does not see the path
        raise MirError(f"{path}: cannot read the audio store in worker process {os.getpid()} "
                       f"({error.strerror})") from None
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _store(path: str) -> AudioStore:
    """The audio store of this process (opened once per process and file).

    Pool workers (loky's reusable pool, a long-lived Dask cluster) outlive a build, so a store
    replaced at the same path (``pyjama-convert --overwrite`` renames a new file over it) must
    not be read through the handle on the old file: the handle is reopened when the file's
    identity changes (one ``stat`` per key).
    """
    identity = _file_identity(path)
    cached = _STORES.get(path)
    if cached is not None and cached[0] == identity:
        return cached[1]
    if cached is not None:
        cached[1].close()
    store = AudioStore(path)
    _STORES[path] = (identity, store)
    return store


def close_stores() -> None:
    """Close the audio stores this process opened (the serial backend calls it when done)."""
    while _STORES:
        _STORES.popitem()[1][1].close()


def limit_worker_threads() -> None:
    """Pin BLAS / OpenMP / torch to one thread in this worker process (once).

    The pool already runs one task per core; nested threads would oversubscribe them.
    """
    global _THREADS_LIMITED
    if _THREADS_LIMITED:
        return
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    _THREADS_LIMITED = True


#: how often a pool worker checks that the process that started it is alive, in seconds
PARENT_POLL_S = 0.5
_WATCHING: int | None = None  # the pid whose parent is being watched


def exit_with_parent() -> None:
    """In a pool worker: exit as soon as the process that started it is gone (once per process).

    A parent killed with ``kill -9`` cannot shut its pool down; loky's idle workers (hundreds of
    MB each) then lived on for more than a minute.  A daemon thread polls the parent pid every
    :data:`PARENT_POLL_S` seconds and ends the worker when the worker has been re-parented.
    """
    global _WATCHING
    if _WATCHING == os.getpid():
        return
    _WATCHING = os.getpid()
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def compute_key(job: KeyJob) -> KeyResult:
    """Compute one key and write its shard; bad audio is recorded as skipped.

    Returns
    -------
    KeyResult
        DONE, SKIPPED (bad audio: the feature raised BadAudioError) or FAILED (any other
        user-facing error, e.g. float16 overflow; the message is one line naming the key).
    """
    shard_dir = Path(job.shard_dir)
    try:
        store = _store(job.audio_path)
        audio = store.read(job.key)
        rate = store.sample_rate(job.key)
        result = job.feature.compute(audio, rate) if job.device is None else _compute_torch(job, audio, rate)
    except BadAudioError as error:
        write_skip(shard_dir, job.key, str(error))
        return KeyResult(job.key, SKIPPED, str(error))
    except MirError as error:
        return KeyResult(job.key, FAILED, f"key {job.key!r}: {error}")
    value = np.asarray(result.value)
    problem = _check_result(job, value, result.time_sec, result.frequency_hz)
    if problem:
        return KeyResult(job.key, FAILED, f"key {job.key!r}: {problem}")
    if job.dtype == "float16":
        peak = float(np.max(np.abs(value))) if value.size else 0.0
        if peak > _FLOAT16_MAX:
            return KeyResult(job.key, FAILED, f"key {job.key!r}: values up to {peak:.4g} overflow dtype float16 "
                                              f"(max {_FLOAT16_MAX:g}); use dtype float32")
    write_shard(shard_dir, job.key, value.astype(job.dtype, copy=False), result.time_sec, result.frequency_hz)
    return KeyResult(job.key, DONE)


def _compute_torch(job: KeyJob, audio: np.ndarray, rate: int):
    """The feature of one file with the torch backend on ``job.device``, back on the CPU as a FeatureValue."""
    from mirfeat.features.base import FeatureValue, check_audio

    feature = job.feature
    feature.check_sample_rate(rate)
    audio = check_audio(audio, feature.name, min_samples=feature.min_samples())
    value = feature.compute_torch(audio, rate, device=job.device)[0].float().cpu().numpy()
    time_sec, frequency_hz = feature.axes(audio.size, rate)
    return FeatureValue(value, time_sec, frequency_hz)


def compute_key_in_worker(job: KeyJob) -> KeyResult:
    """:func:`compute_key` in a pool worker: first pins the worker to one thread, ends it with its parent."""
    exit_with_parent()
    limit_worker_threads()
    return compute_key(job)


def check_rates(feature: Feature, rates: tuple[int, ...]) -> dict[int, str]:
    """``feature.check_sample_rate`` at each rate: rate → error message, for the rates that fail."""
    problems: dict[int, str] = {}
    for rate in rates:
        try:
            feature.check_sample_rate(rate)
        except MirError as error:
            problems[rate] = str(error)
    return problems


def warm_up(feature: Feature, rates: tuple[int, ...]) -> dict[int, str]:
    """Import and initialise what ``feature`` needs in this worker, and check the sample rates.

    Sent to each new pool worker before the real work: checks ``rates`` (the parent reads
    the result instead of paying the imports itself), then computes 1 s of a tone at the
    first valid rate (which builds and caches that rate's filters).  Any other error is
    ignored here (the real jobs report it).

    Returns
    -------
    dict
        rate → error message, for the rates the parameters cannot handle.
    """
    exit_with_parent()
    limit_worker_threads()
    problems = check_rates(feature, rates)
    valid = [rate for rate in rates if rate not in problems]
    if valid:
        rate = valid[0]
        tone = np.sin(2 * np.pi * 440.0 * np.arange(rate) / rate).astype(np.float32)
        try:
            feature.compute(tone, rate)
        except Exception:  # noqa: BLE001 - a warm-up must never fail the build
            pass
    return problems


def _check_result(job: KeyJob, value: np.ndarray, time_sec, frequency_hz) -> str:
    """A message when the feature broke its contract (shape (C, F, T) and matching axes), else ''."""
    name = job.feature.name
    if value.ndim != 3:
        return f"feature {name!r} returned shape {value.shape}, expected (C, F, T)"
    if np.shape(time_sec) != (value.shape[2],):
        return f"feature {name!r} returned {np.shape(time_sec)} times for {value.shape[2]} frames"
    if frequency_hz is not None and np.shape(frequency_hz) != (value.shape[1],):
        return f"feature {name!r} returned {np.shape(frequency_hz)} frequencies for {value.shape[1]} bins"
    return ""
