"""Converters gtzan, mtt, folder, maps, rwc-chord, maestro: real samples where fixtures exist, synthesized
corpora in the true layouts otherwise, and every kind of bad input (one clear line each)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile
from click.testing import CliRunner, Result

from conftest import fixture_path
from pyjama_tools import pyjama
from pyjama_tools.audio_store import AudioStore
from pyjama_tools.cli import main
from pyjama_tools.convert import convert
from pyjama_tools.core.errors import MirError, ParameterError


def write_audio(path: Path, seconds: float = 0.2, rate: int = 22050, channels: int = 1, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    soundfile.write(path, 0.1 * rng.standard_normal((int(seconds * rate), channels)).astype(np.float32), rate)
    return path


def cli(*args) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def assert_valid_pair(out: Path, base: str) -> pyjama.PyjamaDoc:
    """``pyjama-convert validate`` accepts the pair; returns the document."""
    result = cli("validate", out / f"{base}.pyjama", "--audio", out / f"{base}_audio.hdf5")
    assert result.exit_code == 0, result.output
    return pyjama.load(out / f"{base}.pyjama")


def problems_of(report) -> list[str]:
    return [str(p) for p in report.problems]


def assert_strict_fails(corpus: str, src: Path, out: Path, expected: str, *options: str) -> None:
    """With --strict the conversion stops on the bad input: exit 1, one line naming it, no output left."""
    result = cli(corpus, src, out, "--strict", "--quiet", *options)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.output
    assert "Traceback" not in result.output
    assert not out.exists() or list(out.iterdir()) == []


# ============================================================================ GTZAN


def test_gtzan_real_sample_with_split_lists(tmp_path):
    source = fixture_path("gtzan_genre", "gtzan_genre")
    splits = fixture_path("gtzan_genre", "_splits_jongpillee", "GTZAN_split")
    result = cli("gtzan", source, tmp_path, "--split-lists", splits, "--quiet")
    assert result.exit_code == 0, result.output
    doc = assert_valid_pair(tmp_path, "gtzan-genre")
    wavs = sorted((source / "genres").rglob("*.wav"))
    assert len(doc.entries) == len(wavs) >= 1
    assert doc.keys()[0] == "country+++country.00000.wav"
    assert doc.labels("genre")[0] == ["country"]
    assert doc.labels("split")[0] == ["valid"]  # listed in valid_filtered.txt
    with AudioStore(tmp_path / "gtzan-genre_audio.hdf5") as store:
        assert store.sample_rate("country+++country.00000.wav") == 22050
        expected = soundfile.info(wavs[0]).duration
        assert store.duration("country+++country.00000.wav") == pytest.approx(expected, abs=1e-3)


def test_gtzan_misplaced_file_and_symlink_out_of_src(tmp_path):
    src = tmp_path / "gtzan"
    write_audio(src / "genres" / "blues" / "blues.00000.wav")
    write_audio(src / "genres" / "stray.wav")
    outside = write_audio(tmp_path / "elsewhere" / "secret.wav")
    os.symlink(outside, src / "genres" / "blues" / "blues.00001.wav")
    report = convert("gtzan", src, tmp_path / "out")
    assert report.entries == 1
    found = problems_of(report)
    assert any("stray.wav" in p and "not in genres/<genre>/" in p for p in found)
    assert any("blues.00001.wav" in p and "escapes the corpus root" in p for p in found)
    assert_strict_fails("gtzan", src, tmp_path / "strict", "escapes the corpus root")


def test_gtzan_split_lists_folder_without_lists(tmp_path):
    src = tmp_path / "gtzan"
    write_audio(src / "genres" / "blues" / "blues.00000.wav")
    (tmp_path / "lists").mkdir()
    result = cli("gtzan", src, tmp_path / "out", "--split-lists", tmp_path / "lists")
    assert result.exit_code == 1
    assert result.output.strip() == f"error: {tmp_path / 'lists'}: none of train_filtered.txt, valid_filtered.txt, " \
                                    "test_filtered.txt found"
    result = cli("gtzan", tmp_path / "lists", tmp_path / "out")
    assert result.exit_code == 1 and "no 'genres' folder" in result.output


# ============================================================================ MagnaTagATune

#: the first columns of the real annotations_final.csv, then filler names up to 188 tag columns
REAL_MTT_TAGS = ["no voice", "singer", "duet", "plucking", "hard rock", "world", "bongos", "harpsichord",
                 "female singing", "clasical", "sitar", "chorus", "female opera", "male vocal", "vocals",
                 "clarinet", "heavy", "silence", "beats", "men", "woodwind", "funky", "no strings", "chimes",
                 "foreign", "no piano", "horns", "classical", "female", "no voices", "soft rock", "eerie",
                 "spacey", "jazz", "guitar", "quiet", "no beat", "banjo", "electric", "solo", "violins", "folk",
                 "female voice", "wind", "osian", "strings"]
MTT_TAGS = REAL_MTT_TAGS + [f"filler {i:03d}" for i in range(188 - len(REAL_MTT_TAGS))]
REAL_CLIP = "e/joram-moments_of_clarity-08-solipsism-59-88.mp3"


def mtt_row(clip_id: int, mp3_path: str, tags: list[str], quoted: bool) -> str:
    cells = [str(clip_id)] + ["1" if t in tags else "0" for t in MTT_TAGS] + [mp3_path]
    return "\t".join(f'"{c}"' if quoted else c for c in cells)


def make_mtt(root: Path, quoted: bool = True, under_mp3: bool = True, extra_rows=(), clip_info: bool = True) -> Path:
    """A MagnaTagATune-shaped corpus: the real clip + 3 synthesized MP3s, and the CSVs in their exact form."""
    audio_root = root / "mp3" if under_mp3 else root
    real = fixture_path("magnatagatune", *REAL_CLIP.split("/"))
    (audio_root / "e").mkdir(parents=True, exist_ok=True)
    shutil.copy(real, audio_root / REAL_CLIP)
    rows = [(2, REAL_CLIP, ["classical", "guitar", "quiet", "strings"])]
    for clip_id, folder, tags in ((6, "0", ["classical", "guitar"]), (10, "f", ["classical", "techno-ish filler"]),
                                  (12, "f", ["filler 100"])):
        name = f"{folder}/artist_{clip_id}-album-01-track-0-29.mp3"
        write_audio(audio_root / name, seconds=0.3, rate=16000, seed=clip_id)
        rows.append((clip_id, name, tags))
    header = ["clip_id"] + MTT_TAGS + ["mp3_path"]
    lines = ["\t".join(f'"{c}"' if quoted else c for c in header)]
    lines += [mtt_row(c, p, t, quoted) for c, p, t in rows]
    lines += list(extra_rows)
    (root / "annotations_final.csv").write_text("\n".join(lines) + "\n")
    if clip_info:
        info = ["clip_id\ttrack_number\ttitle\tartist\talbum\turl\tsegmentStart\tsegmentEnd\toriginal_url\tmp3_path",
                f"2\t8\tSolipsism\tJoram\tMoments of Clarity\thttp://x\t59\t88\thttp://orig/8.mp3\t{REAL_CLIP}"]
        (root / "clip_info_final.csv").write_text("\n".join(info) + "\n")
    return root


@pytest.mark.parametrize("quoted, under_mp3", [(True, True), (False, False)])
def test_mtt_tags_metadata_and_layouts(tmp_path, quoted, under_mp3):
    src = make_mtt(tmp_path / "mtt", quoted=quoted, under_mp3=under_mp3)
    result = cli("mtt", src, tmp_path / "out", "--top-tags", "3", "--quiet")
    assert result.exit_code == 0, result.output
    doc = assert_valid_pair(tmp_path / "out", "mtt")
    # frequencies: classical 3, guitar 2, then quiet/strings/filler 100 (1 each, CSV column order)
    assert doc.definition("tag").dictionary == ["classical", "guitar", "quiet"]
    assert doc.keys()[0] == "e+++joram-moments_of_clarity-08-solipsism-59-88.mp3"
    assert doc.labels("tag") == [["classical", "guitar", "quiet"], ["classical", "guitar"], ["classical"], []]
    assert doc.labels("clip_id") == [[2], [6], [10], [12]]
    first = doc.entry(0)
    assert first["title"] == [{"value": "Solipsism"}] and first["artist"] == [{"value": "Joram"}]
    assert first["album"] == [{"value": "Moments of Clarity"}]
    assert first["original_url"] == [{"value": "http://orig/8.mp3"}]
    assert doc.entry(1)["title"] == []  # every entry carries every field, [] where it has none
    with AudioStore(tmp_path / "out" / "mtt_audio.hdf5") as store:
        decoded = soundfile.read(src / ("mp3" if under_mp3 else "") / REAL_CLIP)[0]
        assert store.duration(doc.keys()[0]) == pytest.approx(decoded.shape[0] / 16000, abs=1e-3)


def test_mtt_default_top_50_keeps_all_and_counts_every_atom(tmp_path):
    src = make_mtt(tmp_path / "mtt", clip_info=False)
    report = convert("mtt", src, tmp_path / "out")
    doc = pyjama.load(report.pyjama_path)
    assert report.problems == [] and len(doc.entries) == 4
    # every active cell of the CSV (4 + 2 + 1 + 1; the "techno-ish filler" tag is not a column) is one atom
    assert sum(len(tags) for tags in doc.labels("tag")) == 8
    assert "title" not in doc.definitions


def test_mtt_bad_rows_and_missing_files(tmp_path):
    bad_cells = mtt_row(20, "0/short.mp3", [], quoted=True).split("\t")[:-5]
    not_binary = mtt_row(21, "0/x.mp3", ["guitar"], quoted=True).replace('"1"', '"2"')
    extra = ["\t".join(bad_cells),                                          # line 6: wrong cell count
             not_binary,                                                    # line 7: cell not 0/1
             mtt_row(22, "0/missing.mp3", ["guitar"], quoted=True),          # line 8: no audio
             mtt_row(23, "../outside.mp3", ["guitar"], quoted=True),         # line 9: escapes SRC
             mtt_row(24, "/etc/passwd.mp3", ["guitar"], quoted=True),        # line 10: absolute
             mtt_row(25, REAL_CLIP, ["guitar"], quoted=True),                # line 11: duplicate key
             mtt_row(28, "", ["guitar"], quoted=True)]                       # line 12: no path
    src = make_mtt(tmp_path / "mtt", extra_rows=extra)
    write_audio(src / "mp3" / "a" / "unlisted.mp3", rate=16000)
    (src / "mp3" / "a" / "empty.mp3").write_bytes(b"")
    os.symlink(write_audio(tmp_path / "outside" / "x.mp3", rate=16000), src / "mp3" / "a" / "link.mp3")
    csv_path = src / "annotations_final.csv"
    csv_path.write_text(csv_path.read_text() + mtt_row(26, "a/empty.mp3", ["guitar"], quoted=True) + "\n"
                        + mtt_row(27, "a/link.mp3", ["guitar"], quoted=True) + "\n")  # lines 13, 14
    report = convert("mtt", src, tmp_path / "out")
    found = problems_of(report)
    assert report.entries == 4
    assert f"{csv_path} line 6: expected 190 cells, got 185" in found
    assert f"{csv_path} line 7: tag 'guitar': cell '2' is not 0 or 1" in found
    assert any(p.startswith(f"{csv_path} line 8: annotation without audio") for p in found)
    assert any(p.startswith(f"{csv_path} line 9: mp3_path '../outside.mp3'") and "escapes" in p for p in found)
    assert any(p.startswith(f"{csv_path} line 10: mp3_path '/etc/passwd.mp3'") and "escapes" in p for p in found)
    assert any(p.startswith("e+++joram") and "duplicate key" in p for p in found)
    assert any(p.startswith("a+++empty.mp3: ") and "cannot decode" in p for p in found)
    assert any("unlisted.mp3" in p and "audio without annotation" in p for p in found)
    assert any(p.startswith(f"{csv_path} line 14: mp3_path 'a/link.mp3'") and "escapes" in p for p in found)
    assert f"{csv_path} line 12: empty mp3_path" in found
    assert len(found) == 10  # the symlink is reported once (not also as audio without annotation)
    report_rows = report.report_path.read_text().splitlines()
    assert len(report_rows) == 1 + len(found)
    assert_strict_fails("mtt", src, tmp_path / "strict", f"{csv_path} line 6: expected 190 cells")


@pytest.mark.parametrize("top", [0, -3, "5", 2.5])
def test_mtt_top_tags_parameter_checked(tmp_path, top):
    with pytest.raises(ParameterError, match=f"top_tags={top!r}: expected an integer >= 1"):
        convert("mtt", tmp_path, tmp_path / "out", top_tags=top)
    result = cli("mtt", tmp_path, tmp_path / "out", "--top-tags", "0")
    assert result.exit_code == 2 and "Invalid value for '--top-tags'" in result.output


def test_mtt_bad_header_and_missing_csv(tmp_path):
    src = tmp_path / "mtt"
    src.mkdir()
    result = cli("mtt", src, tmp_path / "out")
    assert result.exit_code == 1 and "annotations_final.csv: no such file" in result.output
    (src / "annotations_final.csv").write_text("id\tguitar\tpath\n1\t0\ta/b.mp3\n")
    result = cli("mtt", src, tmp_path / "out")
    assert result.exit_code == 1
    assert "line 1: header must be clip_id, <tag columns>, mp3_path" in result.output
    assert len(result.output.strip().splitlines()) == 1


# ============================================================================ folder


def make_folder_corpus(root: Path) -> Path:
    for relative in ("happy/a.wav", "happy/b.flac", "sad/deep/c.ogg", "sad/d.wav"):
        write_audio(root / relative, seconds=0.1)
    return root


def test_folder_labels_from_parent_folders(tmp_path):
    src = make_folder_corpus(tmp_path / "corpus")
    result = cli("folder", src, tmp_path / "out", "--field", "mood", "--name", "moods", "--quiet")
    assert result.exit_code == 0, result.output
    doc = assert_valid_pair(tmp_path / "out", "moods")
    assert dict(zip(doc.keys(), doc.labels("mood"))) == {
        "happy+++a.wav": ["happy"], "happy+++b.flac": ["happy"], "sad+++d.wav": ["sad"], "sad+++deep+++c.ogg": ["deep"]}
    assert doc.vocabulary("mood") == ["deep", "happy", "sad"]


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_folder_labels_from_a_sniffed_table(tmp_path, delimiter):
    src = make_folder_corpus(tmp_path / "corpus")
    rows = [["file", "genre", "other"], ["happy/a.wav", "pop", "x"], ["happy/b.flac", "rock", "y"],
            ["sad/deep/c.ogg", "pop", "z"], ["sad/d.wav", "jazz, cool", "w"]]
    labels = tmp_path / "labels.csv"
    labels.write_text("\n".join(delimiter.join(f'"{c}"' if delimiter in c else c for c in row) for row in rows) + "\n")
    report = convert("folder", src, tmp_path / "out", labels=labels, key_column="file", label_column="genre")
    assert report.problems == []
    doc = pyjama.load(report.pyjama_path)
    assert doc.labels("label") == [["pop"], ["rock"], ["pop"], ["jazz, cool"]]
    assert doc.keys() == ["happy+++a.wav", "happy+++b.flac", "sad+++deep+++c.ogg", "sad+++d.wav"]


def test_folder_table_problems(tmp_path):
    src = make_folder_corpus(tmp_path / "corpus")
    outside = write_audio(tmp_path / "outside" / "x.wav")
    os.symlink(outside, src / "happy" / "link.wav")
    (src / "sad" / "broken.wav").write_bytes(b"")
    labels = tmp_path / "labels.tsv"
    labels.write_text("path\tlabel\n"
                      "happy/a.wav\tpop\n"          # line 2: fine
                      "happy/zzz.wav\tpop\n"        # line 3: label without audio
                      "../outside/x.wav\tpop\n"     # line 4: escapes
                      f"{outside}\tpop\n"           # line 5: absolute
                      "happy/a.wav\trock\n"         # line 6: listed twice
                      "sad/d.wav\n"                # line 7: malformed row
                      "sad/broken.wav\tsad\n"       # line 8: empty audio
                      "\tsad\n")                   # line 9: no path
    report = convert("folder", src, tmp_path / "out", labels=labels)
    found = problems_of(report)
    assert report.entries == 1
    assert f"{labels} line 3: label without audio: happy/zzz.wav not found under {src}" in found
    assert any(p.startswith(f"{labels} line 4: ") and "escapes the corpus root" in p for p in found)
    assert any(p.startswith(f"{labels} line 5: ") and "absolute path" in p for p in found)
    assert f"{labels} line 6: happy/a.wav: listed twice (first on line 2)" in found
    assert f"{labels} line 7: expected 2 cells, got 1" in found
    assert f"{labels} line 9: empty 'path' cell" in found
    assert any(p.startswith("sad+++broken.wav: ") and "cannot decode" in p for p in found)
    assert any("link.wav" in p and "escapes the corpus root" in p for p in found)
    for missing in ("happy/b.flac", "sad/deep/c.ogg", "sad/d.wav"):
        assert any(p.startswith(str(src / missing)) and "audio without annotation" in p for p in found)
    assert_strict_fails("folder", src, tmp_path / "strict", "link.wav: path escapes the corpus root",
                        "--labels", labels)


def test_folder_bad_options(tmp_path):
    src = make_folder_corpus(tmp_path / "corpus")
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\nhappy/a.wav,pop\n")
    result = cli("folder", src, tmp_path / "out", "--labels", labels, "--key-column", "filename")
    assert result.exit_code == 1
    assert result.output.strip() == \
        f"error: {labels} line 1: --key-column 'filename' is not a column (columns: path, label)"
    result = cli("folder", src, tmp_path / "out", "--labels", tmp_path / "absent.csv")
    assert result.exit_code == 1 and "absent.csv: no such labels file" in result.output
    write_audio(src / "top.wav")
    report = convert("folder", src, tmp_path / "out2")
    assert any("top.wav" in p and "no parent folder" in p for p in problems_of(report))


# ============================================================================ MAPS

MAPS_FILES = ("ENSTDkCl/MUS/MAPS_MUS-alb_se2_ENSTDkCl.txt", "ENSTDkCl/MUS/MAPS_MUS-bk_xmas4_ENSTDkCl.txt",
              "ENSTDkCl/ISOL/NO/MAPS_ISOL_NO_F_S0_M21_ENSTDkCl.txt",
              "ENSTDkCl/RAND/M21-108/I32-96/P5/MAPS_RAND_P5_M21-108_I32-96_S0_n10_ENSTDkCl.txt")


def make_maps(root: Path) -> dict[str, Path]:
    """The real MAPS .txt files copied into ``root`` with a short synthesized 44.1 kHz stereo .wav beside each."""
    copied = {}
    for relative in MAPS_FILES:
        source = fixture_path("maps", *relative.split("/"))
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
        write_audio(target.with_suffix(".wav"), seconds=0.1, rate=44100, channels=2)
        copied[relative] = source
    return copied


def test_maps_real_annotations_every_row_kept(tmp_path):
    copied = make_maps(tmp_path / "maps")
    result = cli("maps", tmp_path / "maps", tmp_path / "out", "--jobs", "2", "--quiet")
    assert result.exit_code == 0, result.output
    doc = assert_valid_pair(tmp_path / "out", "maps")
    assert len(doc.entries) == len(MAPS_FILES)
    for relative, source in copied.items():
        key = relative.replace(".txt", ".wav").replace("/", "+++")
        raw = source.read_bytes().decode().split("\r\n")
        assert raw[0] == "OnsetTime\tOffsetTime\tMidiPitch"
        rows = [line.split("\t") for line in raw[1:] if line.strip()]
        time, duration, pitch = doc.segments(key, "pitchmidi")
        assert len(time) == len(rows) > 0
        np.testing.assert_allclose(time, [float(r[0]) for r in rows])
        np.testing.assert_allclose(time + duration, [float(r[1]) for r in rows], atol=1e-9)
        assert pitch.tolist() == [int(r[2]) for r in rows]
        assert doc.values(key, "piano") == ["ENSTDkCl"]
        assert doc.values(key, "category") == [relative.split("/")[1]]
    with AudioStore(tmp_path / "out" / "maps_audio.hdf5") as store:
        key = doc.keys()[0]
        assert store.read(key).ndim == 1 and store.num_samples(key) == 2205  # stereo 44.1 kHz → mono 22050


def test_maps_extra_levels_above_the_piano_folder(tmp_path):
    folder = tmp_path / "maps" / "MAPS_SptkBGCl_2" / "SptkBGCl" / "MUS"
    folder.mkdir(parents=True)
    (folder / "MAPS_MUS-x_SptkBGCl.txt").write_bytes(b"OnsetTime\tOffsetTime\tMidiPitch\r\n0.1\t0.3\t70\r\n")
    write_audio(folder / "MAPS_MUS-x_SptkBGCl.wav", rate=44100, channels=2)
    report = convert("maps", tmp_path / "maps", tmp_path / "out")
    doc = pyjama.load(report.pyjama_path)
    assert report.problems == []
    assert doc.keys() == ["MAPS_SptkBGCl_2+++SptkBGCl+++MUS+++MAPS_MUS-x_SptkBGCl.wav"]
    assert doc.labels("piano") == [["SptkBGCl"]] and doc.labels("category") == [["MUS"]]


def test_maps_malformed_lines_and_missing_pairs(tmp_path):
    root = tmp_path / "maps"
    folder = root / "AkPnBcht" / "UCHO"
    lines = ["OnsetTime\tOffsetTime\tMidiPitch", "0.5\t1.0\t60", "0.7\t1.2", "0.9\tlate\t62", "2.0\t1.5\t64", ""]
    (folder).mkdir(parents=True)
    (folder / "MAPS_UCHO_bad.txt").write_bytes("\r\n".join(lines).encode())
    write_audio(folder / "MAPS_UCHO_bad.wav", rate=44100, channels=2)
    (folder / "MAPS_UCHO_good.txt").write_bytes(b"OnsetTime\tOffsetTime\tMidiPitch\r\n0.1\t0.3\t70\r\n")
    write_audio(folder / "MAPS_UCHO_good.wav", rate=44100, channels=2)
    (folder / "MAPS_UCHO_noaudio.txt").write_bytes(b"OnsetTime\tOffsetTime\tMidiPitch\r\n")
    write_audio(folder / "MAPS_UCHO_notext.wav", rate=44100, channels=2)
    write_audio(root / "AkPnBcht" / "OTHER" / "x" / "MAPS_x.wav")
    report = convert("maps", root, tmp_path / "out")
    found = problems_of(report)
    bad = folder / "MAPS_UCHO_bad.txt"
    assert report.entries == 1
    assert f"{bad} line 3: expected 3 cells (onset, offset, MIDI pitch), got 2" in found
    assert f"{bad} line 4: not numbers: '0.9\\tlate\\t62'" in found
    assert f"{bad} line 5: offset 1.5 s is before onset 2.0 s" in found
    assert f"{folder / 'MAPS_UCHO_noaudio.txt'}: annotation without audio: no .wav beside it" in found
    assert f"{folder / 'MAPS_UCHO_notext.wav'}: audio without annotation: MAPS_UCHO_notext.txt not found" in found
    assert any("OTHER" in p and "not under <piano>/" in p for p in found)
    assert len(found) == 6
    doc = pyjama.load(report.pyjama_path)
    assert doc.keys() == ["AkPnBcht+++UCHO+++MAPS_UCHO_good.wav"]
    assert_strict_fails("maps", root, tmp_path / "strict", "annotation without audio")


# ============================================================================ RWC Popular chords


def test_rwc_chord_real_sample(tmp_path):
    source = fixture_path("rwc_popular")
    result = cli("rwc-chord", source, tmp_path, "--quiet")
    assert result.exit_code == 0, result.output
    doc = assert_valid_pair(tmp_path, "rwc-pop_chord")
    assert doc.keys() == ["rwc-p-m01+++1.wav"]
    lab = source / "annotations" / "AIST.RWC-MDB-P-2001.CHORD" / "RWC_Pop_Chords" / "N001-M01-T01.lab"
    rows = [line.split() for line in lab.read_text().splitlines() if line.strip()]
    time, duration, chord = doc.segments(0, "chord")
    assert len(time) == len(rows)  # every line kept, even past the 2 s of truncated audio
    assert chord.tolist() == [r[2] for r in rows] == ["N", "Ab:min", "E:maj", "Bb:maj(*3)", "C:min7"]
    np.testing.assert_allclose(time + duration, [float(r[1]) for r in rows], atol=1e-9)
    assert doc.values(0, "title") == ["Eien no replica"] and doc.values(0, "piece") == [1]
    with AudioStore(tmp_path / "rwc-pop_chord_audio.hdf5") as store:
        assert store.duration("rwc-p-m01+++1.wav") == pytest.approx(2.0, abs=1e-3)


def make_rwc(root: Path) -> Path:
    """The real RWC sample's layout with the real files, plus synthesized pieces 2 and 3 and a stray track."""
    shutil.copytree(fixture_path("rwc_popular"), root)
    os.chmod(root, 0o755)
    for path in root.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    metadata = root / "metadata-master" / "rwc-p.csv"
    metadata.write_text(metadata.read_text().rstrip("\n") + "\n"
                        "No. 2,M01,Tr. 02,Title two,Singer,Female,04:00,120,Gt,Drums\n"
                        "No. 3,M01,Tr. 03,Title three,Singer,Female,04:00,120,Gt,Drums\n")
    labs = root / "annotations" / "AIST.RWC-MDB-P-2001.CHORD" / "RWC_Pop_Chords"
    (labs / "N002-M01-T02.lab").write_text("0.0 1.0 C:maj\n1.0 2.0 H:maj\n2.0 1.5 C:min\n")
    (labs / "N003-M01-T03.lab").write_text("0.0 1.0 C:maj\n")
    (labs / "N009-M02-T01.lab").write_text("0.0 1.0 C:maj\n")
    write_audio(root / "audio" / "rwc-p-m01" / "2.wav", rate=44100, channels=2)
    write_audio(root / "audio" / "rwc-p-m01" / "4.wav", rate=44100, channels=2)
    return root


def test_rwc_chord_bad_labels_and_unmatched_files(tmp_path):
    root = make_rwc(tmp_path / "rwc")
    report = convert("rwc-chord", root, tmp_path / "out")
    found = problems_of(report)
    labs = root / "annotations" / "AIST.RWC-MDB-P-2001.CHORD" / "RWC_Pop_Chords"
    assert report.entries == 1
    assert f"{labs / 'N002-M01-T02.lab'} line 2: label 'H:maj' is not valid Harte chord syntax" in found
    assert f"{labs / 'N002-M01-T02.lab'} line 3: bad times: start 2.0, end 1.5" in found
    assert f"{labs / 'N003-M01-T03.lab'}: annotation without audio: rwc-p-m01/3.wav not found" in found
    assert f"{labs / 'N009-M02-T01.lab'}: piece 9 is not in metadata-master/rwc-p.csv" in found
    assert f"{root / 'audio' / 'rwc-p-m01' / '4.wav'}: audio without annotation: no chord .lab for it" in found
    assert len(found) == 5
    assert_strict_fails("rwc-chord", root, tmp_path / "strict", "label 'H:maj' is not valid Harte chord syntax")


def test_rwc_chord_missing_metadata(tmp_path):
    root = make_rwc(tmp_path / "rwc")
    (root / "metadata-master" / "rwc-p.csv").unlink()
    result = cli("rwc-chord", root, tmp_path / "out")
    assert result.exit_code == 1 and "rwc-p.csv: no such file" in result.output


# ============================================================================ MAESTRO


def write_midi(path: Path, notes: list[tuple[int, int, int]], sustain: tuple[int, int] | None = None) -> Path:
    """A one-track MIDI at 120 bpm (480 ticks per beat = 1 s per 960 ticks): notes as (pitch, on, off) in ticks."""
    events = []
    for pitch, on, off in notes:
        events += [(on, mido.Message("note_on", note=pitch, velocity=80)),
                   (off, mido.Message("note_off", note=pitch, velocity=0))]
    if sustain is not None:
        events += [(sustain[0], mido.Message("control_change", control=64, value=127)),
                   (sustain[1], mido.Message("control_change", control=64, value=0))]
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
    now = 0
    for tick, message in sorted(events, key=lambda e: e[0]):
        track.append(message.copy(time=tick - now))
        now = tick
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(track)
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.save(path)
    return path


MAESTRO_ROWS = [
    {"canonical_composer": "Johann Sebastian Bach", "canonical_title": "Prelude in C", "split": "train",
     "year": 2004, "midi_filename": "2004/bach.midi", "audio_filename": "2004/bach.wav", "duration": 2.0},
    {"canonical_composer": "Frédéric Chopin", "canonical_title": "Nocturne", "split": "test",
     "year": 2006, "midi_filename": "2006/chopin.midi", "audio_filename": "2006/chopin.wav", "duration": 1.0},
]


def make_maestro(root: Path, rows=MAESTRO_ROWS, form: str = "json") -> Path:
    write_midi(root / "2004" / "bach.midi", [(60, 0, 480), (64, 480, 960), (67, 960, 1920)], sustain=(0, 1920))
    write_midi(root / "2006" / "chopin.midi", [(72, 240, 720)])
    write_audio(root / "2004" / "bach.wav", seconds=0.3, rate=44100, channels=2)
    write_audio(root / "2006" / "chopin.wav", seconds=0.3, rate=44100, channels=2)
    columns = list(rows[0])
    if form == "json":
        data = {c: {str(i): row.get(c) for i, row in enumerate(rows)} for c in columns}
        (root / "maestro-v3.0.0.json").write_text(json.dumps(data))
    else:
        import csv
        with open(root / "maestro-v3.0.0.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, columns)
            writer.writeheader()
            writer.writerows(rows)
    return root


@pytest.mark.parametrize("form", ["json", "csv"])
def test_maestro_notes_split_composer_title(tmp_path, form):
    root = make_maestro(tmp_path / "maestro", form=form)
    result = cli("maestro", root, tmp_path / "out", "--quiet")
    assert result.exit_code == 0, result.output
    doc = assert_valid_pair(tmp_path / "out", "maestro")
    assert doc.keys() == ["2004+++bach.wav", "2006+++chopin.wav"]
    time, duration, pitch = doc.segments("2004+++bach.wav", "pitchmidi")
    # 120 bpm, 480 ticks per beat: 0.5 s per beat; the sustain pedal does not lengthen the notes
    np.testing.assert_allclose(time, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(duration, [0.5, 0.5, 1.0])
    assert pitch.tolist() == [60, 64, 67]
    assert doc.values("2006+++chopin.wav", "pitchmidi") == [72]
    assert doc.labels("split") == [["train"], ["test"]]
    assert doc.labels("composer") == [["Johann Sebastian Bach"], ["Frédéric Chopin"]]
    assert doc.labels("title") == [["Prelude in C"], ["Nocturne"]]


def test_maestro_bad_rows(tmp_path):
    rows = MAESTRO_ROWS + [
        dict(MAESTRO_ROWS[0], midi_filename="2004/absent.midi", audio_filename="2004/absent_audio.wav"),
        dict(MAESTRO_ROWS[0], midi_filename="2004/nomidi.midi", audio_filename="2004/nomidi.wav"),
        dict(MAESTRO_ROWS[0], midi_filename="../escape.midi", audio_filename="../escape.wav"),
        dict(MAESTRO_ROWS[0], midi_filename="2004/corrupt.midi", audio_filename="2004/corrupt.wav"),
        dict(MAESTRO_ROWS[0], split="holdout", midi_filename="2004/bach.midi", audio_filename="2004/split.wav"),
    ]
    root = make_maestro(tmp_path / "maestro", rows=rows)
    write_audio(root / "2004" / "nomidi.wav")
    write_audio(root / "2004" / "corrupt.wav")
    (root / "2004" / "corrupt.midi").write_bytes(b"MThd garbage")
    write_audio(root / "2004" / "split.wav")
    write_audio(root / "2005" / "unlisted.wav")
    os.symlink(write_audio(tmp_path / "outside.wav"), root / "2004" / "link.wav")
    write_midi(root / "2004" / "link.midi", [(60, 0, 480)])
    metadata = root / "maestro-v3.0.0.json"
    data = json.loads(metadata.read_text())
    for column, values in data.items():
        values["7"] = dict(MAESTRO_ROWS[0], midi_filename="2004/link.midi", audio_filename="2004/link.wav")[column]
    metadata.write_text(json.dumps(data))
    report = convert("maestro", root, tmp_path / "out")
    found = problems_of(report)
    meta = root / "maestro-v3.0.0.json"
    assert report.entries == 2
    assert f"{meta} row 2: annotation without audio: 2004/absent_audio.wav not found" in found
    assert f"{meta} row 3: audio without annotation: 2004/nomidi.midi not found" in found
    assert any(p.startswith(f"{meta} row 4: ") and "escapes the corpus root" in p for p in found)
    assert any(p.startswith(f"{meta} row 5: ") and "corrupt.midi: not a readable MIDI file" in p for p in found)
    assert f"{meta} row 6: split 'holdout' not one of train, validation, test" in found
    assert any("unlisted.wav" in p and "audio without annotation" in p for p in found)
    assert any(p.startswith(f"{meta} row 7: ") and "escapes the corpus root" in p for p in found)
    assert len(found) == 7  # the symlink is reported once
    assert_strict_fails("maestro", root, tmp_path / "strict", "row 2: annotation without audio")


def test_maestro_missing_or_malformed_metadata(tmp_path):
    root = tmp_path / "maestro"
    root.mkdir()
    result = cli("maestro", root, tmp_path / "out")
    assert result.exit_code == 1 and "no maestro-v*.json or maestro-v*.csv metadata file" in result.output
    (root / "maestro-v3.0.0.json").write_text('{"midi_filename": {"0": "a.midi"}, ')
    result = cli("maestro", root, tmp_path / "out")
    assert result.exit_code == 1 and "maestro-v3.0.0.json: malformed JSON at line 1" in result.output
    (root / "maestro-v3.0.0.json").write_text('{"midi_filename": {"0": "a.midi"}}')
    with pytest.raises(MirError, match="no audio_filename column"):
        convert("maestro", root, tmp_path / "out")
    (root / "maestro-v3.0.0.json").write_bytes(b"\xff\xfe\xfa not UTF-8")
    with pytest.raises(MirError, match=r"maestro-v3.0.0.json: cannot read \('utf-8' codec can't decode"):
        convert("maestro", root, tmp_path / "out")
