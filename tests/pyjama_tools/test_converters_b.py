"""bach10, musdb18, da-tacos, jams together: registry and CLI, duplicate keys, overwrite, info.

Each corpus has its own detailed tests in ``test_converters_<name>.py``; this module checks what
they share through the ``pyjama-convert`` command line.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from pyjama_tools import pyjama
from pyjama_tools.cli import main
from pyjama_tools.convert import convert
from pyjama_tools.converters import load_all

CORPORA = ("bach10", "musdb18", "da-tacos", "jams")


def test_registered_and_listed():
    registry = load_all()
    assert set(CORPORA) <= set(registry)
    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 0
    listed = {line.split()[0] for line in result.output.splitlines()}
    assert set(CORPORA) <= listed


@pytest.mark.parametrize("corpus, option", [("bach10", None), ("musdb18", "--stereo"), ("da-tacos", "--subset"),
                                            ("jams", None)])
def test_help(corpus, option):
    result = CliRunner().invoke(main, [corpus, "--help"])
    assert result.exit_code == 0 and "--strict" in result.output
    if option:
        assert option in result.output


@pytest.mark.parametrize("corpus", CORPORA)
def test_missing_source_is_one_line(corpus, tmp_path):
    result = CliRunner().invoke(main, [corpus, str(tmp_path / "nowhere"), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.output.strip() == f"error: {tmp_path / 'nowhere'}: no such corpus folder"


def _wav(path: Path, samples: int = 4000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, np.full((samples, 2), 0.1, np.float32), 44100)


def test_musdb18_same_track_in_both_layouts_is_a_duplicate(tmp_path):
    root = tmp_path / "musdb"
    for stem in ("mixture", "drums", "bass", "other", "vocals"):
        _wav(root / "train" / "T" / f"{stem}.wav")
    for stem in ("mixture", "drums", "bass", "other", "vocals"):
        _wav(root / "test" / "T" / f"{stem}.wav")
    report = convert("musdb18", root, tmp_path / "out")
    assert report.entries == 10  # train+++T+++* and test+++T+++* are distinct keys

    import av

    # the same track as a .stem.mp4 beside its HQ folder gives the same five keys
    with av.open(str(root / "train" / "T.stem.mp4"), "w", format="mp4") as container:
        streams = [container.add_stream("aac", rate=44100, layout="stereo") for _ in range(5)]
        for stream in streams:
            frame = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = 44100, 0
            for packet in [*stream.encode(frame), *stream.encode(None)]:
                container.mux(packet)
    report = convert("musdb18", root, tmp_path / "out2")
    duplicates = [p for p in report.problems if "duplicate key" in p.message]
    assert len(duplicates) == 5 and {p.where for p in duplicates} == {
        f"train+++T+++{s}" for s in ("mixture", "drums", "bass", "other", "vocals")}
    assert report.entries == 10
    result = CliRunner().invoke(main, ["musdb18", str(root), str(tmp_path / "out3"), "--strict"])
    assert result.exit_code == 1 and "duplicate key" in result.output and result.output.count("\n") == 1


def test_da_tacos_performance_in_two_subsets_is_a_duplicate(tmp_path):
    root = tmp_path / "dt"
    for subset in ("benchmark_subset", "coveranalysis_subset"):
        folder = root / f"da-tacos_{subset}_crema" / "W_1_crema"
        folder.mkdir(parents=True)
        with h5py.File(folder / "P_1_crema.h5", "w") as handle:
            handle.create_dataset("crema", data=np.ones((12, 20), np.float32))
    report = convert("da-tacos", root, tmp_path / "out")
    assert report.entries == 1
    assert [p.message for p in report.problems] == ["duplicate key (an earlier item has the same key)"]
    assert pyjama.load(report.pyjama_path).values(0, "subset") == ["benchmark_subset"]


def test_existing_output_needs_overwrite(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    (root / "a.jams").write_text(json.dumps({"annotations": [], "file_metadata": {"title": "A"}}))
    _wav(root / "a.wav")
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["jams", str(root), str(out), "--quiet"]).exit_code == 0
    result = CliRunner().invoke(main, ["jams", str(root), str(out), "--quiet"])
    assert result.exit_code == 1 and "already exists (use --overwrite" in result.output
    assert CliRunner().invoke(main, ["jams", str(root), str(out), "--quiet", "--overwrite"]).exit_code == 0
    result = CliRunner().invoke(main, ["info", str(out / "jams.pyjama")])
    assert result.exit_code == 0 and "1 entries" in result.output and "title" in result.output
