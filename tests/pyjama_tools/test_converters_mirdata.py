"""``pyjama-convert mirdata``: every corpus of mirdata's samples (../shared/fixtures/mirdata) converts,
validates, and matches mirdata's own loader annotation by annotation; a corpus with no sample in the
fixtures (vocadito, built here in its true layout) converts the same way; failures are one line."""

from __future__ import annotations

import json
import math
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
from pyjama_tools.core.errors import MirError

mirdata = pytest.importorskip("mirdata")
annotations = pytest.importorskip("mirdata.annotations")

#: every sample index of the fixtures: (corpus, version, extra converter options)
CORPORA = [
    ("beatles", "1.2", {}),
    ("billboard", "2.0", {}),
    ("guitarset", "1.1.0", {}),
    ("ikala", "2.0", {}),
    ("irmas", "1.0", {}),
    ("maestro", "2.0.0", {}),
    ("mdb_stem_synth", "1.0.0", {}),
    ("medley_solos_db", "1.2", {}),
    ("medleydb_pitch", "3.0", {}),
    ("mtg_jamendo_autotagging_moodtheme", "1.0", {}),
    ("openmic2018", "1.0", {}),
    ("orchset", "1.0", {}),
    # Slakh's multif0 is its notes on a 10 ms grid (25 s and 12 MB for 11 stems): left out here to keep
    # the test fast; guitarset's MultiF0Data is compared below
    ("slakh", "baby", {"skip": "multif0"}),
    ("slakh", "2100-redux", {"skip": "multif0"}),
    ("tinysol", "6.0", {}),
]
LINKS = ("track_id", "mtrack_id", "stem")
#: label attribute of each segment annotation class with text values
LABELS = {"ChordData": "labels", "KeyData": "keys", "SectionData": "labels", "EventData": "events",
          "LyricData": "lyrics"}


def index_file(name: str, version: str) -> Path:
    return fixture_path("mirdata", "indexes", f"{name}_index_{version}_sample.json")


def open_dataset(name: str, version: str, data_home: Path, index: Path):
    """mirdata's Dataset reading ``index`` (the reference the conversion is compared with)."""
    dataset = mirdata.initialize(name, data_home=str(data_home), version=version)
    dataset.index_path = str(index)
    return dataset


def hz_to_midi(hz) -> np.ndarray:
    return 69.0 + 12.0 * np.log2(np.asarray(hz, dtype=float) / 440.0)


def seconds(values, unit: str | None) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values / 1000.0 if unit == "ms" else values


def mirdata_annotations(obj, skip: set[str]) -> dict[str, object]:
    """Field name → mirdata annotation object, from every attribute of a Track / MultiTrack."""
    found: dict[str, object] = {}

    def collect(name, value):
        if isinstance(value, annotations.MultiAnnotator):
            for annotator, annotation in zip(value.annotators, value.annotations):
                collect(f"{name}_{annotator}", annotation)
        elif isinstance(value, annotations.Annotation):
            found[name] = value
        elif isinstance(value, dict):
            for key, item in value.items():
                collect(f"{name}_{key}", item)

    for name in dir(obj):
        if name.startswith("_") or "audio" in name.split("_") or name.endswith("_path") or name in skip:
            continue
        if callable(getattr(type(obj), name, None)):
            continue  # a method
        collect(name, getattr(obj, name))
    return found


def expected(annotation, unit: str | None) -> tuple[str, np.ndarray, np.ndarray | None, object]:
    """(extent, times s, durations s or None, values) that the field of ``annotation`` must hold; pitches
    in ``unit`` (the field's recorded unit)."""
    kind = type(annotation).__name__

    def pitch(hz):
        return np.asarray(hz, dtype=float) if unit == "hz" else hz_to_midi(hz)

    if kind in LABELS or kind in ("NoteData", "TempoData"):
        intervals = seconds(annotation.intervals, getattr(annotation, "interval_unit", "s"))
        if kind in LABELS:
            values = list(getattr(annotation, LABELS[kind]) or [""] * len(intervals))
        elif kind == "TempoData":
            values = np.asarray(annotation.tempos, dtype=float)
        else:
            assert annotation.pitch_unit in ("hz", "midi")
            values = annotation.pitches if annotation.pitch_unit == unit else pitch(annotation.pitches)
        return "segment", intervals[:, 0], intervals[:, 1] - intervals[:, 0], values
    if kind == "BeatData":
        positions = annotation.positions if annotation.positions is not None \
            else np.arange(1, len(annotation.times) + 1)
        return "marker", seconds(annotation.times, annotation.time_unit), None, np.asarray(positions, dtype=float)
    if kind == "F0Data":
        frequencies = np.asarray(annotation.frequencies, dtype=float)
        voiced = (np.asarray(annotation.voicing) > 0) & (frequencies > 0)
        assert annotation.frequency_unit == "hz"
        values = np.where(voiced, pitch(np.where(voiced, frequencies, 1.0)), 0.0)
        return "breakpoint", seconds(annotation.times, annotation.time_unit), None, values[None, :]
    if kind == "MultiF0Data":
        assert annotation.frequency_unit == "hz"
        frames = [sorted(pitch([f for f in frame if f > 0])) for frame in annotation.frequency_list]
        return "breakpoint", seconds(annotation.times, annotation.time_unit), None, frames
    raise AssertionError(f"no expectation written for {kind}")


def assert_same_as_mirdata(doc: pyjama.PyjamaDoc, key: str, field: str, annotation) -> None:
    """The field holds the events, times and values of mirdata's annotation, one by one."""
    extent, times, durations, values = expected(annotation, doc.definition(field).extra.get("unit"))
    assert doc.definition(field).type_extent == extent, field
    where = f"{key} {field}"
    if extent == "segment":
        got_time, got_duration, got_value = doc.segments(key, field)
        assert len(got_time) == len(times), where
        np.testing.assert_allclose(got_duration, durations, rtol=1e-9, atol=1e-9, err_msg=where)
    elif extent == "marker":
        got_time, got_value = doc.markers(key, field)
        assert len(got_time) == len(times), where
    else:
        got_time, got_value = doc.breakpoints(key, field)
        assert len(got_time) == len(times), where  # every frame of mirdata's grid, unvoiced ones too
        if isinstance(values, list):  # MultiF0: the pitches of each frame, 0 where a frame has fewer
            rows = [sorted(column[column > 0]) for column in got_value.T]
            assert [len(r) for r in rows] == [len(v) for v in values], where
            np.testing.assert_allclose(np.concatenate([np.zeros(0)] + rows), np.concatenate([np.zeros(0)] + values),
                                       rtol=1e-9, err_msg=where)
            values = None
    np.testing.assert_allclose(got_time, times, rtol=1e-9, atol=1e-9, err_msg=where)
    if values is None:
        return
    if doc.definition(field).type_content == "numeric":
        assert doc.definition(field).extra.get("unit") or extent == "segment", where
        np.testing.assert_allclose(np.asarray(got_value, dtype=float), np.asarray(values, dtype=float),
                                   rtol=1e-9, atol=1e-9, err_msg=where)
    else:
        assert list(got_value) == list(values), where


def assert_metadata(doc: pyjama.PyjamaDoc, key: str, obj, skip: set[str]) -> None:
    """Text, number and boolean attributes are global fields of the same value."""
    for name in dir(obj):
        if name.startswith("_") or "audio" in name.split("_") or name.endswith("_path") or name in skip \
                or name in LINKS or callable(getattr(type(obj), name, None)):
            continue
        value = getattr(obj, name)
        if isinstance(value, bool):
            assert doc.values(key, name) == ["true" if value else "false"], name
        elif isinstance(value, str) or (isinstance(value, (int, float)) and math.isfinite(value)):
            got = doc.values(key, name)
            assert got in ([value], [str(value)]), (key, name, got, value)


def audio_of(entry: dict) -> str:
    """The audio file of an index entry: ``audio``, else ``mix``, else its first audio file."""
    audio = [k for k, v in entry.items() if k != "tracks" and v and Path(str(v[0])).suffix in (".wav", ".flac",
                                                                                              ".mp3", ".ogg")]
    return entry[next((k for k in ("audio", "mix") if k in audio), audio[0])][0]


def files_present(entry: dict, data_home: Path) -> bool:
    return all((data_home / v[0]).exists() for k, v in entry.items()
               if k != "tracks" and isinstance(v, list) and v and isinstance(v[0], str))


def check_corpus(name: str, version: str, data_home: Path, index: Path, out: Path, **options) -> pyjama.PyjamaDoc:
    """Convert, validate, and compare every entry with mirdata's loader; returns the document."""
    report = convert("mirdata", data_home, out, sample_rate=None, quiet=True, dataset=name, version=version,
                     index=str(index), **options)
    doc = pyjama.load(report.pyjama_path)
    with AudioStore(report.payload_path) as store:
        assert pyjama.validate(doc, store.keys()) == []
        lengths = {key: store.num_samples(key) for key in store.keys()}
        rates = {key: store.sample_rate(key) for key in store.keys()}
    # every track (and multitrack mixture) whose files are all there is an entry; the others are reported
    raw = json.loads(index.read_text())
    complete = {t for section in ("tracks", "multitracks") for t, e in raw.get(section, {}).items()
                if files_present(e, data_home)}
    converted = [doc.values(i, "track_id")[0] for i in range(len(doc.entries))]
    assert sorted(converted) == sorted(complete)
    reported = {p.where.split(" ", 1)[1] for p in report.problems}
    assert reported == {t for s in ("tracks", "multitracks") for t in raw.get(s, {})} - complete
    skip = set((options.get("skip") or "").split(","))
    dataset = open_dataset(name, version, data_home, index)
    for key in doc.keys():
        track_id = doc.values(key, "track_id")[0]
        is_mixture = "stem" in doc.fields() and doc.values(key, "stem") == ["mixture"]
        obj = dataset.multitrack(track_id) if is_mixture else dataset.track(track_id)
        wanted = mirdata_annotations(obj, skip)
        fields = {f for f, atoms in doc.entry(key).items() if atoms and doc.definition(f).type_extent != "global"}
        assert fields == set(wanted), key  # one field per annotation, named as the attribute
        for field, annotation in wanted.items():
            assert_same_as_mirdata(doc, key, field, annotation)
        assert_metadata(doc, key, obj, skip)
        # the audio: the index's file at its own rate, every sample (mixed down to mono)
        info = soundfile.info(str(data_home / audio_of(raw["multitracks" if is_mixture else "tracks"][track_id])))
        assert rates[key] == info.samplerate
        assert abs(lengths[key] - info.frames) <= (2048 if info.format == "MP3" else 0), key
    return doc


@pytest.fixture(scope="module")
def fixture_corpus(tmp_path_factory):
    """(name, version) → its checked document, each corpus converted and compared once per module."""
    done: dict[tuple[str, str], pyjama.PyjamaDoc] = {}

    def get(name: str, version: str) -> pyjama.PyjamaDoc:
        if (name, version) not in done:
            options = next(o for n, v, o in CORPORA if (n, v) == (name, version))
            data_home = fixture_path("mirdata", "resources", name)
            out = tmp_path_factory.mktemp(f"{name}-{version}")
            done[name, version] = check_corpus(name, version, data_home, index_file(name, version), out, **options)
        return done[name, version]

    return get


@pytest.mark.parametrize("name,version", [c[:2] for c in CORPORA], ids=[f"{c[0]}-{c[1]}" for c in CORPORA])
def test_every_fixture_corpus_matches_mirdata(name, version, fixture_corpus):
    assert fixture_corpus(name, version).entries


def test_guitarset_strings_and_units(fixture_corpus):
    """Dicts of annotations give one field per key; each pitch field is read by mirfeat in its recorded unit."""
    from mirfeat.targets import pitch_unit_of, pitch_values

    doc = fixture_corpus("guitarset", "1.1.0")
    key = doc.keys()[0]
    strings = sorted(f for f in doc.entry(key) if f.startswith("pitch_contours_"))
    assert strings and all(doc.definition(f).type_extent == "breakpoint" for f in strings)
    assert doc.definition("multif0").extra["unit"] == "midi"
    assert {doc.definition(f).extra["unit"] for f in strings} == {"hz"}  # the name says contour: Hz
    for field in ("multif0", "notes_all", *strings):  # what mirfeat reads is the unit recorded
        assert pitch_unit_of(field, pitch_values(doc, key, field)) == doc.definition(field).extra["unit"]
    assert doc.definition("beats").type_content == "numeric"


def test_multitrack_mixture_and_stems_are_linked(fixture_corpus):
    doc = fixture_corpus("slakh", "baby")
    mixtures = [k for k in doc.keys() if doc.values(k, "stem") == ["mixture"]]
    assert len(mixtures) == 1
    mtrack = doc.values(mixtures[0], "mtrack_id")[0]
    stems = [k for k in doc.keys() if k not in mixtures]
    assert stems and all(doc.values(k, "mtrack_id") == [mtrack] for k in stems)
    assert sorted(doc.values(k, "stem")[0] for k in stems) == sorted(doc.values(k, "track_id")[0] for k in stems)
    assert set(doc.values(mixtures[0], "track_ids")) >= {doc.values(k, "track_id")[0] for k in stems}


# ----------------------------------------------------------------------------- a corpus not in the fixtures


def make_vocadito(root: Path) -> Path:
    """A two-track vocadito in its true layout (Audio/, Annotations/{F0,Notes,Lyrics}, metadata CSV) with
    a bass-range f0 (55-110 Hz: numbers that would pass for MIDI), and its index; returns the index."""
    rate = 8000
    tracks = {}
    for number in (1, 2):
        track = f"vocadito_{number}"
        paths = {"audio": f"Audio/{track}.wav", "f0": f"Annotations/F0/{track}_f0.csv",
                 "lyrics": f"Annotations/Lyrics/{track}_lyrics.lab",
                 "notesA1": f"Annotations/Notes/{track}_notesA1.csv",
                 "notesA2": f"Annotations/Notes/{track}_notesA2.csv"}
        for path in paths.values():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(root / paths["audio"], 0.1 * np.sin(2 * np.pi * 80 * np.arange(rate) / rate), rate)
        times = np.round(np.arange(100) * 0.0058, 4)
        f0 = np.where(np.arange(100) % 10 < 7, np.linspace(55.0, 110.0, 100), 0.0)
        (root / paths["f0"]).write_text("".join(f"{t:.4f},{f:.4f}\n" for t, f in zip(times, f0)))
        notes = "0.0,55.0,0.2\n0.25,82.4,0.2\n"
        (root / paths["notesA1"]).write_text(notes)
        (root / paths["notesA2"]).write_text(notes + "0.5,110.0,0.1\n")
        (root / paths["lyrics"]).write_text("la la\n")
        tracks[track] = {k: [v, None] for k, v in paths.items()}
    (root / "vocadito_metadata.csv").write_text("track_id,singer_id,average_pitch,language\n"
                                                "vocadito_1,s1,40,English\nvocadito_2,s2,45,Spanish\n")
    index = root / "vocadito_index.json"
    index.write_text(json.dumps({"version": "1.0", "tracks": tracks}))
    return index


def test_a_corpus_never_seen_converts_the_same_way(tmp_path):
    """vocadito has no sample in the fixtures and no code of its own here: F0Data and NoteData fields, its
    metadata, all matching mirdata; its f0 in Hz is stored in MIDI so that 55-110 Hz is not read as MIDI."""
    from mirfeat.targets import pitch_unit_of, pitch_values

    data_home = tmp_path / "vocadito"
    index = make_vocadito(data_home)
    doc = check_corpus("vocadito", "1.0", data_home, index, tmp_path / "out")
    assert len(doc.entries) == 2
    key = doc.keys()[0]
    assert {"f0", "notes_a1", "notes_a2", "language", "singer_id", "average_pitch_midi"} <= set(doc.entry(key))
    _, f0 = doc.breakpoints(key, "f0")
    assert f0.shape == (1, 100) and (f0 == 0).sum() == 30  # every frame kept, unvoiced as 0
    np.testing.assert_allclose(f0[f0 > 0].min(), 33.0, atol=1e-6)  # 55 Hz = MIDI 33
    assert pitch_unit_of("f0", pitch_values(doc, key, "f0")) == doc.definition("f0").extra["unit"] == "midi"


def test_split_keeps_the_official_split(tmp_path):
    data_home = fixture_path("mirdata", "resources", "irmas")
    report = convert("mirdata", data_home, tmp_path, sample_rate=None, dataset="irmas", version="1.0",
                     index=str(index_file("irmas", "1.0")), split="train")
    doc = pyjama.load(report.pyjama_path)
    assert doc.entries and all(doc.values(k, "split") == ["train"] for k in doc.keys())
    with pytest.raises(MirError, match="no mirdata items found|no .* items"):
        convert("mirdata", data_home, tmp_path / "none", sample_rate=None, dataset="irmas", version="1.0",
                index=str(index_file("irmas", "1.0")), split="nosuchsplit")


def test_audio_key_chooses_the_recording(tmp_path):
    data_home = fixture_path("mirdata", "resources", "guitarset")
    report = convert("mirdata", data_home, tmp_path, sample_rate=None, dataset="guitarset", version="1.1.0",
                     index=str(index_file("guitarset", "1.1.0")), audio_key="audio_mic")
    assert all(k.startswith("audio_mono-mic+++") for k in pyjama.load(report.pyjama_path).keys())


@pytest.mark.parametrize("option,value,message", [
    ("--skip", "chord", "--skip chord: no track has such an attribute"),  # the attribute is 'chords'
    ("--split", "train,tset", "--split tset"),  # irmas: the train tracks alone would be written
])
def test_a_misspelt_skip_or_split_name_is_refused(tmp_path, option, value, message):
    """A --skip or --split name that no track has is a typo: one line naming it, nothing written (it
    converted silently, keeping what --skip meant to leave out, or only some of the splits asked for)."""
    name, version = ("beatles", "1.2") if option == "--skip" else ("irmas", "1.0")
    data_home = fixture_path("mirdata", "resources", name)
    result = CliRunner().invoke(main, ["mirdata", name, str(data_home), str(tmp_path), "--version", version,
                                       "--index", str(index_file(name, version)), option, value,
                                       "--sr", "native", "--quiet"])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.output
    assert not list(tmp_path.glob("*.pyjama")) and not list(tmp_path.glob("*.hdf5"))


# ----------------------------------------------------------------------------- mapping rules


def test_multiannotator_and_lists_expand_by_annotator():
    from pyjama_tools.mirdata_fields import fields_of

    beats = [annotations.BeatData(np.array([0.5, 1.0]), "s", np.array([1, 2]), "bar_index"),
             annotations.BeatData(np.array([0.25]), "s", None, None)]
    fields = fields_of("beats", annotations.MultiAnnotator(["ann1", "ann2"], beats, annotations.BeatData), "x")
    assert set(fields) == {"beats_ann1", "beats_ann2"}
    kind, atoms = fields["beats_ann2"]
    assert kind.unit == "global_index" and atoms == [{"value": 1.0, "time": 0.25}]
    kind, atoms = fields_of("tempo", annotations.TempoData(np.array([[0.0, 2000.0]]), "ms", np.array([120.0]),
                                                           "bpm"), "x")["tempo"]
    assert atoms == [{"value": 120.0, "time": 0.0, "duration": 2.0}] and kind.unit == "bpm"


def test_an_annotation_class_we_do_not_know_fails_naming_it(tmp_path, monkeypatch):
    """The mapping is by class: a class without a writer stops the conversion with one line, nothing written."""
    from pyjama_tools import mirdata_fields
    from pyjama_tools.core.registry import Registry

    without_chords = Registry(mirdata_fields.WRITERS.kind)
    for name, writer in mirdata_fields.WRITERS.items():
        if name != "ChordData":
            without_chords.add(name, writer)
    monkeypatch.setattr(mirdata_fields, "WRITERS", without_chords)
    data_home = fixture_path("mirdata", "resources", "beatles")
    result = CliRunner().invoke(main, ["mirdata", "beatles", str(data_home), str(tmp_path), "--version", "1.2",
                                       "--index", str(index_file("beatles", "1.2")), "--sr", "native", "--quiet"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "ChordData" in lines[0] and "chords" in lines[0], result.output
    assert not list(tmp_path.glob("*.pyjama"))


@pytest.mark.parametrize("args,message", [
    (["beatle"], "unknown corpus 'beatle' (did you mean beatles"),
    (["beatles", "--version", "9.9"], "--version '9.9'"),
    (["beatles", "--index", "/no/such/index.json"], "/no/such/index.json: no such index file"),
    (["ballroom"], "index"),  # no index beside mirdata (its real one is remote) and none given
    # mirdata 1.0's own loader cannot read the 2.0 index (its Track asks for notes_pyin): one line naming it
    (["medleydb_pitch", "--version", "2.0", "--index", "INDEX:medleydb_pitch:2.0"], "notes_pyin"),
])
def test_mistakes_are_one_line(tmp_path, args, message):
    args = [str(index_file(*a.split(":")[1:])) if a.startswith("INDEX:") else a for a in args]
    data_home = fixture_path("mirdata", "resources", "medleydb_pitch" if args[0] == "medleydb_pitch" else "beatles")
    result = CliRunner().invoke(main, ["mirdata", args[0], str(data_home), str(tmp_path / "out"), *args[1:],
                                       "--sr", "native", "--quiet"])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.output
    assert not list((tmp_path / "out").glob("*.pyjama")) if (tmp_path / "out").exists() else True


def test_list_shows_the_mirdata_corpora():
    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 0
    assert "mirdata corpora" in result.output and "guitarset" in result.output and "vocadito" in result.output


def test_without_mirdata_the_command_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "mirdata", None)  # import mirdata now raises ImportError
    result = CliRunner().invoke(main, ["mirdata", "beatles", str(tmp_path), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.output.strip() == "error: mirdata is not installed (pip install 'mir101[mirdata]')"
    assert "mirdata is not installed" in CliRunner().invoke(main, ["list"]).output


def test_fields_serve_the_books_targets(fixture_corpus):
    """Beatles `chords` give the chord recipe's frame labels; GuitarSet `multif0` (MIDI) and `pitch_contours_e`
    (Hz) give the multi-pitch recipe's salience at mirdata's pitches."""
    import librosa

    from mirfeat.targets import TargetSpec, build_target

    doc = fixture_corpus("beatles", "1.2")
    key = doc.keys()[0]
    time_sec = np.arange(0.0, 20.0, 0.1)
    chords = build_target(TargetSpec("framelabel", "chords", chord_vocabulary="majmin"), doc)
    y = chords.for_file(key, time_sec)
    onset, duration, labels = doc.segments(key, "chords")
    frame = 50  # 5 s
    segment = np.flatnonzero((onset <= time_sec[frame]) & (time_sec[frame] < onset + duration))[0]
    assert labels[segment] == "E:min" and chords.vocabulary[y[frame]] == "E:min"

    doc = fixture_corpus("guitarset", "1.1.0")
    key = doc.keys()[0]
    frequency_hz = librosa.cqt_frequencies(72, fmin=32.7)
    for field in ("multif0", "pitch_contours_e"):
        time, values = doc.breakpoints(key, field)
        salience = build_target(TargetSpec("pitch", field), doc).for_file(key, time, frequency_hz)
        midi = values if doc.definition(field).extra["unit"] == "midi" else hz_to_midi(np.where(values > 0, values, 1))
        row, column = np.nonzero(values > 0)
        assert row.size and salience.sum() > 0
        nearest = np.abs(hz_to_midi(frequency_hz)[:, None] - midi[row, column][None, :]).argmin(axis=0)
        assert salience[nearest, column].all(), field


def test_pitch_unit_follows_the_field_name():
    """A name that says its unit gets that unit (what mirfeat reads from it); any other name gets MIDI."""
    from mirfeat.targets import pitch_unit_of

    from pyjama_tools.mirdata_fields import fields_of

    notes = annotations.NoteData(np.array([[0.0, 1.0]]), "s", np.array([110.0]), "hz")  # 110 Hz: MIDI 45
    for name, unit, value in (("notes_hz", "hz", 110.0), ("notes", "midi", 45.0), ("note_midi", "midi", 45.0)):
        kind, atoms = fields_of(name, notes, "x")[name]
        assert kind.unit == unit and atoms[0]["value"] == pytest.approx(value)
        assert pitch_unit_of(name, np.array([value])) == unit
    f0 = annotations.F0Data(np.array([0.0, 0.01, 0.02]), "s", np.array(["A4", "C5", "A4"], dtype=object),
                            "note_name", np.array([1.0, 0.0, 1.0]), "binary")
    kind, atoms = fields_of("f0", f0, "x")["f0"]
    assert atoms == [{"value": [[69.0, 0.0, 69.0]], "time": [0.0, 0.01, 0.02]}]
