"""One-line errors of YAML files, shared by configs, models and feature settings."""

from __future__ import annotations

import pytest

from pyjama_tools.errors import MirError
from pyjama_tools.yamlfile import read_yaml


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
