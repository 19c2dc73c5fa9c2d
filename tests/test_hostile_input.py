"""Hostile or odd input to pyjama-convert, the audio store and mirfeat: refused or reported in one line.

Each case once ended in a traceback, a hang, a silent drop or a wrong value (issue 10, items 9-11, 16).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile
from click.testing import CliRunner
from test_cache import make_store

from mirfeat.cache import FeatureCache, build_cache
from mirfeat.cli import main as mirfeat_main
from mirfeat.patches import PatchDataset
from pyjama_tools import pyjama
from pyjama_tools.audio_store import AudioStore
from pyjama_tools.cli import main as convert_main
from pyjama_tools.core.errors import ParameterError


def one_line_error(result) -> str:
    """The single stderr line of a failed command (asserting there is only that, and no traceback)."""
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def write_wav(path: Path, seconds: float = 0.2, rate: int = 22050) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    soundfile.write(path, 0.1 * rng.standard_normal(max(1, int(seconds * rate))).astype(np.float32), rate)
    return path


# ----------------------------------------------------------------------------- deep documents


@pytest.mark.parametrize("command", ["validate", "info"])
def test_a_200k_deep_pyjama_is_one_line(tmp_path: Path, command: str) -> None:
    path = tmp_path / "deep.pyjama"
    depth = 200_000
    path.write_text('{"schemaversion": 1.31, "collection": {"entry": [{"x": ' + "[" * depth + "]" * depth + "}]}}")
    line = one_line_error(CliRunner().invoke(convert_main, [command, str(path)]))
    assert line == f"error: {path}: JSON nested too deeply to be a pyjama document"


# ----------------------------------------------------------------------------- audio stores


def _store_with(path: Path, data, rate) -> Path:
    with h5py.File(path, "w") as store:
        dataset = store.create_dataset("a.wav", data=data)
        dataset.attrs["sr_hz"] = rate
    return path


@pytest.mark.parametrize("data, rate, message", [
    (np.zeros(22050, np.float32), np.nan, "key 'a.wav': attribute 'sr_hz' is nan, not a sample rate in Hz"),
    (np.zeros(22050, np.float32), "fast", "key 'a.wav': attribute 'sr_hz' is 'fast', not a sample rate in Hz"),
    (np.zeros(22050, np.float32), 0, "key 'a.wav': attribute 'sr_hz' is 0, not a sample rate in Hz"),
    ("hello", 22050, "'a.wav' is not an audio waveform (dtype object, shape ()"),
], ids=["nan", "string", "zero", "scalar-string"])
def test_a_bad_audio_store_is_one_line_in_mirfeat_cache(tmp_path: Path, data, rate, message) -> None:
    store = _store_with(tmp_path / "bad_audio.hdf5", data, rate)
    result = CliRunner().invoke(mirfeat_main, ["cache", str(store), str(tmp_path / "c.hdf5"), "--feature", "lms",
                                               "--quiet"])
    line = one_line_error(result)
    assert line.startswith(f"error: {store}: {message}")
    assert not (tmp_path / "c.hdf5").exists()


def test_int16_audio_is_scaled_like_pcm(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    pcm = (rng.standard_normal(22050 * 2) * 3000).clip(-32768, 32767).astype(np.int16)
    ints = _store_with(tmp_path / "int_audio.hdf5", pcm, 22050)
    floats = _store_with(tmp_path / "float_audio.hdf5", pcm.astype(np.float32) / 32768, 22050)
    with AudioStore(ints) as store:
        audio = store.read("a.wav")
        assert audio.dtype == np.float32 and np.abs(audio).max() < 1
        np.testing.assert_array_equal(audio, pcm.astype(np.float32) / 32768)
        np.testing.assert_array_equal(store.read("a.wav", 10, 20), audio[10:20])
    build_cache(ints, tmp_path / "int.hdf5", "lms")
    build_cache(floats, tmp_path / "float.hdf5", "lms")
    np.testing.assert_allclose(FeatureCache(tmp_path / "int.hdf5").read("a.wav"),
                               FeatureCache(tmp_path / "float.hdf5").read("a.wav"), rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- pyjama-convert


@pytest.mark.parametrize("rate", ["99999999999", "999"])
def test_an_impossible_target_rate_is_one_line(tmp_path: Path, rate: str) -> None:
    write_wav(tmp_path / "src" / "rock" / "a.wav")
    line = one_line_error(CliRunner().invoke(convert_main, ["folder", str(tmp_path / "src"), str(tmp_path / "out"),
                                                            "--sr", rate]))
    assert line == f"error: --sr {rate} Hz: expected 1000 to 384000 Hz"


def test_a_1_hz_wav_is_reported_not_upsampled(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_wav(src / "rock" / "a.wav")
    soundfile.write(src / "rock" / "onehz.wav", np.zeros(4000, np.float32), 1)  # was resampled to 88 M samples
    result = CliRunner().invoke(convert_main, ["folder", str(src), str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 0, result.output
    report = (tmp_path / "out" / "folder_report.tsv").read_text().splitlines()
    assert report[1].startswith("rock+++onehz.wav\t") and "sample rate 1 Hz is not audio" in report[1]
    assert (tmp_path / "out" / "folder_audio.hdf5").stat().st_size < 1_000_000
    assert pyjama.load(tmp_path / "out" / "folder.pyjama").keys() == ["rock+++a.wav"]


def test_undecodable_file_names_and_dangling_links_are_reported(tmp_path: Path) -> None:
    src = tmp_path / "src"
    good = write_wav(src / "rock" / "ok.wav")
    os.makedirs(os.fsencode(src / "j") + b"\xe9zz")
    shutil.copy(good, os.fsencode(src / "rock" / "caf") + b"\xe9.wav")  # Latin-1 bytes: not UTF-8
    shutil.copy(good, os.fsencode(src / "j") + b"\xe9zz/x.wav")
    os.symlink(tmp_path / "gone.wav", src / "rock" / "dangling.wav")
    result = CliRunner().invoke(convert_main, ["folder", str(src), str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "skipped 3 bad input(s)" in result.output
    rows = sorted((tmp_path / "out" / "folder_report.tsv").read_text(encoding="utf-8").splitlines()[1:])
    assert rows == sorted([
        f"{src}/rock/caf\\xe9.wav\tfile name is not UTF-8 text (rename the file)",
        f"{src}/j\\xe9zz/x.wav\tfile name is not UTF-8 text (rename the file)",
        f"{src}/rock/dangling.wav\tbroken symbolic link (its target {tmp_path / 'gone.wav'} does not exist)",
    ])
    assert pyjama.load(tmp_path / "out" / "folder.pyjama").keys() == ["rock+++ok.wav"]
    # with --strict the first is one line, and nothing is written
    line = one_line_error(CliRunner().invoke(convert_main, ["folder", str(src), str(tmp_path / "strict"), "--strict"]))
    assert "dangling.wav: broken symbolic link" in line and not (tmp_path / "strict").exists()


# ----------------------------------------------------------------------------- mirfeat datasets


def test_patch_dataset_refuses_one_string_for_its_key_list(tmp_path: Path) -> None:
    store = make_store(tmp_path / "toy_audio.hdf5", count=1)
    cache = build_cache(store, tmp_path / "toy.hdf5", "lms").path
    key = FeatureCache(cache).keys()[0]
    with pytest.raises(ParameterError, match=r"keys='genre0\+\+\+clip 00\.wav': a list of keys is expected, "
                                             r"not one string \(write \['genre0"):
        PatchDataset(cache, key, None, patch_length=8, patch_hop=8)
    with pytest.raises(Exception, match=r"duplicate keys given \('genre0\+\+\+clip 00\.wav' more than once\)"):
        PatchDataset(cache, [key, key], None, patch_length=8, patch_hop=8)
    assert len(PatchDataset(cache, [key], None, patch_length=8, patch_hop=8)) > 0


# ----------------------------------------------------------------------------- mirmodels summary


def test_summary_of_a_huge_input_shape_is_one_line() -> None:
    from conftest import fixture_path

    from mirmodels.cli import main as mirmodels_main

    config = fixture_path("tutorial", "config_bittner.yaml")
    result = CliRunner().invoke(mirmodels_main, ["summary", str(config), "--input-shape", "6,100000,100000"])
    assert one_line_error(result) == ("error: --input-shape '6,100000,100000': 60,000,000,000 values per example "
                                      "(223.5 GiB as float32); at most 134,217,728")
