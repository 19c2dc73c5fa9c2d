"""bach10 converter: a synthesized 2-piece corpus in the true layout, the real piece, and bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import soundfile
from click.testing import CliRunner
from conftest import fixture_path

from pyjama_tools import pyjama
from pyjama_tools.audio_store import AudioStore
from pyjama_tools.cli import main
from pyjama_tools.convert import convert
from pyjama_tools.converters import get_converter_class
from pyjama_tools.converters.bach10 import INSTRUMENTS
from pyjama_tools.converters.base import Problem
from pyjama_tools.core.errors import MirError

RATE = 8000
FILE_NAMES = ("violin", "clarinet", "saxphone", "bassoon")  # the corpus's own spelling


def write_notes(path: Path, notes: list[list[np.ndarray]]) -> None:
    """GTNotes as MATLAB writes it: a 4×1 cell of (n_notes×1) cells of 2×N double arrays."""
    cells = np.empty((4, 1), dtype=object)
    for row, instrument_notes in enumerate(notes):
        cell = np.empty((len(instrument_notes), 1), dtype=object)
        for index, note in enumerate(instrument_notes):
            cell[index, 0] = np.asarray(note, dtype=float)
        cells[row, 0] = cell
    scipy.io.savemat(str(path), {"GTNotes": cells})


def make_piece(root: Path, piece: str, num_frames: int = 60, seed: int = 0) -> dict:
    """One piece folder in the true layout; returns the GTF0s matrix and the notes written."""
    rng = np.random.default_rng(seed)
    folder = root / piece
    folder.mkdir(parents=True)
    f0s = np.zeros((4, num_frames))
    notes: list[list[np.ndarray]] = []
    for row in range(4):
        instrument_notes = []
        start = 3 + row  # 1-based first frame
        for _ in range(3):
            length = int(rng.integers(5, 12))
            frames = np.arange(start, start + length)
            midi = 60 + 2 * row + rng.normal(0, 0.1, length) + len(instrument_notes)
            f0s[row, frames - 1] = midi  # GTF0s column = frame index − 1
            instrument_notes.append(np.stack([frames, midi]))
            start += length + 2
        notes.append(instrument_notes)
    scipy.io.savemat(str(folder / f"{piece}-GTF0s.mat"), {"GTF0s": f0s})
    write_notes(folder / f"{piece}-GTNotes.mat", notes)
    samples = int(RATE * (0.023 + 0.01 * num_frames))
    for name in ("", *(f"-{n}" for n in FILE_NAMES)):
        tone = 0.1 * np.sin(2 * np.pi * 220 * np.arange(samples) / RATE)
        soundfile.write(folder / f"{piece}{name}.wav", tone.astype(np.float32), RATE)
    return {"f0s": f0s, "notes": notes, "folder": folder}


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, dict]:
    root = tmp_path / "Bach10"
    pieces = {name: make_piece(root, name, seed=i) for i, name in enumerate(["01-First", "02-Second"])}
    (root / "docs").mkdir()  # a folder that is no piece: ignored
    return root, pieces


def test_synthesized_corpus(corpus, tmp_path):
    root, pieces = corpus
    report = convert("bach10", root, tmp_path / "out", sample_rate=None)
    assert report.entries == 10 and report.problems == []
    doc = pyjama.load(report.pyjama_path)
    assert pyjama.validate(doc, AudioStore(report.payload_path).keys()) == []
    assert doc.keys()[:2] == ["01-First+++01-First.wav", "01-First+++01-First-violin.wav"]
    for piece, written in pieces.items():
        mix = f"{piece}+++{piece}.wav"
        time, value = doc.breakpoints(mix, "f0multi")
        np.testing.assert_allclose(value, written["f0s"])  # every frame kept, 0 = silence kept
        np.testing.assert_allclose(time, 0.023 + 0.01 * np.arange(written["f0s"].shape[1]), atol=1e-9)
        assert doc.definitions["f0multi"].row_name == list(INSTRUMENTS)
        assert len(doc.atoms(mix, "pitchmidi")) == sum(len(n) for n in written["notes"])
        assert doc.values(mix, "stem") == ["mixture"]
        for row, (instrument, spelled) in enumerate(zip(INSTRUMENTS, FILE_NAMES)):
            key = f"{piece}+++{piece}-{spelled}.wav"
            assert doc.values(key, "instrument") == [instrument]
            assert doc.values(key, "piece") == [piece]
            stem_time, stem_value = doc.breakpoints(key, "f0")
            np.testing.assert_allclose(stem_value[0], written["f0s"][row])
            onsets, durations, midi = doc.segments(key, "pitchmidi")
            notes = written["notes"][row]
            assert len(onsets) == len(notes)
            for note, onset, duration, value in zip(notes, onsets, durations, midi):
                assert onset == pytest.approx(0.023 + 0.01 * (note[0, 0] - 1))
                assert duration == pytest.approx(0.01 * note.shape[1])
                assert value == round(float(np.median(note[1])))
                # the segment covers exactly the frames where GTF0s is this note's pitch
                covered = (stem_time >= onset - 1e-9) & (stem_time < onset + duration - 1e-9)
                np.testing.assert_allclose(stem_value[0, covered], note[1])
    # the CLI accepts the pair
    result = CliRunner().invoke(main, ["validate", str(report.pyjama_path), "--audio", str(report.payload_path)])
    assert result.exit_code == 0, result.output


def test_piece_field_keeps_mix_and_stems_together(corpus, tmp_path):
    root, _ = corpus
    doc = pyjama.load(convert("bach10", root, tmp_path / "out").pyjama_path)
    pieces = [labels[0] for labels in doc.labels("piece")]
    assert sorted(set(pieces)) == ["01-First", "02-Second"] and pieces.count("01-First") == 5


def test_real_piece(tmp_path):
    root = fixture_path("bach10", "Bach10_v1.1")
    report = convert("bach10", root, tmp_path / "out")
    assert report.entries == 5 and report.problems == []
    doc = pyjama.load(report.pyjama_path)
    folder = root / "01-AchGottundHerr"
    f0s = scipy.io.loadmat(str(folder / "01-AchGottundHerr-GTF0s.mat"))["GTF0s"]
    gt_notes = scipy.io.loadmat(str(folder / "01-AchGottundHerr-GTNotes.mat"))["GTNotes"]
    mix = "01-AchGottundHerr+++01-AchGottundHerr.wav"
    time, value = doc.breakpoints(mix, "f0multi")
    assert value.shape == f0s.shape == (4, 2519)
    np.testing.assert_array_equal(value, f0s)
    assert len(doc.atoms(mix, "pitchmidi")) == sum(gt_notes[i, 0].shape[0] for i in range(4))
    for row, spelled in enumerate(FILE_NAMES):
        key = f"01-AchGottundHerr+++01-AchGottundHerr-{spelled}.wav"
        onsets, durations, midi = doc.segments(key, "pitchmidi")
        assert len(onsets) == gt_notes[row, 0].shape[0]
        # 1-based frames: the note's first frame k is GTF0s column k-1, at 0.023 + 0.01 (k-1) s
        first = np.array([n[0][0, 0] for n in gt_notes[row, 0]])
        np.testing.assert_allclose(onsets, 0.023 + 0.01 * (first - 1), atol=1e-9)
        assert np.all(np.abs(midi - f0s[row, first.astype(int) - 1]) < 1)
    with AudioStore(report.payload_path) as store:
        assert store.duration(mix) == pytest.approx(25.23, abs=0.01)
    result = CliRunner().invoke(main, ["validate", str(report.pyjama_path), "--audio", str(report.payload_path)])
    assert result.exit_code == 0 and "valid (5 entries)" in result.output


def test_the_notebooks_reading_idioms_work_on_the_json_of_our_files(tmp_path):
    """The tutorial reads the .pyjama with json.load and indexes every entry by every field: each entry
    carries each defined field, [] where it has no annotation (the stems have no f0multi)."""
    root = fixture_path("bach10", "Bach10_v1.1")
    report = convert("bach10", root, tmp_path / "bach10", sample_rate=None, quiet=True)
    data = json.loads(report.pyjama_path.read_text())
    names = list(data["collection"]["descriptiondefinition"])
    entries = data["collection"]["entry"]
    assert all(sorted(entry) == sorted(names) for entry in entries)
    mixes = [e for e in entries if len(e["f0multi"])]
    assert [e["filepath"][0]["value"] for e in mixes] == ["01-AchGottundHerr+++01-AchGottundHerr.wav"]
    assert np.array(mixes[0]["f0multi"][0]["value"]).shape == (4, 2519)
    stems = [e for e in entries if len(e["f0"])]
    assert [e["stem"][0]["value"] for e in stems] == list(INSTRUMENTS)
    assert {e["piece"][0]["value"] for e in entries} == {"01-AchGottundHerr"}
    # the cover notebook's idiom on a folder-converted corpus (one folder per work)
    cover = tmp_path / "cover"
    for work, performance in (("W_1", "P_10"), ("W_1", "P_11"), ("W_2", "P_20")):
        (cover / work).mkdir(parents=True, exist_ok=True)
        soundfile.write(cover / work / f"{performance}.wav", np.zeros(800, dtype=np.float32), RATE)
    report = convert("folder", cover, tmp_path / "out", name="cover", field="work-id", quiet=True)
    entries = json.loads(report.pyjama_path.read_text())["collection"]["entry"]
    assert [entry["work-id"][0]["value"] for entry in entries] == ["W_1", "W_1", "W_2"]


def test_a_loaded_document_without_the_empty_fields_gets_them(tmp_path):
    data = {"schemaversion": 1.31, "collection": {
        "descriptiondefinition": {"filepath": {"type_extent": "global"},
                                  "f0multi": {"type_extent": "breakpoint", "type_content": "numeric"},
                                  "f0": {"type_extent": "breakpoint", "type_content": "numeric"}},
        "entry": [{"filepath": [{"value": "mix.wav"}], "f0multi": [{"time": [0.0], "value": [[60.0]]}]},
                  {"filepath": [{"value": "stem.wav"}], "f0": [{"time": [0.0], "value": [[60.0]]}]}]}}
    path = tmp_path / "sparse.pyjama"
    path.write_text(json.dumps(data))
    doc = pyjama.load(path)
    assert [len(e["f0multi"]) for e in doc.entries] == [1, 0] and [len(e["f0"]) for e in doc.entries] == [0, 1]
    saved = json.loads(pyjama.save(doc, tmp_path / "full.pyjama").read_text())["collection"]["entry"]
    assert [sorted(e) for e in saved] == [["f0", "f0multi", "filepath"]] * 2
    assert data["collection"]["entry"][0] == {"filepath": [{"value": "mix.wav"}],  # the caller's dict untouched
                                              "f0multi": [{"time": [0.0], "value": [[60.0]]}]}


# ----------------------------------------------------------------------------- bad inputs


def test_malformed_mat_skips_the_piece(corpus, tmp_path):
    root, pieces = corpus
    (pieces["02-Second"]["folder"] / "02-Second-GTF0s.mat").write_bytes(b"MATLAB 5.0 garbage" * 10)
    report = convert("bach10", root, tmp_path / "out")
    assert report.entries == 5
    assert len(report.problems) == 1 and "02-Second-GTF0s.mat" in report.problems[0].where
    assert "not a readable MATLAB file" in report.problems[0].message
    assert report.report_path.read_text().count("\n") == 2  # header + one line


@pytest.mark.parametrize("variable, value, message", [
    ("GTF0s", np.zeros((3, 10)), "expected (4, nb_frame)"),
    ("Other", np.zeros((4, 10)), "no variable 'GTF0s'"),
])
def test_bad_gtf0s(corpus, tmp_path, variable, value, message):
    root, pieces = corpus
    scipy.io.savemat(str(pieces["01-First"]["folder"] / "01-First-GTF0s.mat"), {variable: value})
    report = convert("bach10", root, tmp_path / "out")
    assert report.entries == 5 and message in report.problems[0].message


def test_notes_out_of_range_and_bad_shape(corpus, tmp_path):
    root, pieces = corpus
    notes = pieces["01-First"]["notes"]
    notes[2][1] = np.stack([np.arange(58, 64), np.full(6, 64.0)])  # frames beyond the 60 of GTF0s
    write_notes(pieces["01-First"]["folder"] / "01-First-GTNotes.mat", notes)
    notes = pieces["02-Second"]["notes"]
    notes[0][0] = np.arange(5.0)[None]  # a 1×N note
    write_notes(pieces["02-Second"]["folder"] / "02-Second-GTNotes.mat", notes)
    with pytest.raises(MirError, match="no bach10 items"):
        convert("bach10", root, tmp_path / "out")
    problems = [str(r) for r in get_converter_class("bach10")(root).items() if isinstance(r, Problem)]
    assert any("outside 1..60" in p and "saxophone" in p for p in problems)
    assert any("expected (2, N)" in p for p in problems)


def test_missing_files(corpus, tmp_path):
    root, pieces = corpus
    (pieces["01-First"]["folder"] / "01-First-GTNotes.mat").unlink()
    (pieces["02-Second"]["folder"] / "02-Second-saxphone.wav").unlink()
    report = convert("bach10", root, tmp_path / "out")
    assert report.entries == 4  # 02-Second mix + 3 stems; 01-First skipped
    messages = [str(p) for p in report.problems]
    assert any("01-First-GTNotes.mat" in m and "piece skipped" in m for m in messages)
    assert any("saxophone stem audio missing" in m for m in messages)


def test_empty_and_unreadable_audio(corpus, tmp_path):
    root, pieces = corpus
    soundfile.write(pieces["01-First"]["folder"] / "01-First-violin.wav", np.zeros(0, np.float32), RATE)
    (pieces["02-Second"]["folder"] / "02-Second.wav").write_bytes(b"RIFF not really a wave file")
    report = convert("bach10", root, tmp_path / "out")
    assert report.entries == 8
    problems = {p.where: p.message for p in report.problems}
    assert "empty audio" in problems["01-First+++01-First-violin.wav"]
    assert "cannot decode" in problems["02-Second+++02-Second.wav"]
    doc = pyjama.load(report.pyjama_path)
    assert "01-First+++01-First-violin.wav" not in doc.keys()


def test_strict_cli_one_line_no_output(corpus, tmp_path):
    root, pieces = corpus
    (pieces["02-Second"]["folder"] / "02-Second-GTNotes.mat").write_text("not a mat file")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["bach10", str(root), str(out), "--strict", "--quiet"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "02-Second-GTNotes.mat" in lines[0]
    assert "Traceback" not in result.output
    assert not out.exists() or list(out.iterdir()) == []
    # without --strict: converted, problem listed, exit 0
    result = CliRunner().invoke(main, ["bach10", str(root), str(out), "--quiet"])
    assert result.exit_code == 0 and (out / "bach10_report.tsv").exists()


def test_no_pieces(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["bach10", str(tmp_path / "empty"), str(tmp_path / "out")])
    assert result.exit_code == 1 and "no bach10 items found" in result.output
