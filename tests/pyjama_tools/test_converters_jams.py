"""jams converter: the real JAMS files beside synthesized audio, both data layouts, and bad inputs."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner
from conftest import fixture_path

from pyjama_tools import pyjama
from pyjama_tools.audio_store import AudioStore
from pyjama_tools.cli import main
from pyjama_tools.convert import convert
from pyjama_tools.converters.jams import extent_of, observations

RATE = 8000
REAL_FILES = [("tests", "fixtures", "valid.jams"), ("tests", "fixtures", "valid.jamz"),
              ("tests", "fixtures", "transcription_ref.jams"), ("tests", "fixtures", "pattern_data.jams"),
              ("docs", "examples", "example_chord.jams"), ("docs", "examples", "example_beat_output.jams")]


def write_audio(path: Path, seconds: float = 0.2) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, (0.1 * np.sin(np.arange(int(RATE * seconds)) / 5)).astype(np.float32), RATE)


def load_raw(path: Path) -> dict:
    opener = gzip.open if path.suffix == ".jamz" else open
    with opener(path, "rt") as handle:
        return json.load(handle)


def count_observations(data) -> int:
    return len(data) if isinstance(data, list) else len(data["time"])


def test_real_files(tmp_path):
    src = tmp_path / "src"
    copied = []
    for parts in REAL_FILES:
        original = fixture_path("jams", *parts)
        target = src / ("gz" if original.suffix == ".jamz" else "") / original.name  # valid.jams + valid.jamz apart
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(original, target)
        write_audio(target.with_suffix(".wav"))
        copied.append(target)
    shutil.copy(fixture_path("jams", "tests", "fixtures", "invalid.jams"), src / "invalid.jams")
    write_audio(src / "invalid.wav")

    report = convert("jams", src, tmp_path / "out", sample_rate=None)
    assert report.entries == len(REAL_FILES)
    assert len(report.problems) == 1
    assert "invalid.jams" in report.problems[0].where
    assert report.problems[0].message == "annotation 0 (beat), observation 0: time -20 is not a number >= 0"
    doc = pyjama.load(report.pyjama_path)
    assert pyjama.validate(doc, AudioStore(report.payload_path).keys()) == []
    for path in copied:
        key = path.with_suffix(".wav").relative_to(src).as_posix().replace("/", "+++")
        raw = load_raw(path)
        seen: dict[str, int] = {}
        for annotation in raw["annotations"]:
            namespace = annotation["namespace"]
            name = namespace if namespace not in seen else f"{namespace}_{seen[namespace]}"
            seen[namespace] = seen.get(namespace, 0) + 1
            atoms = doc.atoms(key, name)
            expected = count_observations(annotation["data"])
            if extent_of(namespace) == "breakpoint":  # one atom holding every observation (notes: sampled)
                notes = any(d for d in observations(annotation["data"], "") if d.get("duration"))
                assert len(atoms) == 1 and (notes or len(atoms[0]["time"]) == expected)
            else:
                assert len(atoms) == expected, (path.name, namespace)
        metadata = raw["file_metadata"]
        assert doc.values(key, "duration") == [pytest.approx(metadata["duration"])]
        if metadata.get("title"):
            assert doc.values(key, "title") == [metadata["title"]]
    # extents and values of the real namespaces
    assert doc.definitions["chord"].type_extent == "segment"
    assert doc.definitions["beat"].type_extent == "marker"
    assert doc.definitions["tag_open"].type_extent == "global"
    assert doc.definitions["pitch_hz"].type_extent == "breakpoint"
    # pitch_hz notes [0.1, 0.3) 220 Hz, [0.3, 0.4) 246.942, [0.5, 0.6) 277.183, [0.55, 0.65) 293.665:
    # sampled every 10 ms, the overlapping last note on a second row, silence (0) elsewhere
    time, value = doc.breakpoints("transcription_ref.wav", "pitch_hz")
    notes = [(0.1, 0.3, 220.0), (0.3, 0.4, 246.942), (0.5, 0.6, 277.183), (0.55, 0.65, 293.665)]
    assert value.shape == (2, len(time)) and np.all(np.diff(time) > 0)
    for t, column in zip(time, value.T):
        sounding = sorted(v for on, off, v in notes if on - 1e-9 <= t < off - 1e-9)
        assert sorted(column[column > 0]) == pytest.approx(sounding), t
    assert time[0] == pytest.approx(0.1) and time[-1] == pytest.approx(0.65)
    onsets, durations, labels = doc.segments("example_chord.wav", "chord")
    assert labels[:2].tolist() == ["N", "E"] and durations[0] == pytest.approx(2.612267)
    pattern = json.loads(doc.atoms("pattern_data.wav", "pattern_jku")[0]["value"])
    assert pattern == {"midi_pitch": 76.0, "morph_pitch": 69.0, "occurrence_id": 1, "pattern_id": 1, "staff": 0}
    assert doc.values("gz+++valid.wav", "tag_open") == doc.values("valid.wav", "tag_open")
    assert "confidence" not in doc.atoms("valid.wav", "beat")[0]  # NaN confidence left out
    result = CliRunner().invoke(main, ["validate", str(report.pyjama_path), "--audio", str(report.payload_path)])
    assert result.exit_code == 0 and f"valid ({len(REAL_FILES)} entries)" in result.output


def synthetic_jams() -> dict:
    """A JAMS document using both data layouts and several extents."""
    return {
        "file_metadata": {"title": "Song", "artist": "Band", "release": "Album", "duration": 2.5,
                          "identifiers": {}, "jams_version": "0.3.4"},
        "annotations": [
            {"namespace": "chord", "annotation_metadata": {"annotator": {"name": "A"}},
             "data": [{"time": 0.0, "duration": 1.0, "value": "C:maj", "confidence": 1.0},
                      {"time": 1.0, "duration": 1.5, "value": "N", "confidence": None}]},
            {"namespace": "chord", "annotation_metadata": {"annotator": {"name": "B"}},  # second annotator
             "data": {"time": [0.0], "duration": [2.5], "value": ["C:maj"], "confidence": [0.5]}},
            {"namespace": "pitch_contour",
             "data": {"time": [0.0, 0.01, 0.02], "duration": [0.0, 0.0, 0.0],
                      "value": [{"index": 0, "frequency": 440.0, "voiced": True},
                                {"index": 0, "frequency": 441.0, "voiced": False},
                                {"index": 0, "frequency": 442.0, "voiced": True}],
                      "confidence": [None, None, None]}},
            {"namespace": "beat", "data": {"time": [0.5, 1.0], "duration": [0.0, 0.0], "value": [1, 2],
                                           "confidence": [1.0, 1.0]}},
            {"namespace": "tag_gtzan", "data": [{"time": 0.0, "duration": 2.5, "value": "rock", "confidence": None}]},
            {"namespace": "mood_thayer", "data": [{"time": 0.0, "duration": 2.5, "value": [0.5, -0.25],
                                                   "confidence": None}]},
            {"namespace": "note_midi", "data": [{"time": 0.1, "duration": 0.4, "value": 60.0, "confidence": None}]},
        ],
        "sandbox": {},
    }


def test_synthesized_layouts(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "song.jams").write_text(json.dumps(synthetic_jams()))
    write_audio(src / "song.flac")
    (src / "sub").mkdir()
    with gzip.open(src / "sub" / "other.jamz", "wt") as handle:  # gzipped JAMS, one folder down
        json.dump(synthetic_jams(), handle)
    write_audio(src / "sub" / "other.wav")
    report = convert("jams", src, tmp_path / "out")
    assert report.entries == 2 and report.problems == []
    doc = pyjama.load(report.pyjama_path)
    assert doc.keys() == ["song.flac", "sub+++other.wav"]
    for key in doc.keys():
        assert doc.values(key, "chord") == ["C:maj", "N"]
        assert doc.values(key, "chord_1") == ["C:maj"]  # the second annotator's chords in their own field
        assert doc.atoms(key, "chord_1")[0]["confidence"] == 0.5
        time, value = doc.breakpoints(key, "pitch_contour")
        np.testing.assert_allclose(value, [[440.0, 0.0, 442.0]])  # unvoiced → 0
        beat_time, beat_value = doc.markers(key, "beat")
        assert beat_time.tolist() == [0.5, 1.0] and beat_value.tolist() == [1, 2]
        assert doc.values(key, "tag_gtzan") == ["rock"]
        assert doc.values(key, "mood_thayer") == [[[0.5, -0.25]]]  # a (1, 2) matrix
        assert doc.segments(key, "note_midi")[2].tolist() == [60.0]
        assert doc.values(key, "title") == ["Song"] and doc.values(key, "album") == ["Album"]
        assert doc.values(key, "duration") == [2.5]
    definitions = doc.definitions
    assert (definitions["beat"].type_extent, definitions["beat"].type_content) == ("marker", "numeric")
    assert definitions["tag_gtzan"].type_constraint == "value_in_dictionary"
    assert definitions["tag_gtzan"].dictionary == ["rock"]
    assert definitions["mood_thayer"].type_content == "numeric"
    assert definitions["pitch_contour"].type_extent == "breakpoint"
    assert definitions["note_midi"].type_extent == "segment"


# ----------------------------------------------------------------------------- bad inputs


def test_unmatched_ambiguous_and_malformed(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    good = json.dumps(synthetic_jams())
    (src / "ok.jams").write_text(good)
    write_audio(src / "ok.wav")
    (src / "lonely.jams").write_text(good)  # no audio
    write_audio(src / "orphan.wav")  # no JAMS
    (src / "twice.jams").write_text(good)
    (src / "twice.jamz").write_bytes(gzip.compress(good.encode()))
    write_audio(src / "twice.wav")
    (src / "two.jams").write_text(good)
    write_audio(src / "two.wav")
    write_audio(src / "two.flac")
    (src / "broken.jams").write_text('{"annotations": [ {"namespace": "beat", ')
    write_audio(src / "broken.wav")
    (src / "notjams.jams").write_text('{"something": 1}')
    write_audio(src / "notjams.wav")
    (src / "badgz.jamz").write_bytes(b"not gzip at all")
    write_audio(src / "badgz.wav")
    nan = synthetic_jams()
    nan["annotations"][0]["data"][1]["duration"] = float("nan")
    (src / "nan.jams").write_text(json.dumps(nan))  # json writes NaN, as the real jams files do
    write_audio(src / "nan.wav")
    ragged = synthetic_jams()
    ragged["annotations"][3]["data"]["value"] = [1]
    (src / "ragged.jams").write_text(json.dumps(ragged))
    write_audio(src / "ragged.wav")
    (src / "silent.jams").write_text(good)
    soundfile.write(src / "silent.wav", np.zeros(0, np.float32), RATE)  # empty audio

    report = convert("jams", src, tmp_path / "out")
    assert report.entries == 1
    problems = {Path(p.where).name: p.message for p in report.problems}
    assert "no audio file lonely." in problems["lonely.jams"]
    assert "no orphan.jams or .jamz" in problems["orphan.wav"]
    assert "several annotation files" in problems["twice.jams"]
    assert "several audio files match: two.flac, two.wav" in problems["two.jams"]
    assert problems["broken.jams"].startswith("malformed JSON at line 1")
    assert "no 'annotations' list" in problems["notjams.jams"]
    assert "cannot read" in problems["badgz.jamz"]
    assert problems["nan.jams"] == "annotation 0 (chord), observation 1: duration nan is not a number >= 0"
    assert "data arrays differ in length" in problems["ragged.jams"]
    assert "empty audio" in problems["silent.wav"]
    assert len(problems) == 10
    assert pyjama.load(report.pyjama_path).keys() == ["ok.wav"]
    lines = report.report_path.read_text().splitlines()
    assert lines[0] == "where\tproblem" and len(lines) == 11


def test_strict_cli_one_line_no_output(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.jams").write_text(json.dumps(synthetic_jams()))
    write_audio(src / "a.wav")
    shutil.copy(fixture_path("jams", "tests", "fixtures", "invalid.jams"), src / "b.jams")
    write_audio(src / "b.wav")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["jams", str(src), str(out), "--strict", "--quiet"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "b.jams" in lines[0] and "time -20" in lines[0]
    assert not out.exists() or [p for p in out.iterdir() if not p.name.endswith(".lock")] == []


def test_extent_registry():
    assert [extent_of(n) for n in ("chord", "segment_open", "note_hz", "key_mode", "pattern_jku", "beat", "onset",
                                   "pitch_contour", "pitch_hz", "tag_open", "mood_thayer", "tempo")] == \
        ["segment", "segment", "segment", "segment", "segment", "marker", "marker",
         "breakpoint", "breakpoint", "global", "global", "segment"]


def test_simultaneous_pitch_contours_keep_a_row_each(tmp_path):
    """Multi-f0 JAMS: one observation per contour and time; each contour is a row, none overwrites another."""
    src = tmp_path / "src"
    src.mkdir()
    observations = [  # contour 1 (a bass) and contour 0 (a melody), interleaved, one gap in contour 1
        (0.00, 1, 110.0, True), (0.00, 0, 440.0, True), (0.01, 0, 441.0, True),
        (0.02, 1, 112.0, True), (0.02, 0, 442.0, False),
    ]
    document = {"file_metadata": {}, "sandbox": {}, "annotations": [{
        "namespace": "pitch_contour",
        "data": [{"time": t, "duration": 0.0, "value": {"index": i, "frequency": f, "voiced": v}, "confidence": None}
                 for t, i, f, v in observations]}]}
    (src / "duet.jams").write_text(json.dumps(document))
    write_audio(src / "duet.wav")
    report = convert("jams", src, tmp_path / "out")
    doc = pyjama.load(report.pyjama_path)
    time, value = doc.breakpoints("duet.wav", "pitch_contour")
    np.testing.assert_allclose(time, [0.0, 0.01, 0.02])
    np.testing.assert_allclose(value, [[440.0, 441.0, 0.0],    # contour 0; unvoiced at 0.02 → 0
                                       [110.0, 0.0, 112.0]])   # contour 1; no observation at 0.01 → 0
    assert pyjama.validate(doc) == []
