"""One-line errors of YAML files, shared by configs, models and feature settings."""

from __future__ import annotations

import re
import time

import pytest
from click.testing import CliRunner

from pyjama_tools.core import yamlfile
from pyjama_tools.core.errors import MirError
from pyjama_tools.core.yamlfile import read_yaml


def test_reads_yaml(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("train:\n  lr: 0.01\n")
    assert read_yaml(path) == {"train": {"lr": 0.01}}
    (tmp_path / "empty.yaml").write_text("")
    assert read_yaml(tmp_path / "empty.yaml") is None


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "absent.yaml", "absent.yaml: no such config file"),
    (lambda d: d, "is a folder, not a config file"),
    (lambda d: (d / "b.yaml", (d / "b.yaml").write_text("a: [1,\nb: 2\n"))[0], "b.yaml: invalid YAML at line 3, column 1"),
    (lambda d: (d / "c.yaml", (d / "c.yaml").write_bytes(b"a: \xff\xfe\n"))[0], "c.yaml: not a UTF-8 text file"),
])
def test_each_mistake_is_one_line(tmp_path, make, message):
    class ConfigProblem(MirError):
        pass

    with pytest.raises(ConfigProblem) as info:
        read_yaml(make(tmp_path), what="config", error=ConfigProblem)
    assert message in str(info.value) and "\n" not in str(info.value)


# ----------------------------------------------------------------------------- hostile YAML

#: "billion laughs": 9 levels of 9 aliases, 9**9 nodes once expanded, in 600 bytes
BOMB = 'a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n' + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9))
DEEP = "x: " + "[" * 20000 + "]" * 20000 + "\n"
DEEP_BLOCK = "".join("  " * i + "k:\n" for i in range(300)) + "  " * 300 + "k: 1\n"
HOSTILE = [
    (BOMB, "refused YAML at line 6, column 5: a5: aliases expand to more than 100000 nodes"),
    ("train:\n  lr: 0.1\n  epochs: 3\n  lr: 0.001\n",
     "refused YAML at line 4, column 3: duplicate key 'train.lr' (YAML would keep only the last one)"),
    (DEEP, "refused YAML at line 1, column 104: nested deeper than 100 levels"),
    (DEEP_BLOCK, "refused YAML at line 100, column 199: nested deeper than 100 levels"),
    ("a: &x [1, *x]\n", "refused YAML at line 1, column 4: a[1]: an alias refers to the node that contains it"),
]


@pytest.mark.parametrize("text, message", HOSTILE, ids=["bomb", "duplicate", "deep", "deep-block", "recursive"])
def test_hostile_yaml_is_refused_in_bounded_time(tmp_path, text, message):
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    start = time.monotonic()
    with pytest.raises(MirError) as info:
        read_yaml(path, what="config")
    assert time.monotonic() - start < 5
    assert str(info.value) == f"{path}: {message}"


def test_merge_keys_and_shared_anchors_are_still_allowed(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("base: &b {lr: 0.1, epochs: 2}\ntrain:\n  <<: *b\n  lr: 0.01\nother: *b\n")
    assert read_yaml(path) == {"base": {"lr": 0.1, "epochs": 2}, "train": {"lr": 0.01, "epochs": 2},
                               "other": {"lr": 0.1, "epochs": 2}}


def test_a_file_too_large_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(yamlfile, "MAX_BYTES", 1000)
    path = tmp_path / "big.yaml"
    path.write_text("a: 1\n" * 300)
    with pytest.raises(MirError, match=r"big\.yaml: 1500 bytes, larger than a config file can be"):
        read_yaml(path, what="config")


@pytest.mark.parametrize("text, message", HOSTILE[:3], ids=["bomb", "duplicate", "deep"])
def test_every_entry_point_refuses_hostile_yaml(tmp_path, text, message):
    """mirmodels configs, mirmodels --set values and mirfeat cache --config all read YAML here."""
    from mirfeat.cli import main as mirfeat_main
    from mirmodels.cli import main as mirmodels_main
    from mirmodels.config import ConfigError, load_config

    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path)
    config = tmp_path / "config.yaml"
    config.write_text("train: {lr: 0.01}\n")
    start = time.monotonic()
    with pytest.raises(ConfigError, match=r"--set train\.x: value refused at line"):
        load_config(config, overrides=[f"train.x={text}"])
    assert time.monotonic() - start < 5
    result = CliRunner().invoke(mirfeat_main, ["cache", str(tmp_path / "a_audio.hdf5"), str(tmp_path / "c.hdf5"),
                                               "--config", str(path)])
    assert result.exit_code == 1 and result.output == f"error: {path}: {message}\n"
    # the same YAML as a --set value: one line naming the key, before anything starts
    value = text.replace("\n", "\n  ").rstrip()  # indented: a block mapping under the key
    result = CliRunner().invoke(mirmodels_main, ["fit", str(config), "--set", f"train.x=\n  {value}"])
    assert result.exit_code == 1, result.output
    assert len(result.output.splitlines()) == 1
    assert result.output.startswith(f"error: {config}: --set train.x: value refused at line")
    assert message.split(": ", 1)[1].split(" (")[0].split(": ")[-1] in result.output


def test_every_json_reader_says_a_malformed_file_in_one_line_with_line_and_column(tmp_path):
    """One JSON reader (core.textfile.read_json / parse_json) serves the .pyjama loader, the mirdata index, the
    MAESTRO metadata and run.json: the same line for the same mistake."""
    from pyjama_tools import pyjama
    from pyjama_tools.converters.mirdata_corpus import read_index
    from pyjama_tools.core.errors import MirError
    from pyjama_tools.core.textfile import parse_json, read_json

    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1,\n "b": }', encoding="utf-8")
    expected = f"{bad}: malformed JSON at line 2, column 7: Expecting value"
    for reader in (read_json, pyjama.load, read_index):
        with pytest.raises(MirError) as raised:
            reader(bad)
        assert str(raised.value) == expected, reader
    with pytest.raises(MirError, match="^JSON nested too deeply$"):
        parse_json("[" * 100_000 + "]" * 100_000)
    assert read_json(_write(tmp_path / "ok.json", '{"x": [1, 2]}')) == {"x": [1, 2]}


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path
