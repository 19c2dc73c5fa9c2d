"""Nothing lost by pyjama-convert: a failed, interrupted or killed run keeps the old pair; one writer.

A conversion stages its report, audio store and .pyjama beside the output and swaps them with the
old ones only when all are complete (:func:`pyjama_tools.core.atomic.atomic_group`); it holds the
output's lock (:func:`pyjama_tools.core.locking.output_lock`) for the whole run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner, Result

from pyjama_tools import pyjama
from pyjama_tools.core.atomic import atomic_group, finish_swap, partial_path, staging_path, swap_record_path
from pyjama_tools.audio_store import AudioStore
from pyjama_tools.cli import main
from pyjama_tools.core.locking import output_lock

CLI = [sys.executable, "-c", "from pyjama_tools.cli import main; main()"]


def make_folder_corpus(root: Path, labels=("rock", "jazz"), per_label=2, seconds=0.2, rate=22050,
                       prefix="f") -> Path:
    """``root/<label>/<prefix>NN.wav``: a tiny corpus for the ``folder`` converter."""
    rng = np.random.default_rng(len(prefix))
    for label in labels:
        (root / label).mkdir(parents=True, exist_ok=True)
        for index in range(per_label):
            audio = 0.1 * rng.standard_normal(int(seconds * rate)).astype(np.float32)
            soundfile.write(root / label / f"{prefix}{index:02d}.wav", audio, rate, subtype="PCM_16")
    return root


def snapshot(out: Path) -> dict[str, bytes]:
    """Every file of ``out`` but the (free) lock file, by name."""
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if not p.name.endswith(".lock")}


def pair_keys(out: Path, base: str = "folder") -> tuple[list[str], list[str]]:
    """(keys of the .pyjama, keys of the audio store) of the pair in ``out``."""
    doc = pyjama.load(out / f"{base}.pyjama")
    with AudioStore(out / f"{base}_audio.hdf5") as store:
        return sorted(doc.keys()), sorted(store.keys())


def invoke(*args) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def old_pair(tmp_path: Path) -> Path:
    """``tmp_path/out``: a complete pair converted from a good corpus."""
    out = tmp_path / "out"
    assert invoke("folder", make_folder_corpus(tmp_path / "good"), out, "--quiet").exit_code == 0
    return out


def test_failed_overwrite_keeps_the_old_pair(tmp_path: Path, old_pair: Path) -> None:
    before = snapshot(old_pair)
    bad = tmp_path / "allbad"
    (bad / "rock").mkdir(parents=True)
    for index in range(3):
        (bad / "rock" / f"b{index}.wav").write_bytes(b"RIFF not audio")
    result = invoke("folder", bad, old_pair, "--overwrite", "--quiet")
    assert result.exit_code == 1 and "no item could be converted" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert snapshot(old_pair) == before  # the old pair, byte for byte; no staged file, no report


def test_failed_strict_overwrite_keeps_the_old_pair(tmp_path: Path, old_pair: Path) -> None:
    before = snapshot(old_pair)
    corpus = make_folder_corpus(tmp_path / "mixed", prefix="m")
    (corpus / "rock" / "zz.wav").write_bytes(b"")  # decodes badly, found after the good files
    result = invoke("folder", corpus, old_pair, "--overwrite", "--strict", "--quiet")
    assert result.exit_code == 1 and "rock+++zz.wav" in result.output
    assert snapshot(old_pair) == before


def test_overwrite_replaces_the_pair_and_drops_the_old_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = make_folder_corpus(tmp_path / "first")
    (first / "rock" / "bad.wav").write_bytes(b"")
    assert invoke("folder", first, out, "--quiet").exit_code == 0
    assert (out / "folder_report.tsv").exists()
    second = make_folder_corpus(tmp_path / "second", prefix="s")
    assert invoke("folder", second, out, "--quiet", "--overwrite").exit_code == 0
    keys = [f"{label}+++s{i:02d}.wav" for label in ("jazz", "rock") for i in range(2)]
    assert pair_keys(out) == (keys, keys)
    assert sorted(snapshot(out)) == ["folder.pyjama", "folder_audio.hdf5"]  # the stale report is gone


def test_a_second_writer_is_refused_at_once(tmp_path: Path, old_pair: Path) -> None:
    before = snapshot(old_pair)
    corpus = make_folder_corpus(tmp_path / "new", prefix="n")
    with output_lock(old_pair / "folder.pyjama", "pyjama-convert"):  # another run holds the output
        start = time.monotonic()
        result = invoke("folder", corpus, old_pair, "--overwrite", "--quiet")
        assert time.monotonic() - start < 5
    assert result.exit_code == 1
    assert result.output.strip() == (f"error: {old_pair / 'folder.pyjama'}: another pyjama-convert is writing it "
                                     f"(lock {old_pair / '.folder.pyjama.lock'})")
    assert snapshot(old_pair) == before


def test_group_swap_killed_between_two_moves_is_completed_by_the_next_writer(tmp_path: Path, monkeypatch) -> None:
    files = [tmp_path / "a_audio.hdf5", tmp_path / "a.pyjama"]
    for path in files:
        path.write_text("old")
    real_replace = os.replace
    moved = []

    def die_after_one(source, target):
        if Path(target) in files:
            if moved:
                raise KeyboardInterrupt  # as if killed between the two renames
            moved.append(target)
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", die_after_one)
    with pytest.raises(KeyboardInterrupt):
        with atomic_group(files) as staged:
            for path in staged:
                path.write_text("new")
    monkeypatch.setattr(os, "replace", real_replace)
    # a mix on disk, but recorded: the next writer (or finish_swap) completes the swap
    assert [p.read_text() for p in files] == ["new", "old"] and swap_record_path(files).exists()
    assert finish_swap(files)
    assert [p.read_text() for p in files] == ["new", "new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pyjama", "a_audio.hdf5"]


def test_group_swap_error_keeps_every_old_file(tmp_path: Path) -> None:
    files = [tmp_path / "r.tsv", tmp_path / "a.pyjama"]
    for path in files:
        path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_group(files) as staged:
            staged[0].write_text("new")
            raise RuntimeError("failed")
    assert [p.read_text() for p in files] == ["old", "old"]
    assert not staging_path(files[0]).exists() and not swap_record_path(files).exists()


#: the CLI with decoding slowed down (50 ms a file), so that kills land while the pair is written
SLOW_CLI = [sys.executable, "-c", """
import time
from pyjama_tools import audio_store
real_decode = audio_store.decode
def slow_decode(*args, **kwargs):
    time.sleep(0.05)
    return real_decode(*args, **kwargs)
audio_store.decode = slow_decode
from pyjama_tools.cli import main
main()
"""]


@pytest.mark.slow
def test_kills_and_ctrl_c_at_random_moments_leave_the_old_or_the_new_pair(tmp_path: Path, old_pair: Path) -> None:
    old_keys = pair_keys(old_pair)
    corpus = make_folder_corpus(tmp_path / "big", labels=("a", "b", "c"), per_label=10, seconds=0.5, prefix="k")
    new_keys = sorted(f"{label}+++k{i:02d}.wav" for label in ("a", "b", "c") for i in range(10))
    args = [*SLOW_CLI, "folder", str(corpus), str(old_pair), "--overwrite", "--quiet"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).parents[2]),
                                                                     os.environ.get("PYTHONPATH")])))
    group = [old_pair / "folder_report.tsv", old_pair / "folder_audio.hdf5", old_pair / "folder.pyjama"]
    rng = random.Random(3)
    killed_while_writing = 0
    for attempt in range(9):  # SIGKILL twice, then SIGINT, and again
        process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   start_new_session=True)
        writing = partial_path(staging_path(old_pair / "folder_audio.hdf5"))
        deadline = time.monotonic() + 60
        while not writing.exists() and process.poll() is None:  # the new audio store is being written
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 2.0))  # writing 30 files takes about 1.5 s, then the swap
        if process.poll() is not None:  # finished before the kill: the new pair is complete
            _, err = process.communicate()
            assert process.returncode == 0, err
            assert pair_keys(old_pair) == (new_keys, new_keys)
            continue
        if attempt % 3 == 2:  # Ctrl-C: one line, exit 130, the staged files removed
            os.killpg(process.pid, signal.SIGINT)
            _, err = process.communicate()
            if process.returncode == 0:  # it finished as the signal came
                assert pair_keys(old_pair) == (new_keys, new_keys)
                continue
            assert (process.returncode, err) == (130, b"error: interrupted\n")
            assert not [p for p in old_pair.iterdir() if ".new" in p.name or ".swap" in p.name]
            assert pair_keys(old_pair) in (old_keys, (new_keys, new_keys))
            continue
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        killed_while_writing += any(p.name.startswith(".") and ".new" in p.name for p in old_pair.iterdir())
        finish_swap(group)  # what the next run does first
        assert pair_keys(old_pair) in (old_keys, (new_keys, new_keys))
    assert killed_while_writing >= 2  # the kills did land while the new pair was being written
    assert subprocess.run(args, env=env, capture_output=True).returncode == 0
    assert pair_keys(old_pair) == (new_keys, new_keys)
    assert sorted(snapshot(old_pair)) == ["folder.pyjama", "folder_audio.hdf5"]


def test_an_interrupted_synth_overwrite_keeps_the_old_pair(tmp_path: Path, monkeypatch) -> None:
    from pyjama_tools import synth

    out = tmp_path / "synth"
    synth.generate(out, synth.SynthParams(files=2, seconds_per_file=2))
    before = snapshot(out)
    real_render = synth._render_file
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_render(*args, **kwargs)

    monkeypatch.setattr(synth, "_render_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        synth.generate(out, synth.SynthParams(files=3, seconds_per_file=2, seed=1), overwrite=True)
    assert snapshot(out) == before  # was: the old .pyjama deleted first, the old audio orphaned
    with output_lock(out / "synth.pyjama", "pyjama-convert"):
        with pytest.raises(Exception, match="another pyjama-convert synth is writing it"):
            synth.generate(out, synth.SynthParams(files=2, seconds_per_file=2), overwrite=True)
