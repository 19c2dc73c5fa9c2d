"""The one-writer lock: a second holder is refused at once, a dead holder's lock is free again."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from pyjama_tools.core.locking import BusyError, lock_path, output_lock

HOLD = """
import sys, time
from pyjama_tools.core.locking import output_lock
with output_lock(sys.argv[1], "test"):
    print("held", flush=True)
    time.sleep(60)
"""


def _hold_in_child(path):
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    return child


def test_second_writer_refused_naming_output(tmp_path):
    out = tmp_path / "base.pyjama"
    child = _hold_in_child(out)
    try:
        start = time.monotonic()
        with pytest.raises(BusyError, match=r"base\.pyjama: another pyjama-convert is writing it"):
            with output_lock(out, "pyjama-convert"):
                pass
        assert time.monotonic() - start < 1.0
    finally:
        child.kill()
        child.wait()


def test_lock_of_killed_holder_is_free(tmp_path):
    out = tmp_path / "base.pyjama"
    child = _hold_in_child(out)
    child.kill()          # SIGKILL: no clean-up code runs, the kernel drops the lock
    child.wait()
    assert lock_path(out).exists()
    with output_lock(out, "pyjama-convert"):
        pass


def test_folder_lock_inside_folder(tmp_path):
    assert lock_path(tmp_path) == tmp_path / ".lock"
    with output_lock(tmp_path, "mirmodels fit") as held:
        assert held == tmp_path / ".lock"
