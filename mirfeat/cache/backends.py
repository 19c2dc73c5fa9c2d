"""Execution backends of a cache build, registered by name.

Each backend maps :func:`mirfeat.cache.work.compute_key_in_worker` over a list of
:class:`~mirfeat.cache.work.KeyJob` and yields the small :class:`KeyResult` of each job as it
finishes (any order).  Workers read their audio and write their shards themselves, so a
backend only moves job descriptions and status tuples.

- ``serial``: in this process (used for ``jobs=1``), one BLAS thread.
- ``loky``: joblib's loky process pool (reusable, prestarted while the parent checks its
  inputs), a bounded window of tasks in flight, results streamed to the writer in the parent
  as soon as each file is done.
- ``dask``: a Dask cluster: the scheduler at ``scheduler`` (``tcp://host:port``), or a local
  cluster of ``jobs`` single-threaded worker processes started for the run.  Submission is
  windowed (at most a few tasks per worker in flight) so the parent's memory stays flat.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from itertools import islice
from collections.abc import Callable, Iterator

from mirfeat.cache.work import KeyJob, KeyResult, close_stores, compute_key, compute_key_in_worker, warm_up
from pyjama_tools.core.errors import MirError
from pyjama_tools.core.registry import Registry

Backend = Callable[[list[KeyJob], int, "str | None"], Iterator[KeyResult]]
#: the backends by name (``serial``, ``loky``, ``dask``)
BACKENDS: Registry[Backend] = Registry("backend")


def register_backend(name: str) -> Callable[[Backend], Backend]:
    """Decorator: register a backend function under ``name``."""
    return BACKENDS.register(name)


def get_backend(name: str) -> Backend:
    """The backend called ``name``; unknown names list the known ones."""
    return BACKENDS.lookup(name)


@register_backend("serial")
def run_serial(jobs: list[KeyJob], n_jobs: int = 1, scheduler: str | None = None) -> Iterator[KeyResult]:
    """Compute every job in this process, BLAS/OpenMP pinned to one thread meanwhile."""
    from threadpoolctl import threadpool_limits

    try:
        for job in jobs:
            with threadpool_limits(1):
                result = compute_key(job)
            yield result
    finally:
        close_stores()  # the parent process must not keep the audio store open


@contextmanager
def _workers_deaf_to_ctrl_c() -> Iterator[None]:
    """Block SIGINT in this thread while pool workers may be started, so they start with it blocked.

    Ctrl-C in a terminal signals the whole process group: each worker then printed its own
    ``KeyboardInterrupt`` traceback.  A blocked signal stays blocked across fork and exec, so
    the workers never see it; the parent gets a Ctrl-C pressed meanwhile as soon as the block
    ends (it is held pending, not lost), stops the build and shuts the pool down.
    """
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    import multiprocessing.resource_tracker

    from joblib.externals.loky.backend import resource_tracker

    # loky's tracker warns of the semaphores it cleans up after a Ctrl-C: lines after the error line
    quiet = "ignore:resource_tracker:UserWarning"
    if quiet not in os.environ.get("PYTHONWARNINGS", ""):
        os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), quiet]))
    # both resource trackers first: starting one unblocks SIGINT in this thread (Python < 3.14)
    resource_tracker.ensure_running()
    multiprocessing.resource_tracker.ensure_running()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _loky_executor(n_jobs: int):
    """joblib's reusable loky process pool (kept alive 300 s between builds).

    Taken through joblib's own factory, not ``loky.get_reusable_executor``: the pool is the
    process-wide one that ``joblib.Parallel`` reuses too, and joblib expects it to carry its
    temporary-folder manager (a bare loky pool made any later ``Parallel(n_jobs>1)`` in the same
    process fail with an AttributeError).
    """
    from joblib.executor import get_memmapping_executor

    return get_memmapping_executor(n_jobs, timeout=300)


def stop_workers() -> None:
    """Kill the loky pool's workers and wait for its manager thread (after Ctrl-C, or at a CLI's end).

    Left to the interpreter's exit, the pool first ran every task still queued (20 s for 12
    small files after a Ctrl-C), and a Ctrl-C during that wait was a loky traceback with exit
    status 0.  A worker killed in the middle of a shard leaves only a temporary file, never a
    shard, so the next run redoes just that file.
    """
    from joblib.externals.loky.reusable_executor import _executor

    if _executor is not None:
        _executor.shutdown(wait=True, kill_workers=True)


def worker_died(error: BaseException) -> MirError:
    """The one-line error for a pool worker that died (killed for memory, a crash in native code)."""
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    return MirError(f"a worker process died while computing a file ({first}); it may have run out of "
                    f"memory: try fewer --jobs, then rerun the same command to resume")


def prestart(backend: str, n_jobs: int, feature, rates: tuple[int, ...]) -> list:
    """Start (and warm) the worker processes now, so that their start overlaps the parent's work.

    A cold worker spends seconds importing librosa / scipy / numba and designing filters before
    its first file; :func:`~mirfeat.cache.work.warm_up` does that first, and also checks the
    sample rates, so the parent need not import any of it.  Only the local ``loky`` pool is
    prestarted (a Dask cluster is already running).

    Returns
    -------
    list of futures
        Each resolves to ``{rate: error message}`` (empty when every rate is fine); an empty
        list when nothing was prestarted (then the caller checks the rates itself).
    """
    if backend != "loky" or n_jobs < 2:
        return []
    with _workers_deaf_to_ctrl_c():
        executor = _loky_executor(n_jobs)
        return [executor.submit(warm_up, feature, rates) for _ in range(n_jobs)]


@register_backend("loky")
def run_loky(jobs: list[KeyJob], n_jobs: int = 2, scheduler: str | None = None) -> Iterator[KeyResult]:
    """joblib's loky pool of ``n_jobs`` processes; at most 2 × n_jobs tasks in flight, results as they finish.

    The pool is used through ``joblib.externals.loky`` rather than ``joblib.Parallel`` so that
    :func:`prestart` and the build share one executor (``Parallel`` would start its own).
    """
    if n_jobs == 1:
        yield from run_serial(jobs)
        return
    from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, wait

    pending = iter(jobs)
    with _workers_deaf_to_ctrl_c():
        executor = _loky_executor(n_jobs)
        in_flight = {executor.submit(compute_key_in_worker, job) for job in islice(pending, 2 * n_jobs)}
    try:
        while in_flight:
            finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in finished:
                following = next(pending, None)
                if following is not None:
                    in_flight.add(executor.submit(compute_key_in_worker, following))
                try:
                    result = future.result()
                except BrokenExecutor as error:
                    raise worker_died(error) from None
                yield result
    finally:
        for future in in_flight:
            future.cancel()


@register_backend("dask")
def run_dask(jobs: list[KeyJob], n_jobs: int = 2, scheduler: str | None = None) -> Iterator[KeyResult]:
    """The same work on a Dask cluster (``scheduler`` address, else a local cluster of ``n_jobs`` processes)."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
        from distributed.scheduler import KilledWorker
    except ImportError:  # pragma: no cover - dask is an optional dependency
        raise MirError("backend 'dask' needs dask[distributed] (pip install 'mir101[dask]')") from None
    cluster = None
    try:
        if scheduler:
            try:
                client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError) as error:
                raise MirError(f"cannot reach the Dask scheduler {scheduler!r} ({error})") from None
        else:
            cluster = LocalCluster(n_workers=n_jobs, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            client = Client(cluster)
        with client:
            workers = max(1, len(client.scheduler_info().get("workers", {})) or n_jobs)
            window = 2 * workers
            pending = iter(jobs)
            first = [client.submit(compute_key_in_worker, job, pure=False) for job in islice(pending, window)]
            finished = as_completed(first)
            for future in finished:
                try:
                    result = future.result()
                except KilledWorker as error:
                    raise worker_died(error) from None
                future.release()
                following = next(pending, None)
                if following is not None:
                    finished.add(client.submit(compute_key_in_worker, following, pure=False))
                yield result
    finally:
        if cluster is not None:
            cluster.close()
