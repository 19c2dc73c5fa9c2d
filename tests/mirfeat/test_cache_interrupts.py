"""Ctrl-C and kill -9 of ``mirfeat cache --jobs 2``: one line, no stray traceback, no orphan workers.

The CLI runs in a subprocess with the slow test feature of :mod:`test_cache_resume`, so that the
signal lands while the loky workers are busy.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest
from test_cache import assert_same_cache
from test_cache_resume import cli, corpus, finish, shards  # noqa: F401  (corpus is a fixture)

from pyjama_tools.core.locking import lock_path


def children(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for_shards(process, out: Path, count: int) -> None:
    deadline = time.monotonic() + 60
    while len(shards(out)) < count:
        assert process.poll() is None, "the run ended before the signal"
        assert time.monotonic() < deadline
        time.sleep(0.01)


pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")


def test_kill_9_of_the_parent_ends_its_pool_workers(tmp_path: Path, corpus) -> None:  # noqa: F811
    store, _ = corpus
    out = tmp_path / "killed.hdf5"
    process = cli(tmp_path, "cache", str(store), str(out), "--feature", "slowlms", "--quiet", "--jobs", "2")
    wait_for_shards(process, out, 2)
    workers = [pid for pid in children(process.pid) if "loky" in Path(f"/proc/{pid}/cmdline").read_text()]
    assert len(workers) >= 2
    os.kill(process.pid, signal.SIGKILL)  # the parent only, as `kill -9 PID` does
    process.communicate(timeout=30)
    deadline = time.monotonic() + 10  # the workers poll their parent every 0.5 s
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in workers if alive(pid)]
    for pid in left:  # never leave them behind, even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert left == [], "pool workers outlived their killed parent"


def test_ctrl_c_at_random_moments_is_one_line(tmp_path: Path, corpus) -> None:  # noqa: F811
    """From the moment the build holds its output (workers starting, warming up, computing)."""
    store, _ = corpus
    out = tmp_path / "interrupted.hdf5"
    args = ("cache", str(store), str(out), "--feature", "slowlms", "--quiet", "--jobs", "2")
    rng = random.Random(0)
    for _attempt in range(3):
        process = cli(tmp_path, *args)
        deadline = time.monotonic() + 60
        while not lock_path(out).exists():  # the parent is in build_cache, about to start its pool
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 1.5))
        os.killpg(process.pid, signal.SIGINT)  # a terminal's Ctrl-C signals the whole process group
        code, _, err = finish(process, timeout=60)
        assert (code, err) == (130, "error: interrupted\n")  # no worker's KeyboardInterrupt traceback
        assert not out.exists()  # resuming from the journal is tested in test_cache_resume
        lock_path(out).unlink()


def test_ctrl_c_as_the_command_ends_is_no_traceback_and_not_exit_0(tmp_path: Path, corpus) -> None:  # noqa: F811
    store, reference = corpus
    out = tmp_path / "ending.hdf5"
    process = cli(tmp_path, "cache", str(store), str(out), "--feature", "slowlms", "--quiet", "--jobs", "2")
    line = process.stdout.readline()  # the result line: the pool is shutting down now
    os.killpg(process.pid, signal.SIGINT)
    code, _, err = finish(process, timeout=60)
    assert line.startswith(f"{out}: 12 computed")
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert code != 0
    assert_same_cache(out, reference)  # complete: the signal came after the final rename
