"""Contract of every registered corpus converter (``pyjama-convert <name>``).

The tests are parametrized over the converter registry, so a new converter module is put under
test by registering it: it has a name, a one-line summary and documented options; its command
line parses every option it declares; an empty folder and a folder of the wrong layout end in one
``error:`` line naming the folder, exit 1, and no output pair; and where a small corpus of its true
layout can be written here (or a real sample exists in ``../shared/fixtures``) the pair it writes
validates.

Only what a converter needs beyond ``SRC OUT_DIR`` is written per converter: :data:`CLI_ARGS` (the
arguments a converter must have to reach its corpus, e.g. mirdata's DATASET and index) and
:data:`SAMPLE_CORPORA` (how to write, or where to find, a small corpus of the true layout).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from collections.abc import Callable

import click
import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from pyjama_tools import pyjama
from pyjama_tools.audio_store import AudioStore
from pyjama_tools.cli import main
from pyjama_tools.convert import convert
from pyjama_tools import converters

try:  # the shared real-sample helper (tests/conftest.py), skipping when the sample is absent
    from conftest import fixture_path
except ImportError:  # pragma: no cover - tests/ turned into a package
    from tests.conftest import fixture_path


def registry():
    """The converter registry, every converter module imported."""
    load_all = getattr(converters, "load_all", None)
    return load_all() if load_all is not None else converters.CONVERTERS


NAMES = sorted(name for name, _ in registry().items())


def write_wav(path: Path, seconds: float = 0.25, rate: int = 8000, channels: int = 1, seed: int = 0) -> Path:
    """A short noise file (soundfile picks the format from the suffix: .wav, .flac, .mp3)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = 0.1 * np.random.default_rng(seed).standard_normal((int(seconds * rate), channels))
    soundfile.write(path, noise.astype(np.float32), rate)
    return path


# ----------------------------------------------------------------------------- per-converter knowledge


def _mirdata_index(tmp: Path) -> Path:
    """A one-track tinysol index (mirdata's layout: track id → file → [path, checksum])."""
    index = tmp / "tinysol_index.json"
    index.write_text(json.dumps({"version": "6.0", "tracks": {
        "Cb-ord-A2-mf-2c-N": {"audio": ["audio/Strings/Contrabass/ordinario/Cb-ord-A2-mf-2c-N.wav", None]}}}))
    return index


#: arguments besides SRC and OUT_DIR that a converter needs to read a corpus at all:
#: name → tmp folder → (arguments before SRC, options after OUT_DIR)
CLI_ARGS: dict[str, Callable[[Path], tuple[list[str], list[str]]]] = {
    "mirdata": lambda tmp: (["tinysol"], ["--version", "6.0", "--index", str(_mirdata_index(tmp))]),
}


def cli_args(name: str, tmp: Path) -> tuple[list[str], list[str]]:
    return CLI_ARGS[name](tmp) if name in CLI_ARGS else ([], [])


def _folder(tmp: Path) -> tuple[Path, dict]:
    for label in ("jazz", "rock"):
        for number in range(2):
            write_wav(tmp / "src" / label / f"{label}{number}.wav", seed=number)
    return tmp / "src", {}


def _gtzan(tmp: Path) -> tuple[Path, dict]:
    for genre in ("blues", "rock"):
        write_wav(tmp / "src" / "genres" / genre / f"{genre}.00000.wav")
    return tmp / "src", {}


def _musdb18(tmp: Path) -> tuple[Path, dict]:
    for stem in ("mixture", "drums", "bass", "other", "vocals"):
        write_wav(tmp / "src" / "train" / "Artist - Track" / f"{stem}.wav", rate=44100, channels=2)
    return tmp / "src", {}


def _maps(tmp: Path) -> tuple[Path, dict]:
    piece = tmp / "src" / "ENSTDkCl" / "MUS" / "MAPS_MUS-x_ENSTDkCl"
    write_wav(piece.with_suffix(".wav"), rate=44100, channels=2)
    piece.with_suffix(".txt").write_text("OnsetTime\tOffsetTime\tMidiPitch\r\n0.01\t0.1\t60\r\n0.05\t0.2\t64\r\n")
    return tmp / "src", {}


def _mtt(tmp: Path) -> tuple[Path, dict]:
    root = tmp / "src"
    tags = [f"tag {i:03d}" for i in range(188)]
    rows = []
    for clip_id, folder in ((2, "0"), (6, "f")):
        path = f"{folder}/artist_{clip_id}-album-01-track-0-29.mp3"
        write_wav(root / "mp3" / path, rate=16000, seed=clip_id)
        cells = ["1" if i % (clip_id + 1) == 0 else "0" for i in range(188)]
        rows.append("\t".join([f'"{clip_id}"', *(f'"{c}"' for c in cells), f'"{path}"']))
    header = "\t".join(f'"{c}"' for c in ["clip_id", *tags, "mp3_path"])
    (root / "annotations_final.csv").write_text("\n".join([header, *rows]) + "\n")
    return root, {}


def _jams(tmp: Path) -> tuple[Path, dict]:
    root = tmp / "src"
    write_wav(root / "a.wav")
    chord = {"namespace": "chord", "data": [{"time": 0.0, "duration": 0.1, "value": "C:maj", "confidence": 1.0}],
             "annotation_metadata": {}, "sandbox": {}}
    (root / "a.jams").write_text(json.dumps({"annotations": [chord], "file_metadata": {"title": "A", "duration": 0.25},
                                             "sandbox": {}}))
    return root, {}


def _fixture(*parts: str, **options) -> Callable[[Path], tuple[Path, dict]]:
    """A real sample of ``../shared/fixtures`` (the test skips when it is absent)."""
    return lambda tmp: (fixture_path(*parts), options)


def _mirdata(tmp: Path) -> tuple[Path, dict]:
    index = fixture_path("mirdata", "indexes", "tinysol_index_6.0_sample.json")
    return fixture_path("mirdata", "resources", "tinysol"), {"dataset": "tinysol", "version": "6.0",
                                                           "index": str(index)}


#: a small corpus of each converter's true layout: name → tmp folder → (SRC, convert() options)
SAMPLE_CORPORA: dict[str, Callable[[Path], tuple[Path, dict]]] = {
    "folder": _folder,
    "gtzan": _gtzan,
    "musdb18": _musdb18,
    "maps": _maps,
    "mtt": _mtt,
    "jams": _jams,
    "mirdata": _mirdata,
    "bach10": _fixture("bach10", "Bach10_v1.1"),
    "da-tacos": _fixture("da_tacos"),
    "guitarset": _fixture("mirdata", "resources", "guitarset"),
    "maestro": _fixture("mirdata", "resources", "maestro"),
    "rwc-chord": _fixture("rwc_popular"),
}


# ----------------------------------------------------------------------------- helpers


def run_cli(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def converter_command(name: str) -> click.Command:
    """The ``pyjama-convert <name>`` click command."""
    with click.Context(main) as ctx:
        command = main.get_command(ctx, name)
    assert command is not None, f"pyjama-convert has no subcommand {name!r}"
    return command


def sample_value(option, tmp: Path):
    """A command-line value for ``option`` that its type accepts, and the value it parses to."""
    kind = option.type
    if isinstance(kind, click.Choice):
        return kind.choices[-1], kind.choices[-1]
    if isinstance(kind, click.Path) or kind is Path:
        return str(tmp), tmp
    if isinstance(kind, click.IntRange) or kind is int:
        low = getattr(kind, "min", None) or 1
        return str(low + 1), low + 1
    if kind is float:
        return "0.5", 0.5
    return "x", "x"


def output_files(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_file()) if out.exists() else []


def payload_keys(path: Path) -> list[str]:
    with AudioStore(path) as store:
        return list(store.file.keys())


# ----------------------------------------------------------------------------- the contracts


def test_the_registry_holds_converters():
    assert NAMES, "no converter registered"


@pytest.mark.parametrize("name", NAMES)
def test_name_summary_and_options_are_described(name):
    converter_class = converters.get_converter_class(name)
    assert converter_class.name == name
    summary = converter_class.summary
    assert isinstance(summary, str) and summary.strip() and "\n" not in summary, f"{name}: no one-line summary"
    assert isinstance(converter_class.default_base, str) and converter_class.default_base.strip()
    parameters = [option.parameter for option in converter_class.options]
    assert len(parameters) == len(set(parameters)), f"{name}: two options with one name"
    for option in converter_class.options:
        assert option.help.strip() and "\n" not in option.help, f"{name} --{option.name}: no one-line help"
    code, output = run_cli("list")
    assert code == 0 and any(line.split()[:1] == [name] and summary in line for line in output.splitlines())


@pytest.mark.parametrize("name", NAMES)
def test_a_misspelt_converter_name_is_one_line_with_a_suggestion(name, tmp_path):
    code, output = run_cli(name + name[-1], tmp_path, tmp_path / "out")
    lines = output.strip().splitlines()
    assert code != 0 and len(lines) == 1 and lines[0].startswith("error: "), output
    assert re.search(rf"did you mean [^;]*\b{re.escape(name)}\b", lines[0]), lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", NAMES)
def test_help_shows_every_option(name):
    code, output = run_cli(name, "--help")
    assert code == 0, output
    assert name in output and "--strict" in output
    for option in registry()[name].options:
        shown = option.parameter.upper() if option.positional else f"--{option.name}"
        assert shown in output, f"pyjama-convert {name} --help does not show {shown}"


@pytest.mark.parametrize("name", NAMES)
def test_every_declared_option_parses(name, tmp_path):
    converter_class = registry()[name]
    command = converter_command(name)
    positional, options, expected = [], [], {}
    for option in converter_class.options:
        if option.positional:
            positional.append("value")
            expected[option.parameter] = "value"
        elif option.is_flag:
            options.append(f"--{option.name}")
            expected[option.parameter] = True
        else:
            text, value = sample_value(option, tmp_path)
            options += [f"--{option.name}", text]
            expected[option.parameter] = value
    ctx = command.make_context(name, [*positional, str(tmp_path), str(tmp_path / "out"), *options])
    for parameter, value in expected.items():
        parsed = ctx.params[parameter]  # a path may parse to str or Path: compared as text
        assert str(parsed) == str(value), f"{name}: {parameter} parsed as {parsed!r}, expected {value!r}"
    # and defaults: nothing but SRC OUT_DIR (and the positional arguments) parses to the declared defaults
    ctx = command.make_context(name, [*positional, str(tmp_path), str(tmp_path / "out")])
    for option in converter_class.options:
        if not option.positional:
            assert ctx.params[option.parameter] == (bool(option.default) if option.is_flag else option.default)


def _wrong_layout(root: Path) -> Path:
    """A folder that is no corpus: a text file and a subfolder with a JSON file."""
    (root / "notes").mkdir(parents=True)
    (root / "README.txt").write_text("not a corpus\n")
    (root / "notes" / "a.json").write_text("{}\n")
    return root


@pytest.mark.parametrize("layout", ["empty", "wrong"])
@pytest.mark.parametrize("name", NAMES)
def test_a_folder_that_is_no_corpus_is_one_line_and_leaves_no_pair(name, layout, tmp_path):
    source = tmp_path / "corpus"
    if layout == "empty":
        source.mkdir()
    else:
        _wrong_layout(source)
    out = tmp_path / "out"
    before, after = cli_args(name, tmp_path)
    code, output = run_cli(name, *before, source, out, "--quiet", *after)
    lines = output.strip().splitlines()
    assert code == 1, f"{name}: exit {code} on a folder that is no corpus: {output}"
    assert len(lines) == 1 and lines[0].startswith("error: "), f"{name}: not one error line: {output!r}"
    assert "Traceback" not in output
    assert str(source) in lines[0], f"{name}: the error does not name the folder {source}: {lines[0]}"
    assert output_files(out) == [], f"{name}: left {output_files(out)}"


@pytest.mark.parametrize("name", NAMES)
def test_a_sample_corpus_converts_to_a_valid_pair(name, tmp_path):
    if name not in SAMPLE_CORPORA:
        pytest.skip(f"no sample corpus for converter {name!r}: add one to SAMPLE_CORPORA in {Path(__file__).name}")
    source, options = SAMPLE_CORPORA[name](tmp_path)
    out = tmp_path / "out"
    report = convert(name, source, out, sample_rate=8000, **options)
    assert report.entries > 0
    assert report.pyjama_path.exists() and report.payload_path.exists()
    doc = pyjama.load(report.pyjama_path)
    problems = pyjama.validate(doc, payload_keys(report.payload_path))
    assert problems == [], f"{name}: {problems[:3]}"
    assert len(doc.entries) == report.entries
    code, output = run_cli("validate", report.pyjama_path, "--audio", report.payload_path)
    assert code == 0, output
