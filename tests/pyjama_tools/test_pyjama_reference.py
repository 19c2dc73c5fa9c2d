"""The reference pyjama library's (geoffroypeeters/pyjama 1.41) five example files and constructs:
they validate, load with every field, and their list-valued atoms reach the targets; what is
truly wrong in those constructs is still named (entry, field, atom)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import fixture_path

from mirfeat.targets import TargetSpec, build_target
from pyjama_tools import pyjama
from pyjama_tools.cli import main
from pyjama_tools.core.errors import MirError, ValidationError

EXAMPLES = ("example_breakpoint.pyjama", "example_breakpoint_time_value.pyjama", "example_segment.pyjama",
            "example_segment_pitch_and_text.pyjama", "example_updating_dictonary.pyjama")


def example(name: str) -> Path:
    return fixture_path("pyjama_examples", name)


@pytest.mark.parametrize("name", EXAMPLES)
def test_validate_and_info_accept_every_reference_example(name):
    path = example(name)
    for command in (["validate", str(path)], ["info", str(path)]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 0, result.output
    doc = pyjama.load(path)
    assert pyjama.validate(doc) == []
    # every entry carries every defined field
    assert all(set(doc.definitions) <= set(entry) for entry in doc.entries)


def test_breakpoint_example_loads_every_field():
    doc = pyjama.load(example("example_breakpoint.pyjama"))
    time, f0 = doc.breakpoints(0, "f0")
    assert time.shape == (100,) and f0.shape == (1, 100)
    np.testing.assert_allclose(time[:3], [0.0, 0.01, 0.02])
    time, mfcc = doc.breakpoints(0, "mfcc")
    assert mfcc.shape == (13, 100)
    (mean,) = doc.values(0, "meanMfcc")  # a global multi-dimensional value: one (13, 1) matrix
    assert np.asarray(mean).shape == (13, 1)


def test_breakpoint_time_value_example_reads_the_shared_times():
    doc = pyjama.load(example("example_breakpoint_time_value.pyjama"))
    assert doc.shared_time_field() == "shared-time"
    time, value = doc.breakpoints(0, "alldescriptors")
    assert time.tolist() == list(range(10)) and value.shape == (2, 10)
    time, value = doc.breakpoints(0, "loudness")
    assert time.shape == (10,) and value.shape == (1, 10)


def test_segment_example_list_valued_atom_is_its_segments():
    doc = pyjama.load(example("example_segment.pyjama"))
    for index in range(3):
        one_atom_each = doc.segments(index, "structtype")
        all_in_one = doc.segments(index, "structtypeList")  # time/duration lists, value [["A", "B", "C"]]
        for a, b in zip(one_atom_each, all_in_one):
            assert a.tolist() == pytest.approx(b.tolist()) if a.dtype != object else a.tolist() == b.tolist()
        assert all_in_one[2].tolist() == ["A", "B", "C"]
        assert doc.values(index, "structtypeList") == ["A", "B", "C"]
    assert doc.vocabulary("structtypeList") == ["Silence", "A", "B", "C"]


def test_segment_pitch_and_text_value_is_one_segment_with_a_list_value():
    doc = pyjama.load(example("example_segment_pitch_and_text.pyjama"))
    time, duration, value = doc.segments("./myAudioFile.mp3", "pitchandtexttype")
    assert time.tolist() == [0.0] and duration.tolist() == [1.0] and value.shape == (1,)
    assert value[0] == [440.0, "wasabi"]


def test_updating_dictionary_example_list_value_is_two_labels():
    doc = pyjama.load(example("example_updating_dictonary.pyjama"))
    assert doc.keys() == [None] * 5  # its entries name no audio file
    assert doc.labels("genre") == [["blues"], ["blues"], ["hiphop"], ["rock"], ["blues", "hiphop"]]
    assert doc.vocabulary("genre") == ["blues", "hiphop", "rock"]


def _with_filepaths(name: str, tmp_path: Path) -> pyjama.PyjamaDoc:
    """The example with a filepath per entry (``clip<i>.wav``), so that targets can be read by key."""
    data = json.loads(example(name).read_text())
    data["collection"]["descriptiondefinition"].setdefault("filepath", {"type_extent": "global"})
    for index, entry in enumerate(data["collection"]["entry"]):
        entry["filepath"] = [{"value": f"clip{index}.wav"}]
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return pyjama.load(path)


def test_list_valued_tag_atom_is_a_multi_hot_target(tmp_path):
    doc = _with_filepaths("example_updating_dictonary.pyjama", tmp_path)
    target = build_target(TargetSpec("multilabel", "genre"), doc)
    assert target.vocabulary == ["blues", "hiphop", "rock"]
    assert target.for_file("clip4.wav").tolist() == [1.0, 1.0, 0.0]  # ['blues', 'hiphop'] in one atom
    assert target.for_file("clip3.wav").tolist() == [0.0, 0.0, 1.0]
    top = build_target(TargetSpec("multilabel", "genre", top_n=1), doc)  # counted per label: blues 3×
    assert top.vocabulary == ["blues"] and top.for_file("clip4.wav").tolist() == [1.0]
    multiclass = build_target(TargetSpec("multiclass", "genre"), doc)
    assert int(multiclass.for_file("clip2.wav")) == 1
    with pytest.raises(MirError, match=r"entry 4 \('clip4.wav'\), field 'genre': multiclass needs exactly one "
                                       r"value, found 2"):
        multiclass.for_file("clip4.wav")


def test_list_valued_segment_atom_is_the_same_frame_target(tmp_path):
    doc = pyjama.load(example("example_segment.pyjama"))
    time_sec = np.arange(0.0, 0.32, 0.02) + 0.01
    key = doc.keys()[0]
    listed = build_target(TargetSpec("framelabel", "structtypeList"), doc).for_file(key, time_sec)
    single = build_target(TargetSpec("framelabel", "structtype"), doc).for_file(key, time_sec)
    vocabulary = ["Silence", "A", "B", "C"]
    assert [vocabulary[i] if i >= 0 else None for i in listed] == \
        ["A"] * 5 + ["B"] * 5 + ["C"] * 5 + [None]  # the last frame (0.31 s) is after every segment
    names = ["Silence", "A", "B", "C", "D", "E", "F", "I", "V", "End"]
    assert [names[i] if i >= 0 else None for i in single] == [vocabulary[i] if i >= 0 else None for i in listed]


def test_breakpoint_value_field_is_a_pitch_target():
    doc = pyjama.PyjamaDoc()
    doc.define("shared-time", "breakpoint_time")
    doc.define("f0", "breakpoint_value", "numeric", row_name=["voice1", "voice2"])
    doc.add_entry("a.wav", {"shared-time": [{"value": [[0.0, 0.01, 0.02]]}],
                            "f0": [{"value": [[69.0, 69.0, 0.0], [0.0, 81.0, 81.0]]}]})
    assert pyjama.validate(doc) == []
    frequency_hz = 440.0 * 2.0 ** (np.arange(-12, 25) / 12)  # A3 .. A6 in semitones, bin 12 = 440 Hz
    y = build_target(TargetSpec("pitch", "f0"), doc).for_file("a.wav", np.array([0.0, 0.01, 0.02]), frequency_hz)
    assert y.shape == (37, 3)
    assert np.flatnonzero(y[:, 0]).tolist() == [12] and np.flatnonzero(y[:, 1]).tolist() == [12, 24]
    assert np.flatnonzero(y[:, 2]).tolist() == [24]


# ----------------------------------------------------------------------------- schemaversion


def test_schemaversion_as_a_string_loads_and_round_trips(tmp_path):
    data = json.loads(example("example_segment.pyjama").read_text())
    data["schemaversion"] = "1.41"  # as the reference library 1.41 writes it
    path = tmp_path / "string.pyjama"
    path.write_text(json.dumps(data))
    doc = pyjama.load(path)
    assert doc.schemaversion == "1.41" and pyjama.validate(doc) == []
    saved = pyjama.save(doc, tmp_path / "again.pyjama")
    assert json.loads(saved.read_text())["schemaversion"] == "1.41"
    for bad in ("one point four", "2.0", True):
        data["schemaversion"] = bad
        with pytest.raises(ValidationError, match=f"schemaversion {bad!r} not supported"):
            pyjama.PyjamaDoc.from_dict(data, source="x.pyjama")


# ----------------------------------------------------------------------------- what stays wrong


def _segment_doc() -> dict:
    data = json.loads(example("example_segment.pyjama").read_text())
    return data


@pytest.mark.parametrize("change, named", [
    (lambda a: a.update(duration=[0.1, 0.1]), "duration [0.1, 0.1] is not a list of 3 durations (one per time)"),
    (lambda a: a.update(duration=[0.1, -0.1, 0.1]), "duration -0.1 in the list of durations is not a number >= 0"),
    (lambda a: a.update(time=[0.0, "x", 0.2]), "time 'x' in the list of times is not a number"),
    (lambda a: a.update(value=[["A", "B"]]), "value [['A', 'B']] is neither 3 values nor a matrix (nb_dim, 3)"),
    (lambda a: a.update(value=[["A", "B", "Z"]]), "value [['A', 'B', 'Z']]: 'Z' is not in the dictionary"),
])
def test_list_valued_segment_atom_problems_are_named(change, named):
    data = _segment_doc()
    change(data["collection"]["entry"][1]["structtypeList"][0])
    problems = pyjama.validate(pyjama.PyjamaDoc.from_dict(data))
    assert len(problems) == 1
    assert problems[0].startswith("entry 1 ('./_examples/audio2.mp3'), field 'structtypeList', atom 0: " + named)


def test_list_valued_segment_atom_bad_shape_is_one_line_in_typed_access():
    data = _segment_doc()
    data["collection"]["entry"][1]["structtypeList"][0]["duration"] = [0.1]
    doc = pyjama.PyjamaDoc.from_dict(data)
    with pytest.raises(MirError, match=r"^entry 1 \('./_examples/audio2.mp3'\), field 'structtypeList', atom 0: "
                                       r"duration \[0.1\] is not a list of 3"):
        doc.segments(1, "structtypeList")


def test_list_valued_label_not_in_the_dictionary_is_named():
    data = json.loads(example("example_updating_dictonary.pyjama").read_text())
    data["collection"]["entry"][4]["genre"][0]["value"] = ["blues", "jazz"]
    assert pyjama.validate(pyjama.PyjamaDoc.from_dict(data)) == [
        "entry 4, field 'genre', atom 0: value ['blues', 'jazz']: 'jazz' is not in the dictionary"]


def test_numeric_list_value_with_a_text_element_is_named():
    data = json.loads(example("example_breakpoint.pyjama").read_text())
    data["collection"]["entry"][0]["meanMfcc"][0]["value"][3] = ["x"]
    (problem,) = pyjama.validate(pyjama.PyjamaDoc.from_dict(data))
    assert problem.startswith("entry 0, field 'meanMfcc', atom 0: value ") and "holds 'x', which is not a number" in problem


def test_breakpoint_value_must_match_the_shared_times_and_row_names():
    data = json.loads(example("example_breakpoint_time_value.pyjama").read_text())
    entry = data["collection"]["entry"][0]
    entry["loudness"][0]["value"] = [[0.0] * 9]
    entry["alldescriptors"][0]["value"] = entry["alldescriptors"][0]["value"][:1]
    problems = pyjama.validate(pyjama.PyjamaDoc.from_dict(data))
    assert problems == [
        "entry 0, field 'alldescriptors', atom 0: breakpoint_value has 1 rows, row_name has 2",
        "entry 0, field 'loudness', atom 0: breakpoint_value has 9 columns, the entry's 'shared-time' has 10 times"]
    entry["shared-time"] = []
    problems = pyjama.validate(pyjama.PyjamaDoc.from_dict(data))
    assert "entry 0, field 'loudness', atom 0: no breakpoint_time atom 'shared-time' in this entry gives its " \
           "times" in problems
    with pytest.raises(MirError, match=r"^entry 0, field 'loudness', atom 0: no breakpoint_time atom"):
        pyjama.PyjamaDoc.from_dict(data).breakpoints(0, "loudness")


def test_placeholders_and_one_element_lists_as_the_reference_library_writes_them():
    """M_check fills a missing field with [{"value": ""}]; one-element time lists are written as numbers."""
    doc = pyjama.PyjamaDoc.from_dict({"schemaversion": "1.41", "collection": {
        "descriptiondefinition": {
            "filepath": {"type_extent": "global", "type_constraint": "filepath"},
            "genre": {"type_extent": "global", "type_constraint": "value_in_dictionary", "dictionary": ["rock"]},
            "structure": {"type_extent": "segment", "type_constraint": "value_in_dictionary", "dictionary": ["A"]},
            "tempo": {"type_extent": "global", "type_content": "numeric"},
            "f0": {"type_extent": "breakpoint", "type_content": "numeric", "row_name": ["a", "b"]}},
        "entry": [
            {"filepath": [{"value": "x.wav"}], "genre": [{"value": ""}], "structure": [{"value": ""}],
             "tempo": [{"value": ""}], "f0": [{"value": ""}]},
            {"filepath": [{"value": ""}], "genre": [{"value": "rock"}],
             "structure": [{"value": [["A"]], "time": 0.0, "duration": 1.5}],  # the list form of one segment
             "tempo": [{"value": 120.0}], "f0": [{"value": [[60.0], [55.0]], "time": 0.5}]}]}})
    assert pyjama.validate(doc) == []
    assert doc.keys() == ["x.wav", None]
    assert doc.atoms(0, "genre") == [] and doc.labels("genre") == [[], ["rock"]]
    assert [a.size for a in doc.segments(0, "structure")] == [0, 0, 0]
    assert doc.breakpoints(0, "f0")[1].shape == (2, 0)
    time, duration, value = doc.segments(1, "structure")
    assert time.tolist() == [0.0] and duration.tolist() == [1.5] and value.tolist() == ["A"]
    assert doc.values(1, "structure") == ["A"]
    time, value = doc.breakpoints(1, "f0")
    assert time.tolist() == [0.5] and value.tolist() == [[60.0], [55.0]]
    assert build_target(TargetSpec("multilabel", "genre"), doc).for_file("x.wav").tolist() == [0.0]


def test_notes_and_beats_in_one_atom_reach_the_pitch_target_and_markers():
    doc = pyjama.PyjamaDoc()
    doc.define("pitchmidi", "segment", "numeric")
    doc.define("beat", "marker", "numeric")
    doc.add_entry("a.wav", {"pitchmidi": [{"value": [[69, 81]], "time": [0.0, 0.02], "duration": [0.02, 0.02]}],
                            "beat": [{"value": [1, 2, 3], "time": [0.5, 1.0, 1.5]}]})
    assert pyjama.validate(doc) == []
    time, value = doc.markers("a.wav", "beat")
    assert time.tolist() == [0.5, 1.0, 1.5] and value.tolist() == [1.0, 2.0, 3.0]
    frequency_hz = 440.0 * 2.0 ** (np.arange(-12, 25) / 12)
    y = build_target(TargetSpec("pitch", "pitchmidi"), doc).for_file("a.wav", np.array([0.005, 0.015, 0.025]),
                                                                     frequency_hz)
    assert [np.flatnonzero(y[:, t]).tolist() for t in range(3)] == [[12], [12], [24]]
