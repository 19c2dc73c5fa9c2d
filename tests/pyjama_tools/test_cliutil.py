"""The three CLIs report usage mistakes and user errors as one line (no usage block, no traceback)."""

from __future__ import annotations

import subprocess
import sys

import pytest

ENTRY_POINTS = {"pyjama-convert": "pyjama_tools.cli", "mirfeat": "mirfeat.cli", "mirmodels": "mirmodels.cli"}


def run(program: str, *args: str) -> subprocess.CompletedProcess:
    code = f"import sys; sys.argv[0] = {program!r}; from {ENTRY_POINTS[program]} import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("program, args, expected", [
    ("mirmodels", ["summary"], "error: mirmodels summary: Missing argument 'CONFIG'."),
    ("mirfeat", ["cache", "a.hdf5"], "error: mirfeat cache: Missing argument 'OUT'."),
    ("mirfeat", ["nope"], "error: mirfeat: No such command 'nope'."),
    ("pyjama-convert", ["da-tacos", "a", "b", "--feature", "chords"],
     "error: pyjama-convert da-tacos: Invalid value for '--feature': 'chords' is not one of"),
    ("mirfeat", ["info", "a.hdf5", "--bogus"], "error: mirfeat info: No such option '--bogus'"),
])
def test_usage_mistakes_are_one_line_exit_2(program, args, expected):
    result = run(program, *args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), result.stderr
    assert f"(see {program}" in lines[0]


def test_user_error_is_one_line_exit_1(tmp_path):
    result = run("mirfeat", "info", str(tmp_path / "missing.hdf5"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "missing.hdf5" in lines[0], result.stderr
