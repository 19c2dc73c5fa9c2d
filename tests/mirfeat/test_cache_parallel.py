"""Parallel cache builds equal the serial one: a joblib loky pool, and a Dask cluster.

The Dask test starts a ``distributed.LocalCluster(n_workers=2, threads_per_worker=1,
processes=True)`` and hands its address to ``build_cache(..., backend="dask", scheduler=...)``,
exactly as a user would with a remote ``tcp://`` scheduler.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mirfeat.cache import FeatureCache, build_cache
from test_cache import assert_same_cache, make_store

SR = 22050


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, Path]:
    """An audio store with 8 good files and one bad (NaN) file, and its serial HCQT cache."""
    root = tmp_path_factory.mktemp("parallel")
    nan = np.ones(SR, np.float32)
    nan[5] = np.nan
    store = make_store(root / "eight_audio.hdf5", count=8, seconds=1.0, extra={"bad+++nan.wav": nan})
    serial = root / "serial.hdf5"
    report = build_cache(store, serial, "hcqt", {"harmonics": "0.5,1,2", "n_octaves": 4}, jobs=1)
    assert report.computed == 8 and [k for k, _ in report.skipped] == ["bad+++nan.wav"]
    return store, serial


def test_loky_pool_equals_serial(corpus, tmp_path: Path) -> None:
    store, serial = corpus
    out = tmp_path / "loky.hdf5"
    report = build_cache(store, out, "hcqt", {"harmonics": "0.5,1,2", "n_octaves": 4}, jobs=2)
    assert report.computed == 8 and [k for k, _ in report.skipped] == ["bad+++nan.wav"]
    assert_same_cache(out, serial)


def test_loky_workers_check_the_sample_rates(tmp_path: Path) -> None:
    """With a pool, the prestarted workers check the rates; the error is the same one line."""
    import h5py

    from pyjama_tools.core.errors import ParameterError

    low = tmp_path / "low_audio.hdf5"
    with h5py.File(low, "w") as handle:
        handle.create_dataset("slow+++a.wav", data=np.zeros(8000, np.float32)).attrs["sr_hz"] = 8000
    with pytest.raises(ParameterError, match=r"key 'slow\+\+\+a.wav' at 8000 Hz: .*hcqt"):
        build_cache(low, tmp_path / "low.hdf5", "hcqt", jobs=2)
    assert not (tmp_path / "low.hdf5").exists()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_dask_local_cluster_equals_serial(corpus, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    store, serial = corpus
    out = tmp_path / "dask.hdf5"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        report = build_cache(store, out, "hcqt", {"harmonics": "0.5,1,2", "n_octaves": 4}, jobs=2,
                             backend="dask", scheduler=cluster.scheduler_address)
        # the workers really ran the work (they read the audio themselves)
        with distributed.Client(cluster) as client:
            assert len(client.scheduler_info()["workers"]) == 2
    assert report.computed == 8 and [k for k, _ in report.skipped] == ["bad+++nan.wav"]
    assert_same_cache(out, serial)
    assert len(FeatureCache(out).keys()) == 8


@pytest.mark.slow
def test_unreachable_scheduler_is_one_line(corpus, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    store, _ = corpus
    with pytest.raises(Exception, match=r"cannot reach the Dask scheduler 'tcp://127.0.0.1:9'"):
        build_cache(store, tmp_path / "x.hdf5", "lms", backend="dask", scheduler="tcp://127.0.0.1:9")


def test_joblib_parallel_still_works_after_a_parallel_build(tmp_path):
    """The cache's pool is joblib's process-wide one: a later joblib.Parallel in the same process must work."""
    import subprocess
    import sys

    script = f"""
import numpy as np, h5py
from joblib import Parallel, delayed
from mirfeat.cache import build_cache
with h5py.File({str(tmp_path / 'a_audio.hdf5')!r}, 'w') as f:
    for i in range(3):
        noise = np.random.default_rng(i).standard_normal(22050).astype('float32')
        f.create_dataset(f'k{{i}}.wav', data=noise).attrs['sr_hz'] = 22050
build_cache({str(tmp_path / 'a_audio.hdf5')!r}, {str(tmp_path / 'a_lms.hdf5')!r}, 'lms', jobs=2)
print(sum(Parallel(n_jobs=2)(delayed(abs)(-i) for i in range(4))))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("6")


def test_pool_workers_read_a_replaced_audio_store_afresh(tmp_path: Path) -> None:
    """The reusable pool outlives a build; a store replaced at the same path (a reconversion
    with --overwrite) must be read anew, not through the worker's handle on the old file."""
    import os

    store = make_store(tmp_path / "x_audio.hdf5", count=4, seconds=1.0)
    first = build_cache(store, tmp_path / "first.hdf5", "lms", jobs=2)
    assert first.computed == 4
    replacement = make_store(tmp_path / "new_audio.hdf5", count=4, seconds=1.0)
    import h5py

    with h5py.File(replacement, "a") as handle:  # same layout, other waveforms
        for key in handle:
            handle[key][...] = np.asarray(handle[key][()]) * 0.25
    os.replace(replacement, store)
    build_cache(store, tmp_path / "second.hdf5", "lms", jobs=2)
    build_cache(store, tmp_path / "serial.hdf5", "lms", jobs=1)
    assert_same_cache(tmp_path / "second.hdf5", tmp_path / "serial.hdf5")


def test_a_worker_that_cannot_see_the_store_names_file_and_key(tmp_path: Path) -> None:
    """A worker without the audio store (a Dask worker on another machine) fails with one line."""
    from mirfeat.cache.work import FAILED, KeyJob, compute_key
    from mirfeat.features import build_feature

    job = KeyJob(str(tmp_path / "elsewhere_audio.hdf5"), "a+++b.wav", build_feature("lms"), "float32", str(tmp_path))
    result = compute_key(job)
    assert result.status == FAILED
    assert "key 'a+++b.wav'" in result.message and "elsewhere_audio.hdf5" in result.message
    assert "\n" not in result.message


def test_a_worker_that_dies_is_one_line_and_the_build_resumes(tmp_path: Path, monkeypatch) -> None:
    """A pool worker killed mid-file (out of memory, a crash in native code) is a MirError that
    says so; the journal stays, and the rerun finishes the build."""

    from mirfeat.features import base

    store = make_store(tmp_path / "x_audio.hdf5", count=4, seconds=1.0)
    out = tmp_path / "x_lms.hdf5"
    with base.FEATURES.scoped():  # registered only for the duration of the test
        base.FEATURES.add("dyinglms", DyingLMS)
        _die_then_resume(store, out)


def _die_then_resume(store: Path, out: Path) -> None:
    from mirfeat.cache.journal import journal_dir
    from pyjama_tools.core.errors import MirError

    try:
        DYING_FLAG.touch()
        with pytest.raises(MirError, match=r"worker process died.*rerun the same command to resume") as error:
            build_cache(store, out, "dyinglms", jobs=2)
        assert "\n" not in str(error.value)
        assert not out.exists() and journal_dir(out).exists()
        DYING_FLAG.unlink()
        report = build_cache(store, out, "dyinglms", jobs=2)
        assert report.computed + report.reused == 4
        assert not journal_dir(out).exists()
    finally:
        DYING_FLAG.unlink(missing_ok=True)


import os  # noqa: E402
import tempfile  # noqa: E402

from mirfeat.features.lms import LMS as _LMS  # noqa: E402

#: While this file exists, DyingLMS kills the pool worker computing the third file (the
#: workers are children of this process, hence its pid in the name).
DYING_FLAG = Path(tempfile.gettempdir()) / f"mir101-dying-lms-{os.getpid()}"


class DyingLMS(_LMS):
    """The log-mel, except that the third file of the test store kills the process (while DYING_FLAG exists)."""

    name = "dyinglms"

    def compute(self, audio, sr):
        flag = Path(tempfile.gettempdir()) / f"mir101-dying-lms-{os.getppid()}"
        if audio.size == int(1.2 * sr) and flag.exists():  # the third file (1.0 + 0.1 * 2 s)
            os._exit(3)
        return super().compute(audio, sr)
