"""Crash safety of ``mirfeat cache``: SIGKILL the CLI mid-run, rerun, get the uninterrupted result.

The CLI runs in a subprocess with a test feature ``slowlms`` (the real log-mel, 0.2 s slower
per file) so that the kill reliably lands while work is in flight; the reference (uninterrupted)
cache is made in this process with the same feature minus the sleep.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest
from test_cache import assert_same_cache, make_store

from mirfeat.cache import build_cache
from mirfeat.cache.journal import Journal, journal_dir
from mirfeat.features import base
from mirfeat.features.lms import LMS
from mirfeat.show import cache_info
from pyjama_tools.core.errors import MirError
from pyjama_tools.core.locking import BusyError

SLOW_FEATURE = '''
import time
from mirfeat.features.base import register_feature
from mirfeat.features.lms import LMS


@register_feature
class SlowLMS(LMS):
    name = "slowlms"

    def compute(self, audio, sr):
        time.sleep(0.2)
        return super().compute(audio, sr)
'''


def cli(tmp_path: Path, *args: str) -> subprocess.Popen:
    """Start ``mirfeat`` (with the slow test feature registered) in its own process group."""
    (tmp_path / "slowfeat.py").write_text(SLOW_FEATURE)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    code = "import slowfeat, sys; from mirfeat.cli import main; main()"
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def finish(process: subprocess.Popen, timeout: float = 120) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the CLI and its pool workers (a crash: nothing gets to clean up)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.communicate(timeout=30)


def shards(out: Path) -> list[Path]:
    return list((journal_dir(out) / "shards").glob("*.npz"))


class SameLMS(LMS):
    """In this process, ``slowlms`` without the sleep: same name, params and values, for the reference run."""

    name = "slowlms"


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch):
    """12 small files and the cache of an uninterrupted run (made in this process, serially)."""
    store = make_store(tmp_path / "twelve_audio.hdf5", count=12, seconds=1.0)
    reference = tmp_path / "reference.hdf5"
    with base.FEATURES.scoped():  # registered only for the duration of the test
        base.FEATURES.add("slowlms", SameLMS)
        assert build_cache(store, reference, "slowlms").computed == 12
        yield store, reference


def test_sigkill_then_rerun_equals_an_uninterrupted_run(tmp_path: Path, corpus) -> None:
    store, reference = corpus
    out = tmp_path / "killed.hdf5"
    args = ("cache", str(store), str(out), "--feature", "slowlms", "--quiet", "--jobs", "2")
    process = cli(tmp_path, *args)
    deadline = time.monotonic() + 60
    while len(shards(out)) < 3:
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    kill_group(process)
    # nothing looks complete: no output file, a journal with whole shards only
    assert not out.exists()
    done = len(shards(out))
    assert 3 <= done < 12
    with pytest.raises(MirError, match="an unfinished build is in .*rerun the same 'mirfeat cache' command"):
        cache_info(out)
    # what a kill in the middle of a write leaves: a half-written shard and a truncated assembly
    (journal_dir(out) / "shards" / "0123abcd.npz.999.tmp").write_bytes(b"PK\x03\x04half")
    (journal_dir(out) / "assembled.hdf5").write_bytes(reference.read_bytes()[:5000])

    code, text, err = finish(cli(tmp_path, *args))
    assert code == 0, err
    assert f"{12 - done} computed, {done} reused" in text
    assert_same_cache(out, reference)
    assert not journal_dir(out).exists()

    # the same build on the finished cache: a no-op that leaves the file untouched
    before = out.stat().st_mtime_ns
    assert build_cache(store, out, "slowlms").noop
    assert out.stat().st_mtime_ns == before


@pytest.mark.slow
def test_repeated_kills_at_random_moments(tmp_path: Path, corpus) -> None:
    store, reference = corpus
    out = tmp_path / "hammered.hdf5"
    args = ("cache", str(store), str(out), "--feature", "slowlms", "--quiet", "--jobs", "2")
    rng = random.Random(1)
    for _attempt in range(30):
        process = cli(tmp_path, *args)
        time.sleep(rng.uniform(0.5, 4.0))
        if process.poll() is not None:
            code, _, err = finish(process)
            assert code == 0, err
            break
        kill_group(process)
        if out.exists():  # killed after the final rename: it must already be whole
            assert_same_cache(out, reference)
    else:
        code, _, err = finish(cli(tmp_path, *args))
        assert code == 0, err
    assert_same_cache(out, reference)


def test_parameters_differing_from_an_unfinished_build_are_refused(tmp_path: Path) -> None:
    store = make_store(tmp_path / "toy_audio.hdf5", count=3)
    out = tmp_path / "toy.hdf5"
    journal = Journal(out)
    journal.create({"feature": "lms", "params": {"n_mels": 64}, "params_hash": "x", "dtype": "float32",
                    "source": {"file": store.name, "size": store.stat().st_size, "layout_sha1": "y"}})
    with pytest.raises(Exception, match="unfinished build with different settings.*--overwrite"):
        build_cache(store, out, "lms")
    report = build_cache(store, out, "lms", overwrite=True)
    assert report.computed == 3 and not journal_dir(out).exists()


def test_stale_journal_after_the_final_rename_is_dropped(tmp_path: Path) -> None:
    store = make_store(tmp_path / "toy_audio.hdf5", count=3)
    out = tmp_path / "toy.hdf5"
    build_cache(store, out, "lms")
    with h5py.File(out, "r") as handle:
        manifest = {name: handle.attrs[name] for name in ("feature", "params_hash", "dtype")}
        manifest["params"] = json.loads(handle.attrs["params"])
        manifest["source"] = json.loads(handle.attrs["source"])
    Journal(out).create(manifest)  # as if killed between the rename and the journal's removal
    before = out.stat().st_mtime_ns
    assert build_cache(store, out, "lms").noop
    assert out.stat().st_mtime_ns == before and not journal_dir(out).exists()


def test_a_second_concurrent_run_is_refused(tmp_path: Path) -> None:
    store = make_store(tmp_path / "toy_audio.hdf5", count=2)
    out = tmp_path / "toy.hdf5"
    holder = Journal(out)
    holder.lock()
    try:
        # the one lock helper of every writer: pyjama_tools.core.locking, ``.OUT.lock`` beside the output
        with pytest.raises(BusyError, match=r"toy\.hdf5: another mirfeat cache is writing it \(lock .*/\.toy\.hdf5\.lock\)"):
            build_cache(store, out, "lms")
    finally:
        holder.unlock()
    assert build_cache(store, out, "lms").computed == 2
