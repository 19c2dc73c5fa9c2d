"""The ``pyjama-convert`` command line and the conversion runner.

list, validate, info, --strict, --overwrite, --sr, interrupts, and one run as a separate process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile
from click.testing import CliRunner

from pyjama_tools import audio_store, pyjama
from pyjama_tools.core.atomic import staging_path
from pyjama_tools.audio_store import AudioStore
from pyjama_tools.cli import main
from pyjama_tools.convert import convert


def make_gtzan(root: Path, genres=("blues", "rock"), per_genre=2, seconds=0.3, rate=22050) -> Path:
    """A tiny GTZAN-shaped corpus: ``root/genres/<genre>/<genre>.000NN.wav``."""
    rng = np.random.default_rng(0)
    for genre in genres:
        folder = root / "genres" / genre
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(per_genre):
            audio = 0.1 * rng.standard_normal(int(seconds * rate)).astype(np.float32)
            soundfile.write(folder / f"{genre}.{index:05d}.wav", audio, rate, subtype="PCM_16")
    return root


#: the console script's entry point, run as a separate process
CLI = [sys.executable, "-c", "from pyjama_tools.cli import main; main()"]


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_list_names_every_converter():
    result = run("list")
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.output.splitlines()]
    for name in ("gtzan", "mtt", "folder", "maps", "rwc-chord", "maestro"):
        assert name in names
    assert "[rwc-pop_chord]" in result.output and "[gtzan-genre]" in result.output


def test_convert_validate_info_round(tmp_path):
    corpus = make_gtzan(tmp_path / "corpus")
    out = tmp_path / "out"
    result = run("gtzan", corpus, out, "--quiet")
    assert result.exit_code == 0, result.output
    assert result.output == ""  # --quiet and nothing skipped: silent
    assert sorted(p.name for p in out.iterdir()) == [".gtzan-genre.pyjama.lock", "gtzan-genre.pyjama",
                                                     "gtzan-genre_audio.hdf5"]  # the lock file stays, free

    result = run("validate", out / "gtzan-genre.pyjama", "--audio", out / "gtzan-genre_audio.hdf5")
    assert result.exit_code == 0 and "valid (4 entries)" in result.output

    result = run("info", out / "gtzan-genre.pyjama")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert "schemaversion 1.31, 4 entries" in lines[0]
    genre_line = next(line for line in lines if line.startswith("genre"))
    assert genre_line.split() == ["genre", "global", "text", "4", "2"]  # 4 entries, vocabulary of 2
    assert "4 files, total 0.0 min (1.2 s)" in result.output


def test_validate_lists_every_problem_and_exits_1(tmp_path):
    corpus = make_gtzan(tmp_path / "corpus")
    convert("gtzan", corpus, tmp_path / "out")
    path = tmp_path / "out" / "gtzan-genre.pyjama"
    data = json.loads(path.read_text())
    data["collection"]["entry"][0]["genre"] = [{"value": "polka"}]
    data["collection"]["entry"][1]["filepath"] = [{"value": "rock+++nothere.wav"}]
    path.write_text(json.dumps(data))
    result = CliRunner().invoke(main, ["validate", str(path), "--audio",
                                                       str(tmp_path / "out" / "gtzan-genre_audio.hdf5")])
    assert result.exit_code == 1
    problems = result.stdout.splitlines()
    assert len(problems) == 2
    assert "entry 0 ('blues+++blues.00000.wav'), field 'genre', atom 0: value 'polka' is not in the dictionary" \
        in problems[0]
    assert "entry 1 ('rock+++nothere.wav'), field 'filepath': key not found in the audio file" in problems[1]
    assert result.stderr.strip() == f"error: {path}: 2 problem(s)"


def test_validate_malformed_json_one_line(tmp_path):
    path = tmp_path / "broken.pyjama"
    path.write_text('{"schemaversion": 1.31, "collection": {')
    result = run("validate", path)
    assert result.exit_code == 1
    assert result.output.strip().startswith(f"error: {path}: malformed JSON at line 1")
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_existing_output_needs_overwrite(tmp_path):
    corpus = make_gtzan(tmp_path / "corpus")
    assert run("gtzan", corpus, tmp_path / "out", "--quiet").exit_code == 0
    result = run("gtzan", corpus, tmp_path / "out", "--quiet")
    assert result.exit_code == 1
    assert result.output.strip() == f"error: {tmp_path / 'out' / 'gtzan-genre.pyjama'}: already exists " \
                                    "(use --overwrite to replace it)"
    assert run("gtzan", corpus, tmp_path / "out", "--quiet", "--overwrite").exit_code == 0


def test_sample_rate_option_native_and_bad(tmp_path):
    corpus = make_gtzan(tmp_path / "corpus", genres=("jazz",), per_genre=1, rate=16000)
    assert run("gtzan", corpus, tmp_path / "a", "--sr", "native", "--name", "native").exit_code == 0
    with AudioStore(tmp_path / "a" / "native_audio.hdf5") as store:
        assert store.sample_rate("jazz+++jazz.00000.wav") == 16000
        assert store.num_samples("jazz+++jazz.00000.wav") == 4800
    assert run("gtzan", corpus, tmp_path / "b", "--sr", "8000").exit_code == 0
    with AudioStore(tmp_path / "b" / "gtzan-genre_audio.hdf5") as store:
        assert store.sample_rate("jazz+++jazz.00000.wav") == 8000
    for bad, message in (("fast", "--sr 'fast': expected a rate in Hz or 'native'"),
                         ("-5", "--sr '-5': the rate must be > 0 Hz")):
        result = run("gtzan", corpus, tmp_path / "c", "--sr", bad)
        assert result.exit_code == 1 and result.output.strip() == f"error: {message}"
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").iterdir())


def test_unknown_corpus_suggests_close_names(tmp_path):
    result = run("gtzn", tmp_path, tmp_path / "out")
    assert result.exit_code == 1
    assert result.output.startswith("error: unknown corpus 'gtzn' (did you mean gtzan?)")


def test_missing_corpus_folder(tmp_path):
    result = run("gtzan", tmp_path / "nothing", tmp_path / "out")
    assert result.exit_code == 1 and "no such corpus folder" in result.output


def test_bad_item_skipped_and_reported_or_strict_fails(tmp_path):
    corpus = make_gtzan(tmp_path / "corpus")
    (corpus / "genres" / "rock" / "rock.00099.wav").write_bytes(b"")  # unreadable (empty) audio
    result = CliRunner().invoke(main, ["gtzan", str(corpus), str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 0
    assert "wrote 4 entries" in result.stdout
    report = tmp_path / "out" / "gtzan-genre_report.tsv"
    assert result.stderr.strip() == f"skipped 1 bad input(s), listed in {report}"
    rows = report.read_text().splitlines()
    assert rows[0] == "where\tproblem" and len(rows) == 2
    assert rows[1].startswith("rock+++rock.00099.wav\t") and "cannot decode" in rows[1]

    result = run("gtzan", corpus, tmp_path / "strict", "--strict", "--quiet")
    assert result.exit_code == 1
    assert result.output.startswith("error: rock+++rock.00099.wav: ") and "cannot decode" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert [p.name for p in (tmp_path / "strict").iterdir()] == [".gtzan-genre.pyjama.lock"]  # no pair, no partial


def test_interrupted_conversion_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    corpus = make_gtzan(tmp_path / "corpus", per_genre=3)
    out = tmp_path / "out"
    convert("gtzan", corpus, out)  # an older complete pair
    real_decode = audio_store.decode
    calls = []

    def interrupted(source, *args, **kwargs):
        calls.append(source)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_decode(source, *args, **kwargs)

    before = {p.name: p.read_bytes() for p in out.iterdir() if not p.name.endswith(".lock")}
    monkeypatch.setattr(audio_store, "decode", interrupted)
    result = CliRunner().invoke(main, ["gtzan", str(corpus), str(out), "--overwrite", "--quiet"])
    assert result.exit_code == 130 and result.output.strip() == "error: interrupted"
    # the old pair is kept, byte for byte, and no staging file stays
    after = {p.name: p.read_bytes() for p in out.iterdir() if not p.name.endswith(".lock")}
    assert after == before and sorted(after) == ["gtzan-genre.pyjama", "gtzan-genre_audio.hdf5"]
    monkeypatch.setattr(audio_store, "decode", real_decode)
    assert run("gtzan", corpus, out, "--overwrite", "--quiet").exit_code == 0
    with AudioStore(out / "gtzan-genre_audio.hdf5") as store:
        assert pyjama.validate(pyjama.load(out / "gtzan-genre.pyjama"), store.keys()) == []


def test_console_script_runs_in_a_subprocess(tmp_path):
    corpus = make_gtzan(tmp_path / "corpus", genres=("pop",), per_genre=1)
    result = subprocess.run([*CLI, "gtzan", str(corpus), str(tmp_path / "out"),
                             "--jobs", "2"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    doc = pyjama.load(tmp_path / "out" / "gtzan-genre.pyjama")
    assert doc.keys() == ["pop+++pop.00000.wav"] and doc.labels("genre") == [["pop"]]
    bad = subprocess.run([*CLI, "validate", str(tmp_path / "none.pyjama")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and bad.stderr.strip() == f"error: {tmp_path / 'none.pyjama'}: no such file"
    assert "Traceback" not in bad.stderr


def test_info_on_a_malformed_document_is_one_line(tmp_path):
    corpus = make_gtzan(tmp_path / "corpus")
    convert("gtzan", corpus, tmp_path / "out")
    path = tmp_path / "out" / "gtzan-genre.pyjama"
    data = json.loads(path.read_text())
    data["collection"]["entry"].append(5)  # not an object
    data["collection"]["descriptiondefinition"]["genre"]["dictionary"] = 3
    path.write_text(json.dumps(data))
    result = CliRunner().invoke(main, ["info", str(path)])
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.startswith(f"error: {path}: descriptiondefinition 'genre': value_in_dictionary without")
    assert "more); `pyjama-convert validate` lists them" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_info_does_not_count_the_reference_placeholder_as_annotated(tmp_path):
    """Every entry carries every field; one without a genre holds the reference library's ``[{"value": ""}]``."""
    corpus = make_gtzan(tmp_path / "corpus")
    convert("gtzan", corpus, tmp_path / "out")
    path = tmp_path / "out" / "gtzan-genre.pyjama"
    data = json.loads(path.read_text())
    entries = data["collection"]["entry"]
    entries[0]["genre"] = [{"value": ""}]
    path.write_text(json.dumps(data))
    result = CliRunner().invoke(main, ["info", str(path)])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("genre "))
    assert row.split()[3] == str(len(entries) - 1), row


def test_corpus_root_that_is_a_file_is_one_line_for_every_converter(tmp_path):
    from pyjama_tools.converters import load_all

    source = tmp_path / "corpus.zip"
    source.write_bytes(b"PK\x03\x04")
    for name, converter in sorted(load_all().items()):
        leading = [o.name for o in converter.options if o.positional]  # mirdata's DATASET
        result = CliRunner().invoke(main, [name, *leading, str(source), str(tmp_path / "out")])
        assert result.exit_code == 1, (name, result.output)
        assert result.stderr.strip() == f"error: {source}: not a folder (SRC is the corpus root folder)", name


def test_output_folder_that_is_a_file_is_one_line(tmp_path):
    corpus = make_gtzan(tmp_path / "corpus")
    out = tmp_path / "out"
    out.write_text("not a folder")
    result = CliRunner().invoke(main, ["gtzan", str(corpus), str(out)])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {out}: cannot create the output folder (File exists)"


def test_base_name_with_a_folder_part_is_refused(tmp_path):
    corpus = make_gtzan(tmp_path / "corpus")
    for name in ("x/y", "../up", ".hidden"):
        result = CliRunner().invoke(main, ["gtzan", str(corpus), str(tmp_path / "out"), "--name", name])
        assert result.exit_code == 1
        assert result.stderr.strip().startswith(f"error: --name {name!r}: a base file name is expected")
    assert not (tmp_path / "out").exists() and not (tmp_path / "up.pyjama").exists()


def test_relative_corpus_root_checks_symlinks_and_matches_label_tables(tmp_path, monkeypatch):
    """SRC given relative to the working folder: a link out of SRC is still refused, a labels table still matches."""
    rng = np.random.default_rng(1)
    for relative in ("corpus/a/x.wav", "corpus/b/y.wav", "outside/z.wav"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(tmp_path / relative, 0.1 * rng.standard_normal(4000).astype(np.float32), 22050)
    (tmp_path / "corpus" / "a" / "z.wav").symlink_to(tmp_path / "outside" / "z.wav")
    (tmp_path / "labels.csv").write_text("file,label\na/x.wav,rock\nb/y.wav,jazz\n")
    monkeypatch.chdir(tmp_path)

    report = convert("folder", "corpus", "out1")
    assert pyjama.load(tmp_path / "out1" / "folder.pyjama").keys() == ["a+++x.wav", "b+++y.wav"]
    assert [p.message for p in report.problems] == [f"path escapes the corpus root {tmp_path / 'corpus'}"]

    report = convert("folder", "corpus", "out2", labels="labels.csv", key_column="file", label_column="label")
    doc = pyjama.load(tmp_path / "out2" / "folder.pyjama")
    assert doc.keys() == ["a+++x.wav", "b+++y.wav"] and doc.labels("label") == [["rock"], ["jazz"]]


def test_an_os_error_while_writing_is_one_line(tmp_path, monkeypatch):
    """No permission / disk full while writing (simulated): one line naming the file, exit 1, no traceback."""
    corpus = make_gtzan(tmp_path / "corpus")

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("pyjama_tools.convert.write_audio_store", refuse)
    result = CliRunner().invoke(main, ["gtzan", str(corpus), str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 1 and not isinstance(result.exception, PermissionError)
    # the new audio is staged beside the output until the pair is complete: that is the file named
    staged = staging_path(tmp_path / "out" / "gtzan-genre_audio.hdf5")
    assert result.stderr.strip() == f"error: {staged}: Permission denied"
