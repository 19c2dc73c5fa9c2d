"""The .pyjama document model: published shape, round trip, every validation rule, typed access."""

from __future__ import annotations

import copy
import gc
import json

import numpy as np
import pytest

from pyjama_tools import pyjama
from pyjama_tools.core.errors import MirError, ValidationError


def _definition(extent="global", content="text", constraint="free", dictionary=None, row_name=None):
    """A definition as the published tutorial files write it (every key, plus the UI flags)."""
    return {"type_extent": extent, "type_content": content, "type_constraint": constraint,
            "dictionary": [] if dictionary is None else dictionary, "row_name": [] if row_name is None else row_name,
            "is_table": True, "is_editable": True, "is_filter": True}


def published_document() -> dict:
    """A small document in the published tutorial shape, one entry per field family; every entry
    carries every field (an empty list where it has no annotation), as the reference library writes."""
    data = _sparse_published_document()
    names = list(data["collection"]["descriptiondefinition"])
    data["collection"]["entry"] = [{name: entry.get(name, []) for name in names}
                                   for entry in data["collection"]["entry"]]
    return data


def _sparse_published_document() -> dict:
    """:func:`published_document` with only the fields each entry annotates."""
    f0 = [[60.0, 60.5, 0.0], [55.0, 55.0, 55.1], [0.0, 48.0, 48.0], [36.0, 36.0, 0.0]]
    return {
        "schemaversion": 1.31,
        "collection": {
            "descriptiondefinition": {
                "filepath": _definition(constraint="filepath"),
                "genre": _definition(constraint="value_in_dictionary", dictionary=["blues", "country"]),
                "tag": _definition(constraint="value_in_dictionary", dictionary=["guitar", "classical", "slow"]),
                "chord": _definition("segment"),
                "pitchmidi": _definition("segment", "numeric"),
                "f0multi": _definition("breakpoint", "numeric",
                                       row_name=["f0_midi_violin", "f0_midi_clarinet", "f0_midi_saxphone",
                                                 "f0_midi_bassoon"]),
                "work-id": _definition(),
                "performance-id": _definition(),
                "artist": _definition(),
            },
            "entry": [
                {"filepath": [{"value": "blues+++blues.00000.wav"}], "genre": [{"value": "blues"}],
                 "tag": [{"value": "guitar"}, {"value": "slow"}], "artist": [{"value": "Someone"}]},
                {"filepath": [{"value": "country+++country.00000.wav"}], "genre": [{"value": "country"}],
                 "tag": [], "chord": [{"value": "N", "time": 0.0, "duration": 0.104},
                                      {"value": "Ab:min", "time": 0.104, "duration": 1.754}]},
                {"filepath": [{"value": "0+++clip-30-59.mp3"}],
                 "pitchmidi": [{"value": 62, "time": 0.521985, "duration": 6.184995},
                               {"value": 61, "time": 1.37998, "duration": 4.364}]},
                {"filepath": [{"value": "01-AchGottundHerr+++01-AchGottundHerr.wav"}],
                 "f0multi": [{"value": f0, "time": [0.023, 0.033, 0.043]}]},
                {"filepath": [{"value": "W_163992+++P_547131.h5"}], "work-id": [{"value": "W_163992"}],
                 "performance-id": [{"value": "P_547131"}]},
            ],
        },
    }


@pytest.fixture
def published(tmp_path):
    path = tmp_path / "tutorial.pyjama"
    path.write_text(json.dumps(published_document(), indent=4))
    return path


# ----------------------------------------------------------------------------- load / save


def test_published_shape_loads_validates_and_round_trips_unchanged(published, tmp_path):
    doc = pyjama.load(published)
    assert pyjama.validate(doc) == []
    assert doc.to_dict() == published_document()
    saved = pyjama.save(doc, tmp_path / "again.pyjama")
    assert json.loads(saved.read_text()) == published_document()
    assert pyjama.load(saved) == doc


def test_sparse_definitions_round_trip_unchanged(tmp_path):
    data = published_document()
    definitions = data["collection"]["descriptiondefinition"]
    definitions["artist"] = {"type_extent": "global", "dictionary": None}  # no content/constraint, null dictionary
    definitions["genre"].pop("row_name")
    data["collection"]["generator"] = {"name": "tutorial"}  # unknown keys are kept too
    data["comment"] = "made by hand"
    doc = pyjama.PyjamaDoc.from_dict(data)
    assert pyjama.validate(doc) == []
    assert doc.definition("artist").type_content == "text"  # the spec's defaults apply
    path = pyjama.save(doc, tmp_path / "sparse.pyjama")
    assert json.loads(path.read_text()) == data
    doc.definition("artist").type_constraint = "value_in_dictionary"  # a change is written out
    doc.definition("artist").dictionary = ["Someone"]
    assert pyjama.validate(doc) == []
    assert doc.to_dict()["collection"]["descriptiondefinition"]["artist"] == {
        "type_extent": "global", "type_constraint": "value_in_dictionary", "dictionary": ["Someone"]}


def test_schemaversion_14x_accepted_and_others_refused(tmp_path):
    data = published_document()
    data["schemaversion"] = 1.42
    assert pyjama.validate(pyjama.PyjamaDoc.from_dict(data)) == []
    data["schemaversion"] = 2.0
    with pytest.raises(ValidationError, match="schemaversion 2.0 not supported"):
        pyjama.PyjamaDoc.from_dict(data, source="x.pyjama")


def test_built_document_round_trips(tmp_path):
    doc = pyjama.PyjamaDoc()
    doc.define("tag", dictionary=["rock", "pop"], type_constraint="value_in_dictionary")
    doc.define("chord", "segment")
    doc.define("f0", "breakpoint", "numeric", row_name=["voice"])
    chords = pyjama.segment_atoms(np.array([0.0, 1.5]), np.array([1.5, 2.0]), ["C:maj", "N"])
    doc.add_entry("a+++b.wav", {"tag": ["rock", "pop"], "chord": chords,
                                "f0": [pyjama.breakpoint_atom(np.arange(3) * 0.01, np.array([60.0, 61.0, 0.0]))]})
    assert pyjama.validate(doc) == []
    loaded = pyjama.load(pyjama.save(doc, tmp_path / "built.pyjama"))
    assert loaded == doc
    assert loaded.entry("a+++b.wav")["f0"][0]["value"] == [[60.0, 61.0, 0.0]]  # 1-D stored as (1, T)
    assert isinstance(loaded.entry(0)["chord"][0]["time"], float)  # numpy scalars became plain floats


def test_save_is_atomic_and_leaves_no_partial(tmp_path):
    doc = pyjama.PyjamaDoc()
    doc.add_entry("k.wav", {})
    doc.entries[0]["bad"] = [{"value": float("nan")}]  # JSON cannot hold NaN: save must fail cleanly
    target = tmp_path / "out.pyjama"
    with pytest.raises(ValueError):
        pyjama.save(doc, target)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text, message", [
    ("{not json", "malformed JSON at line 1"),
    ("[1, 2]", "top level is not a JSON object"),
    ('{"schemaversion": 1.31}', "missing 'collection' object"),
    ('{"schemaversion": 1.31, "collection": {"entry": []}}', "no 'descriptiondefinition'"),
])
def test_load_bad_files_one_line(tmp_path, text, message):
    path = tmp_path / "bad.pyjama"
    path.write_text(text)
    with pytest.raises(MirError, match=message) as info:
        pyjama.load(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)
    assert gc.isenabled()  # load pauses the cyclic GC while parsing and always turns it back on


def test_load_missing_file(tmp_path):
    with pytest.raises(MirError, match="no such file"):
        pyjama.load(tmp_path / "absent.pyjama")


# ----------------------------------------------------------------------------- validation rules


def _problems(mutate) -> list[str]:
    data = published_document()
    mutate(data["collection"])
    return pyjama.validate(pyjama.PyjamaDoc.from_dict(data))


def test_rule_marker_needs_time():
    def mutate(c):
        c["descriptiondefinition"]["beat"] = _definition("marker", "numeric")
        c["entry"][0]["beat"] = [{"value": 1, "time": 0.5}, {"value": 2}]
    assert _problems(mutate) == ["entry 0 ('blues+++blues.00000.wav'), field 'beat', atom 1: marker atom has no 'time'"]


def test_rule_segment_needs_time_and_duration():
    def mutate(c):
        c["entry"][1]["chord"].append({"value": "C:maj", "duration": 1.0})
        c["entry"][1]["chord"].append({"value": "C:maj", "time": 3.0})
    where = "entry 1 ('country+++country.00000.wav'), field 'chord'"
    assert _problems(mutate) == [f"{where}, atom 2: segment atom has no 'time'",
                                 f"{where}, atom 3: segment atom has no 'duration'"]


def test_rule_segment_duration_not_negative():
    def mutate(c):
        c["entry"][2]["pitchmidi"][1]["duration"] = -0.5
    assert _problems(mutate) == ["entry 2 ('0+++clip-30-59.mp3'), field 'pitchmidi', atom 1: "
                                 "duration -0.5 is not a number >= 0"]


def test_rule_breakpoint_rows_match_row_name():
    def mutate(c):
        c["entry"][3]["f0multi"][0]["value"] = c["entry"][3]["f0multi"][0]["value"][:3]
    (problem,) = _problems(mutate)
    assert "entry 3" in problem and "field 'f0multi', atom 0" in problem and "3 rows, row_name has 4" in problem


def test_rule_breakpoint_columns_match_time():
    def mutate(c):
        c["entry"][3]["f0multi"][0]["time"] = [0.023, 0.033]
    (problem,) = _problems(mutate)
    assert "3 columns, 'time' has 2" in problem


def test_rule_breakpoint_value_is_a_matrix():
    def mutate(c):
        c["entry"][3]["f0multi"][0]["value"] = [60.0, 61.0, 62.0]
    (problem,) = _problems(mutate)
    assert "is not a matrix (nb_dim, nb_time)" in problem


def test_rule_value_in_dictionary():
    def mutate(c):
        c["entry"][0]["tag"].append({"value": "banjo"})
    assert _problems(mutate) == ["entry 0 ('blues+++blues.00000.wav'), field 'tag', atom 2: "
                                 "value 'banjo' is not in the dictionary"]


def test_rule_numeric_dictionary_is_a_range():
    def mutate(c):
        c["descriptiondefinition"]["pitchmidi"].update(type_constraint="value_in_dictionary", dictionary=[21, 108])
        c["entry"][2]["pitchmidi"][0]["value"] = 12
    (problem,) = _problems(mutate)
    assert "value 12 outside the dictionary range [21, 108]" in problem


def test_rule_filepath_keys_present_in_audio():
    doc = pyjama.PyjamaDoc.from_dict(published_document())
    keys = doc.keys()
    assert pyjama.validate(doc, keys) == []
    problems = pyjama.validate(doc, keys[1:])
    assert problems == ["entry 0 ('blues+++blues.00000.wav'), field 'filepath': key not found in the audio file"]


def test_rule_filepath_absent_is_allowed_but_not_paired_and_a_non_text_value_is_named():
    def no_filepath(c):
        del c["entry"][4]["filepath"]
    assert _problems(no_filepath) == []  # the reference library's examples have entries without one
    data = published_document()
    data["collection"]["entry"][4]["filepath"] = [{"value": ""}]  # what its M_check writes for none
    doc = pyjama.PyjamaDoc.from_dict(data)
    assert doc.keys()[4] is None and pyjama.validate(doc) == []
    assert pyjama.validate(doc, doc.keys()[:4]) == ["entry 4: no filepath, so no audio to pair it with"]

    def float_filepath(c):
        c["entry"][4]["filepath"] = [{"value": 3.5}]
    assert _problems(float_filepath) == ["entry 4, field 'filepath', atom 0: value 3.5 is not a file key (text)"]
    data["collection"]["entry"][4]["filepath"] = [{"value": 174702}]  # the cover pairs' integer ids
    doc = pyjama.PyjamaDoc.from_dict(data)
    assert doc.keys()[4] == "174702" and doc.index_of("174702") == 4 and pyjama.validate(doc) == []


def test_rule_keys_unique():
    def mutate(c):
        c["entry"][2]["filepath"] = [{"value": "blues+++blues.00000.wav"}]
    assert _problems(mutate) == ["entry 2 ('blues+++blues.00000.wav'): filepath duplicates entry 0"]


def test_rule_undefined_field_and_bad_definition():
    def mutate(c):
        c["entry"][0]["mood"] = [{"value": "sad"}]
        c["descriptiondefinition"]["genre"]["type_extent"] = "everywhere"
    problems = _problems(mutate)
    assert "descriptiondefinition 'genre': type_extent 'everywhere' not one of" in problems[0]
    assert "entry 0 ('blues+++blues.00000.wav'), field 'mood': not in descriptiondefinition" in problems


def test_all_problems_reported_at_once_and_check_raises():
    data = published_document()
    entries = data["collection"]["entry"]
    entries[0]["tag"].append({"value": "banjo"})
    entries[1]["chord"][0]["duration"] = -1
    entries[4]["filepath"] = [{"value": ["a.wav"]}]  # a list is no file key
    doc = pyjama.PyjamaDoc.from_dict(data)
    assert len(pyjama.validate(doc)) == 3
    with pytest.raises(ValidationError) as info:
        pyjama.check(doc, source="x.pyjama")
    assert len(info.value.problems) == 3
    assert str(info.value).startswith("x.pyjama: entry 0") and str(info.value).endswith("(and 2 more)")


def test_validate_does_not_modify_the_document():
    doc = pyjama.PyjamaDoc.from_dict(published_document())
    before = copy.deepcopy(doc.to_dict())
    pyjama.validate(doc, doc.keys())
    assert doc.to_dict() == before


# ----------------------------------------------------------------------------- typed access


def test_vocabulary_and_labels():
    doc = pyjama.PyjamaDoc.from_dict(published_document())
    assert doc.vocabulary("genre") == ["blues", "country"]
    assert doc.vocabulary("chord") == ["Ab:min", "N"]  # no dictionary: sorted distinct values
    assert doc.labels("tag") == [["guitar", "slow"], [], [], [], []]
    assert doc.values("blues+++blues.00000.wav", "genre") == ["blues"]
    with pytest.raises(MirError, match="field 'mood' is not defined"):
        doc.labels("mood")
    with pytest.raises(MirError, match="key 'nope.wav' is not in"):
        doc.entry("nope.wav")


def test_vocabulary_of_a_malformed_field_is_one_line():
    data = published_document()
    data["collection"]["descriptiondefinition"]["genre"]["dictionary"] = "blues"
    doc = pyjama.PyjamaDoc.from_dict(data)
    with pytest.raises(MirError, match=r"^descriptiondefinition 'genre': dictionary 'blues' is not a list$"):
        doc.vocabulary("genre")
    doc.entries[2]["artist"] = [{"value": {"name": "x"}}]
    with pytest.raises(MirError, match=r"^entry 2 \('.+'\), field 'artist': a value is an object"):
        doc.vocabulary("artist")


def test_segments_arrays():
    doc = pyjama.PyjamaDoc.from_dict(published_document())
    time, duration, value = doc.segments("0+++clip-30-59.mp3", "pitchmidi")
    np.testing.assert_allclose(time, [0.521985, 1.37998])
    np.testing.assert_allclose(duration, [6.184995, 4.364])
    assert value.dtype == float and value.tolist() == [62.0, 61.0]
    _, _, chords = doc.segments(doc.index_of("country+++country.00000.wav"), "chord")
    assert chords.dtype == object and chords.tolist() == ["N", "Ab:min"]
    empty = doc.segments(0, "chord")
    assert [a.shape for a in empty] == [(0,), (0,), (0,)]


def test_breakpoints_arrays():
    doc = pyjama.PyjamaDoc.from_dict(published_document())
    time, value = doc.breakpoints(3, "f0multi")
    assert time.shape == (3,) and value.shape == (4, 3)
    np.testing.assert_allclose(value[:, 1], [60.5, 55.0, 48.0, 36.0])
    time, value = doc.breakpoints(0, "f0multi")
    assert time.shape == (0,) and value.shape == (4, 0)


def test_markers_arrays():
    doc = pyjama.PyjamaDoc()
    doc.define("beat", "marker", "numeric")
    doc.add_entry("a.wav", {"beat": pyjama.marker_atoms([0.5, 1.0], [1, 2])})
    time, value = doc.markers("a.wav", "beat")
    assert time.tolist() == [0.5, 1.0] and value.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("field, atoms, named", [
    ("chord", [{"value": "C:maj", "time": 0.0}], "atom 0: segment atom has no 'duration'"),
    ("chord", [{"value": "C:maj", "time": 0.0, "duration": 1.0}, {"value": "N", "time": "x", "duration": 1}],
     "atom 1: time 'x' is not a number"),
    ("pitchmidi", [{"value": "sixty", "time": 0.0, "duration": 1.0}], "atom 0: value 'sixty' is not a number"),
    ("beat", [{"value": 1}], "atom 0: marker atom has no 'time'"),
    ("f0multi", [{"time": [0.0, 0.01], "value": [[60, 61]] * 4}, {"time": [0.02], "value": [[60]] * 3}],
     "atom 1: breakpoint value has 3 rows, row_name has 4"),
    ("f0multi", [{"time": [0.0, 0.01], "value": [[60, 61, 62]] * 4}],
     "atom 0: breakpoint value has 3 columns, 'time' has 2"),
])
def test_typed_access_to_a_malformed_atom_names_entry_field_and_atom(field, atoms, named):
    """Targets read documents through these accessors: a bad atom is one MirError line, not a KeyError."""
    doc = pyjama.PyjamaDoc.from_dict(published_document())
    doc.define("beat", "marker", "numeric")
    key = doc.keys()[1]
    doc.entries[1][field] = atoms
    access = {"chord": doc.segments, "pitchmidi": doc.segments, "beat": doc.markers, "f0multi": doc.breakpoints}
    with pytest.raises(MirError) as caught:
        access[field](key, field)
    message = str(caught.value)
    assert f"entry 1 ({key!r}), field '{field}', {named}" in message and "\n" not in message
