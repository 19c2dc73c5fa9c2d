"""The converters on the layouts users actually download (issue 11 part 2): MAESTRO v1/v2/v3 metadata,
GuitarSet as published, tag tables with several tags per row, label files beside the audio (IRMAS),
GTZAN beats and tempo, every Da-TACOS feature in one run, MUSDB18 from any root.

Real samples (``../shared/fixtures``) are read where they exist (skipped when absent); otherwise a
small corpus is written in the true layout.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner, Result
from conftest import fixture_path

from pyjama_tools import pyjama
from pyjama_tools.cli import main
from pyjama_tools.convert import convert
from pyjama_tools.core.errors import MirError


def write_audio(path: Path, seconds: float = 0.2, rate: int = 22050, channels: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    soundfile.write(path, 0.1 * rng.standard_normal((int(seconds * rate), channels)).astype(np.float32), rate)
    return path


def cli(*args) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def assert_valid(out: Path, base: str, payload: str | None = None) -> pyjama.PyjamaDoc:
    """``pyjama-convert validate`` accepts the pair; returns the document."""
    result = cli("validate", out / f"{base}.pyjama", "--audio", out / (payload or f"{base}_audio.hdf5"))
    assert result.exit_code == 0, result.output
    return pyjama.load(out / f"{base}.pyjama")


# ============================================================================ MAESTRO

MAESTRO_SAMPLE = "2018/MIDI-Unprocessed_Chamber3_MID--AUDIO_10_R3_2018_wav--1"


def test_maestro_v2_list_of_records_real_sample(tmp_path):
    root = fixture_path("mirdata", "resources", "maestro")
    result = cli("maestro", root, tmp_path, "--quiet")
    assert result.exit_code == 0, result.output
    doc = assert_valid(tmp_path, "maestro")
    key = MAESTRO_SAMPLE.replace("/", "+++") + ".wav"
    assert doc.keys() == [key]
    assert doc.labels("split") == [["train"]] and doc.labels("composer") == [["Alban Berg"]]
    assert doc.labels("title") == [["Sonata Op. 1"]] and doc.labels("year") == [[2018]]
    assert doc.definitions["year"].type_content == "numeric"
    time, duration, pitch = doc.segments(key, "pitchmidi")
    v_time, v_duration, velocity = doc.segments(key, "velocity")
    assert len(pitch) == 4197  # every note of the MIDI file
    np.testing.assert_array_equal(time, v_time)
    np.testing.assert_array_equal(duration, v_duration)
    assert 1 <= velocity.min() and velocity.max() <= 127 and len(np.unique(velocity)) > 10


def _maestro_records(root: Path) -> list[dict]:
    from test_converters_a import write_midi

    write_midi(root / "2004" / "a.midi", [(60, 0, 480), (64, 480, 960)])
    write_audio(root / "2004" / "a.wav")
    return [{"canonical_composer": "J. S. Bach", "canonical_title": "Prelude", "split": "train", "year": 2004,
             "midi_filename": "2004/a.midi", "audio_filename": "2004/a.wav", "duration": 1.0}]


@pytest.mark.parametrize("version", ["1.0.0", "2.0.0"])
def test_maestro_json_list_of_records(tmp_path, version):
    root = tmp_path / "maestro"
    records = _maestro_records(root)
    (root / f"maestro-v{version}.json").write_text(json.dumps(records, indent=4))
    report = convert("maestro", root, tmp_path / "out")
    assert report.entries == 1 and report.problems == []
    doc = pyjama.load(report.pyjama_path)
    assert doc.values(0, "pitchmidi") == [60, 64]
    assert doc.values(0, "velocity") == [80, 80]  # write_midi's velocity
    assert doc.labels("year") == [[2004]]


def test_maestro_broken_json_falls_back_to_the_csv_beside_it(tmp_path):
    root = tmp_path / "maestro"
    records = _maestro_records(root)
    (root / "maestro-v2.0.0.json").write_text('[{"midi_filename": ')
    header = list(records[0])
    (root / "maestro-v2.0.0.csv").write_text(",".join(header) + "\n"
                                             + ",".join(str(records[0][c]) for c in header) + "\n")
    report = convert("maestro", root, tmp_path / "out")
    assert report.entries == 1
    assert [str(p) for p in report.problems] == [
        f"{root / 'maestro-v2.0.0.json'}: malformed JSON at line 1, column 20: Expecting value; "
        "read maestro-v2.0.0.csv instead"]
    assert pyjama.load(report.pyjama_path).labels("year") == [[2004]]
    # an older version's files beside it are not mixed in
    (root / "maestro-v1.0.0.json").write_text("[]")
    assert convert("maestro", root, tmp_path / "out2").entries == 1


def test_maestro_bad_year_and_bad_json_shape(tmp_path):
    root = tmp_path / "maestro"
    records = _maestro_records(root)
    (root / "maestro-v2.0.0.json").write_text(json.dumps([dict(records[0], year="MMIV")]))
    with pytest.raises(MirError, match=r"row 0: year 'MMIV' is not a whole number"):
        convert("maestro", root, tmp_path / "out", strict=True)
    (root / "maestro-v2.0.0.json").write_text(json.dumps([1, 2]))
    result = cli("maestro", root, tmp_path / "out")
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "maestro-v2.0.0.json: expected a list of records" in result.output


# ============================================================================ GTZAN beats and tempo


def test_gtzan_beats_and_tempo_from_the_folder_beside_genres(tmp_path):
    source = fixture_path("gtzan_genre", "gtzan_genre")
    beats_file = fixture_path("gtzan_genre", "gtzan_tempo_beat-main", "beats", "gtzan_country_00000.beats")
    result = cli("gtzan", source, tmp_path, "--quiet")
    assert result.exit_code == 0, result.output
    doc = assert_valid(tmp_path, "gtzan-genre")
    expected = np.loadtxt(beats_file, ndmin=2)
    time, position = doc.markers("country+++country.00000.wav", "beat")
    np.testing.assert_allclose(time, expected[:, 0])
    np.testing.assert_array_equal(position, expected[:, 1])
    assert doc.definitions["beat"].type_content == "numeric"
    assert doc.labels("tempo") == [[pytest.approx(85.53)]]
    assert doc.labels("genre") == [["country"]]


def test_gtzan_tempo_beat_option_missing_and_bad_files(tmp_path):
    src = tmp_path / "gtzan"
    write_audio(src / "genres" / "blues" / "blues.00000.wav")
    write_audio(src / "genres" / "blues" / "blues.00001.wav")
    annotations = tmp_path / "annotations"
    (annotations / "beats").mkdir(parents=True)
    (annotations / "tempo").mkdir()
    (annotations / "beats" / "gtzan_blues_00000.beats").write_text("0.5\n1.0\n")  # times only
    (annotations / "tempo" / "gtzan_blues_00000.bpm").write_text("120\n")
    (annotations / "beats" / "gtzan_blues_00001.beats").write_text("0.5\t1\nabc\t2\n")
    report = convert("gtzan", src, tmp_path / "out", tempo_beat=annotations)
    assert report.entries == 2
    doc = pyjama.load(report.pyjama_path)
    assert doc.markers(0, "beat")[1].tolist() == [0, 0]
    assert doc.labels("tempo") == [[120.0], []]
    assert doc.labels("genre") == [["blues"], ["blues"]]
    found = [str(p) for p in report.problems]
    assert found == [
        f"{annotations / 'beats' / 'gtzan_blues_00001.beats'}: line 2: expected 'time [position]' (numbers, "
        "time >= 0), got 'abc\\t2' (beat left out)",
        f"{annotations / 'tempo' / 'gtzan_blues_00001.bpm'}: no tempo annotation for blues/blues.00001.wav "
        "(genre kept)"]
    result = cli("gtzan", src, tmp_path / "out2", "--tempo-beat", tmp_path)
    assert result.exit_code == 1 and result.output.strip() == (
        f"error: {tmp_path}: no 'beats' or 'tempo' folder (expected the gtzan_tempo_beat folder)")


# ============================================================================ MUSDB18 from any root


def _musdb_keys(root: Path) -> list[str]:
    from pyjama_tools.converters import get_converter_class

    return [i.key for i in get_converter_class("musdb18")(root).items() if not hasattr(i, "message")]


def test_musdb18_real_tree_from_any_root():
    release = fixture_path("musdb18", "MUSDB18-7-SAMPLE")
    expected = [f"train+++Music Delta - 80s Rock+++{s}" for s in ("mixture", "drums", "bass", "other", "vocals")]
    assert _musdb_keys(release) == expected  # the release folder (holds train/)
    assert _musdb_keys(release.parent) == expected  # the folder the release was unzipped into
    assert _musdb_keys(release / "train") == expected  # the split folder itself


def test_musdb18_hq_tree_from_any_root(tmp_path):
    from test_converters_musdb18 import make_hq_track

    release = tmp_path / "downloads" / "musdb18hq"
    make_hq_track(release, "train", "A - One")
    make_hq_track(release, "test", "B - Two")
    for root in (tmp_path / "downloads", tmp_path, release / "test"):
        report = convert("musdb18", root, tmp_path / "out", overwrite=True)
        doc = pyjama.load(report.pyjama_path)
        if root.name == "test":
            assert doc.keys()[0] == "test+++B - Two+++mixture" and report.entries == 5
        else:
            assert report.entries == 10 and report.problems == []
            assert set(doc.labels("split")[0] + doc.labels("split")[-1]) == {"train", "test"}
    (tmp_path / "empty" / "a" / "b" / "c" / "train").mkdir(parents=True)  # deeper than the search
    with pytest.raises(MirError, match=r"empty: no 'train' or 'test' folder in it or up to 3 levels below"):
        convert("musdb18", tmp_path / "empty", tmp_path / "out3")


# ============================================================================ tag tables, label files beside the audio

MTG_HEADER = "TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS\n"


def test_folder_mtg_jamendo_tsv_real_sample(tmp_path):
    root = fixture_path("mirdata", "resources", "mtg_jamendo_autotagging_moodtheme")
    result = cli("folder", root / "audios", tmp_path, "--labels", root / "data" / "autotagging_moodtheme.tsv",
                 "--key-column", "PATH", "--label-column", "TAGS", "--field", "tag", "--quiet")
    assert result.exit_code == 0, result.output
    doc = assert_valid(tmp_path, "folder")
    assert doc.keys() == ["48+++948.mp3"] and doc.labels("tag") == [["mood/theme---background"]]


def test_folder_several_tags_per_row_become_several_labels(tmp_path):
    src = tmp_path / "audios"
    write_audio(src / "48" / "948.wav")
    write_audio(src / "14" / "214.wav")
    write_audio(src / "00" / "1.wav")
    table = tmp_path / "autotagging_moodtheme.tsv"
    table.write_text(MTG_HEADER
                     + "track_0000948\tartist_000087\talbum_000149\t48/948.wav\t212.7\tmood/theme---background\n"
                     + "track_0000214\tartist_000014\talbum_000031\t14/214.wav\t124.6\tmood/theme---film"
                       "\tmood/theme---love\tmood/theme---sad\n"
                     + "track_0000001\tartist_000001\n")
    report = convert("folder", src, tmp_path / "out", labels=table, key_column="PATH", label_column="TAGS",
                     field="tag")
    doc = pyjama.load(report.pyjama_path)
    assert dict(zip(doc.keys(), doc.labels("tag"))) == {
        "48+++948.wav": ["mood/theme---background"],
        "14+++214.wav": ["mood/theme---film", "mood/theme---love", "mood/theme---sad"]}
    assert doc.vocabulary("tag") == ["mood/theme---background", "mood/theme---film", "mood/theme---love",
                                     "mood/theme---sad"]
    assert [str(p) for p in report.problems] == [f"{table} line 4: expected 6 cells, got 2",
                                                 f"{src / '00' / '1.wav'}: audio without annotation: not in {table}"]
    # extra cells are labels only after the last column
    with pytest.raises(MirError, match=r"line 3: expected 6 cells, got 8 \(several labels per row are read only "
                                       r"when 'TRACK_ID' is the last column\)"):
        convert("folder", src, tmp_path / "out2", labels=table, key_column="PATH", label_column="TRACK_ID",
                strict=True)


IRMAS_TEST = "IRMAS-TestingData-Part1/Part1/02 - And The Body Will Die-8.wav"
IRMAS_TRAIN = "IRMAS-TrainingData/cla/[cla][cla]0189__2.wav"


def test_folder_never_takes_a_folder_name_beside_a_label_file(tmp_path):
    root = fixture_path("mirdata", "resources", "irmas")
    report = convert("folder", root, tmp_path / "out", field="instrument")
    doc = pyjama.load(report.pyjama_path)
    assert dict(zip(doc.keys(), doc.labels("instrument"))) == {IRMAS_TRAIN.replace("/", "+++"): ["cla"]}
    assert [str(p) for p in report.problems] == [
        f"{root / IRMAS_TEST}: 02 - And The Body Will Die-8.txt lies beside it (its labels?): read it with "
        "--label-files .txt, or give --labels FILE; the folder name 'Part1' is not taken"]
    result = cli("folder", root / "IRMAS-TestingData-Part1", tmp_path / "out2")
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "no folder items found" in result.output and "--label-files .txt" in result.output


def test_folder_label_files_beside_the_audio(tmp_path):
    root = fixture_path("mirdata", "resources", "irmas")
    result = cli("folder", root, tmp_path, "--label-files", ".txt", "--field", "instrument", "--quiet")
    assert result.exit_code == 0, result.output
    doc = assert_valid(tmp_path, "folder")
    assert dict(zip(doc.keys(), doc.labels("instrument"))) == {
        IRMAS_TEST.replace("/", "+++"): ["gel", "voi"],  # the .txt's lines (TAB-terminated)
        IRMAS_TRAIN.replace("/", "+++"): ["cla"]}  # no .txt beside it: the folder
    src = tmp_path / "corpus"
    write_audio(src / "a" / "x.wav")
    (src / "a" / "x.txt").write_text("\n\n")
    with pytest.raises(MirError, match=r"x.txt: no label in it \(one label per line expected\)"):
        convert("folder", src, tmp_path / "out2", label_files="txt", strict=True)
    with pytest.raises(MirError, match="--label-files and --labels: give one of them"):
        convert("folder", src, tmp_path / "out2", label_files=".txt", labels=src / "a" / "x.txt")


# ============================================================================ Da-TACOS: every feature in one run

DA_TACOS_KEY = "W_163992+++P_547131"


def test_da_tacos_every_feature_of_the_subset_in_one_run(tmp_path):
    import h5py

    root = fixture_path("da_tacos")
    result = cli("da-tacos", root, tmp_path, "--feature", "all", "--quiet")
    assert result.exit_code == 0, result.output
    doc = assert_valid(tmp_path, "da-tacos", "da-tacos_crema_feat.hdf5")
    shapes = {"crema": (1, 12, 15226), "cens": (1, 12, 15227), "hpcp": (1, 12, 15227), "mfcc": (1, 13, 15183),
              "novfn": (1, 1, 15227), "snovfn": (1, 1, 15227)}
    for feature, shape in shapes.items():
        with h5py.File(tmp_path / f"da-tacos_{feature}_feat.hdf5", "r") as handle:
            assert handle.attrs["feature"] == feature and handle.attrs["complete"]
            assert handle[f"{DA_TACOS_KEY}/value"].shape == shape
    source = root / "da-tacos_coveranalysis_subset_mfcc" / "W_163992_mfcc" / "P_547131_mfcc.h5"
    with h5py.File(source, "r") as original, h5py.File(tmp_path / "da-tacos_mfcc_feat.hdf5", "r") as converted:
        published = original["mfcc_htk"][()]
        np.testing.assert_array_equal(converted[f"{DA_TACOS_KEY}/value"][0], np.where(np.isfinite(published),
                                                                                     published, 0))
    madmom = root / "da-tacos_coveranalysis_subset_madmom" / "W_163992_madmom" / "P_547131_madmom.h5"
    with h5py.File(madmom, "r") as original:
        published = {name: original[f"madmom_features/{name}"][()] for name in ("novfn", "snovfn", "tempos")}
    for feature in ("novfn", "snovfn"):
        with h5py.File(tmp_path / f"da-tacos_{feature}_feat.hdf5", "r") as converted:
            np.testing.assert_allclose(converted[f"{DA_TACOS_KEY}/value"][0, 0], published[feature], rtol=1e-6)
    assert [(a["value"], a["confidence"]) for a in doc.atoms(0, "tempo")] == \
        [(pytest.approx(b), pytest.approx(s)) for b, s in published["tempos"]]
    assert doc.values(0, "key") == ["C:major"]
    assert doc.atoms(0, "key")[0]["confidence"] == pytest.approx(0.9513, abs=1e-4)
    tags = {a["value"]: a["confidence"] for a in doc.atoms(0, "tag")}
    assert len(tags) == 50 and tags["rock"] == pytest.approx(0.127) and tags["jazz"] == pytest.approx(0.351)
    tempo = doc.atoms(0, "tempo")
    assert len(tempo) == 12 and all(40 <= a["value"] <= 250 and 0 < a["confidence"] <= 1 for a in tempo)
    assert doc.definitions["tempo"].type_content == "numeric"


def test_da_tacos_all_features_with_one_missing(tmp_path):
    from test_converters_da_tacos import write_performance

    root = tmp_path / "dt"
    write_performance(root, "benchmark_subset", "W_1", "P_1", 30, 0, feature="crema")
    write_performance(root, "benchmark_subset", "W_1", "P_2", 30, 1, feature="crema")
    write_performance(root, "benchmark_subset", "W_1", "P_1", 30, 2, feature="cens")
    report = convert("da-tacos", root, tmp_path / "out", feature="all")
    assert report.entries == 2
    missing = root / "da-tacos_benchmark_subset_cens" / "W_1_cens" / "P_2_cens.h5"
    assert [str(p) for p in report.problems] == [
        f"{missing}: no cens file for W_1+++P_2 (left out of the cens file only)"]
    import h5py

    with h5py.File(tmp_path / "out" / "da-tacos_cens_feat.hdf5", "r") as handle:
        assert list(handle.keys()) == ["W_1+++P_1"]
    assert not (tmp_path / "out" / "da-tacos_hpcp_feat.hdf5").exists()  # no hpcp folder


def test_da_tacos_mfcc_silence_and_madmom_onsets(tmp_path):
    import h5py

    root = fixture_path("da_tacos")
    report = convert("da-tacos", root, tmp_path, feature="mfcc")
    with h5py.File(report.payload_path, "r") as handle:
        value = handle[f"{DA_TACOS_KEY}/value"][0]
        assert np.all(np.isfinite(value)) and handle[DA_TACOS_KEY].attrs["nonfinite"] == 1651
        assert np.all(value[:, -127:] == 0) and np.all(value[:, :-127] != 0)  # the silent end only
    doc = pyjama.load(report.pyjama_path)
    time, frame = doc.markers(0, "onset")
    assert len(frame) == 410 and frame[0] == 36 and frame[-1] <= 15226
    np.testing.assert_allclose(time, frame * 512 / 44100)


# ============================================================================ GuitarSet as published

GUITARSET_ID = "03_BN3-119-G_solo"


def test_guitarset_real_sample(tmp_path):
    root = fixture_path("mirdata", "resources", "guitarset")
    result = cli("guitarset", root, tmp_path, "--quiet")
    assert result.exit_code == 0, result.output
    doc = assert_valid(tmp_path, "guitarset")
    key = f"audio_mono-mic+++{GUITARSET_ID}_mic.wav"
    assert doc.keys() == [key]
    report = (tmp_path / "guitarset_report.tsv").read_text()  # the sample lacks 00_BN1-129-Eb_comp's audio
    assert "00_BN1-129-Eb_comp.jams\tno audio file audio_mono-mic/00_BN1-129-Eb_comp_mic.wav (skipped)" in report
    time, f0 = doc.breakpoints(key, "f0multi_hz")
    assert doc.definitions["f0multi_hz"].row_name == ["E", "A", "D", "G", "B", "e"]
    np.testing.assert_allclose(time, np.arange(345) * 256 / 44100)  # 0 s to the last point (1.997 s), GuitarSet's hop
    assert np.all(f0[:5] == 0)  # only the high e string has a contour in the sample
    assert np.count_nonzero(f0[5]) == 160 and np.all(f0[5, f0[5] > 0] > 300)  # its 160 points, all voiced
    assert len(doc.values(key, "pitchmidi_e")) == 3 and len(doc.values(key, "pitchmidi_B")) == 3
    assert len(doc.values(key, "pitchmidi")) == 6 and doc.values(key, "pitchmidi_E") == []
    assert doc.markers(key, "beat")[1].tolist() == [2, 3, 4]
    assert doc.values(key, "chord_leadsheet") == ["G:maj"] and doc.values(key, "chord_inferred") == ["G:maj7/1"]
    assert doc.values(key, "key") == ["G:major"] and doc.values(key, "tempo") == [119.0]
    assert (doc.values(key, "player"), doc.values(key, "style"), doc.values(key, "mode")) == \
        (["03"], ["Bossa Nova"], ["solo"])


def test_jams_audio_in_another_folder_real_guitarset(tmp_path):
    root = fixture_path("mirdata", "resources", "guitarset")
    result = cli("jams", root / "annotation", tmp_path, "--audio-dir", root / "audio_mono-pickup_mix",
                 "--audio-suffix", "_mix.wav", "--quiet")
    assert result.exit_code == 0, result.output
    doc = assert_valid(tmp_path, "jams")
    key = f"{GUITARSET_ID}_mix.wav"
    assert doc.keys() == [key]
    # fields per string named from the data_source, each string's f0 one row, beat positions as numbers
    assert {f"pitch_contour_{i}" for i in range(6)} | {f"note_midi_{i}" for i in range(6)} <= set(doc.definitions)
    _, f0 = doc.breakpoints(key, "pitch_contour_5")
    assert f0.shape == (1, 160)  # contours 0, 1, 2 of the string follow one another: one row
    assert doc.markers(key, "beat_position")[1].tolist() == [2, 3, 4]
    assert doc.definitions["beat_position"].type_content == "numeric"
    result = cli("jams", root / "annotation", tmp_path / "x", "--audio-dir", tmp_path / "none")
    assert result.exit_code == 1 and result.output.strip() == f"error: --audio-dir {tmp_path / 'none'}: no such folder"


def _guitarset_jams(contours: dict[int, list[tuple[float, int, float]]]) -> dict:
    """A GuitarSet-shaped JAMS: per string a pitch_contour (time, index, Hz) and a note_midi annotation."""
    annotations = []
    for string in range(6):
        points = contours.get(string, [])
        annotations.append({"namespace": "pitch_contour", "annotation_metadata": {"data_source": str(string)},
                            "data": {"time": [t for t, _, _ in points], "duration": [0.0] * len(points),
                                     "value": [{"index": i, "frequency": f, "voiced": f > 0} for _, i, f in points],
                                     "confidence": [None] * len(points)}})
        annotations.append({"namespace": "note_midi", "annotation_metadata": {"data_source": str(string)},
                            "data": [{"time": points[0][0], "duration": 0.1, "value": 40.0 + 5 * string,
                                      "confidence": None}] if points else []})
    annotations.append({"namespace": "beat_position", "annotation_metadata": {"data_source": ""},
                        "data": [{"time": 0.5, "duration": 0.0, "confidence": None,
                                  "value": {"position": 1, "measure": 1, "num_beats": 4, "beat_units": 4}}]})
    for label in ("C:maj", "C:maj7"):
        annotations.append({"namespace": "chord", "annotation_metadata": {"data_source": ""},
                            "data": [{"time": 0.0, "duration": 1.0, "value": label, "confidence": None}]})
    return {"file_metadata": {"title": "x", "duration": 1.0}, "sandbox": {}, "annotations": annotations}


def test_guitarset_strings_on_one_grid_and_audio_versions(tmp_path):
    root = tmp_path / "GuitarSet"
    contours = {0: [(0.1, 0, 82.4), (0.2, 0, 82.5), (0.3, 1, 83.0)],  # two notes in a row on the low E
                3: [(0.2, 0, 196.0), (0.25, 0, 0.0)]}  # G string, unvoiced at 0.25
    (root / "annotation").mkdir(parents=True)
    (root / "annotation" / "05_Funk2-108-Eb_comp.jams").write_text(json.dumps(_guitarset_jams(contours)))
    (root / "annotation" / "05_Funk3-98-A_comp.jams").write_text(json.dumps(_guitarset_jams({})))
    write_audio(root / "audio_mono-pickup_mix" / "05_Funk2-108-Eb_comp_mix.wav")
    write_audio(root / "audio_mono-pickup_mix" / "05_Funk9-90-C_solo_mix.wav")
    report = convert("guitarset", root, tmp_path / "out", audio="mix")
    doc = pyjama.load(report.pyjama_path)
    key = "audio_mono-pickup_mix+++05_Funk2-108-Eb_comp_mix.wav"
    assert doc.keys() == [key]
    time, f0 = doc.breakpoints(key, "f0multi_hz")
    hop = 256 / 44100
    np.testing.assert_allclose(time, np.arange(round(0.3 / hop) + 1) * hop)
    frames = {t: round(t / hop) for t in (0.1, 0.2, 0.25, 0.3)}  # each point on its nearest frame
    expected = np.zeros((6, len(time)))
    expected[0, [frames[0.1], frames[0.2], frames[0.3]]] = [82.4, 82.5, 83.0]
    expected[3, frames[0.2]] = 196.0  # 0.25: unvoiced
    np.testing.assert_allclose(f0, expected)
    assert doc.values(key, "pitchmidi") == [40.0, 55.0] and doc.values(key, "pitchmidi_G") == [55.0]
    assert doc.values(key, "style") == ["Funk"] and doc.values(key, "chord_inferred") == ["C:maj7"]
    found = sorted(str(p) for p in report.problems)
    assert found == sorted([
        f"{root / 'annotation' / '05_Funk3-98-A_comp.jams'}: no audio file audio_mono-pickup_mix/"
        "05_Funk3-98-A_comp_mix.wav (skipped)",
        f"{root / 'audio_mono-pickup_mix' / '05_Funk9-90-C_solo_mix.wav'}: audio without annotation: "
        "no annotation/05_Funk9-90-C_solo.jams"])
    with pytest.raises(MirError, match=r"no 'audio_mono-mic' folder \(expected the GuitarSet root"):
        convert("guitarset", root, tmp_path / "out2")


def test_jams_audio_suffix_beside_and_guitarset_bad_data_source(tmp_path):
    src = tmp_path / "flat"
    src.mkdir()
    (src / "a.jams").write_text(json.dumps(_guitarset_jams({5: [(0.1, 0, 330.0)]})))
    write_audio(src / "a_mic.wav")
    write_audio(src / "b_mic.wav")
    write_audio(src / "a.wav")  # not matched: the suffix decides
    report = convert("jams", src, tmp_path / "out", audio_suffix="_mic.wav")
    assert pyjama.load(report.pyjama_path).keys() == ["a_mic.wav"]
    assert [str(p) for p in report.problems] == [f"{src / 'b_mic.wav'}: no JAMS file for it in {src} (skipped)"]
    root = tmp_path / "GuitarSet"
    document = _guitarset_jams({0: [(0.1, 0, 82.4)]})
    document["annotations"][0]["annotation_metadata"]["data_source"] = "low E"
    (root / "annotation").mkdir(parents=True)
    (root / "annotation" / "00_Rock1-90-C_solo.jams").write_text(json.dumps(document))
    write_audio(root / "audio_mono-mic" / "00_Rock1-90-C_solo_mic.wav")
    result = cli("guitarset", root, tmp_path / "out2", "--strict")
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "00_Rock1-90-C_solo.jams: annotation 0: data_source 'low E' is not a string number 0-5" in result.output


def test_a_strict_failure_does_not_say_skipped(tmp_path):
    """With --strict the first bad input stops the conversion: its line must not end in '(skipped)'
    (GuitarSet's sample, a JAMS file whose audio is missing, said 'no audio file ... (skipped)')."""
    root = fixture_path("mirdata", "resources", "guitarset")
    result = cli("guitarset", root, tmp_path / "out", "--strict")
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert "00_BN1-129-Eb_comp.jams: no audio file audio_mono-mic/00_BN1-129-Eb_comp_mic.wav" in result.output
    assert "skipped" not in result.output and not (tmp_path / "out" / "guitarset.pyjama").exists()


def test_da_tacos_all_features_replaced_with_the_pair(tmp_path):
    """Every feature file of ``--feature all`` belongs to the pair: an existing one is refused without
    --overwrite, and a --strict failure in a later feature leaves the old files as they were."""
    import h5py
    from test_converters_da_tacos import write_performance

    root = tmp_path / "dt"
    for seed, perf in enumerate(("P_1", "P_2")):
        write_performance(root, "benchmark_subset", "W_1", perf, 30, seed, feature="crema")
        write_performance(root, "benchmark_subset", "W_1", perf, 30, seed + 2, feature="cens")
    out = tmp_path / "out"
    out.mkdir()
    stray = out / "da-tacos_cens_feat.hdf5"
    stray.write_bytes(b"a user's file")
    with pytest.raises(MirError, match=r"da-tacos_cens_feat.hdf5: already exists without its da-tacos.pyjama"):
        convert("da-tacos", root, out, feature="all")
    assert stray.read_bytes() == b"a user's file"
    stray.unlink()
    convert("da-tacos", root, out, feature="all")
    before = {p.name: p.read_bytes() for p in out.iterdir() if not p.name.startswith(".")}
    assert {"da-tacos.pyjama", "da-tacos_crema_feat.hdf5", "da-tacos_cens_feat.hdf5"} <= set(before)
    # a bad cens file (the second feature) with --strict: nothing of the old pair changes
    (root / "da-tacos_benchmark_subset_cens" / "W_1_cens" / "P_2_cens.h5").write_bytes(b"not hdf5")
    with pytest.raises(MirError, match="P_2_cens.h5"):
        convert("da-tacos", root, out, feature="all", overwrite=True, strict=True)
    assert {p.name: p.read_bytes() for p in out.iterdir() if not p.name.startswith(".")} == before
    with h5py.File(out / "da-tacos_cens_feat.hdf5", "r") as handle:
        assert sorted(handle.keys()) == ["W_1+++P_1", "W_1+++P_2"]
