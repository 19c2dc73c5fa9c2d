"""``--set SECTION.KEY=VALUE`` overrides: parsed (values read as YAML) and applied to the config data."""

from __future__ import annotations

import copy
import re
from typing import Any
from collections.abc import Sequence

import yaml

from mirmodels.config.errors import ConfigError
from pyjama_tools.core import yamlfile as yaml_file

__all__ = ["yaml_value", "parse_override", "apply_overrides"]


def yaml_value(raw: str) -> Any:
    """A command-line value read as YAML (``0.01`` → float, ``[1, 2]`` → list); text that is not
    valid YAML (``[``) is kept as it is, for the validation that follows to name."""
    try:
        return yaml_file.loads(raw) if raw.strip() else None
    except yaml_file.RefusedYAML as problem:  # a duplicate key, too deep, an alias bomb: never kept as text
        raise ConfigError(f"value refused{yaml_file.describe(problem)}") from None
    except yaml.YAMLError:
        return raw


_OVERRIDE_PART = re.compile(r"^([^\[\]]+)((?:\[\d+\])*)$")


def parse_override(item: str) -> tuple[list[str | int], Any]:
    """``train.lr=0.01`` → (['train', 'lr'], 0.01); ``model.block_l[0].name=x`` → (['model', 'block_l',
    0, 'name'], 'x') (the YAML paths of the error messages); the value is parsed with ``yaml.safe_load``."""
    key, sep, raw = item.partition("=")
    parts: list[str | int] = []
    for text_part in (p.strip() for p in key.split(".")):
        found = _OVERRIDE_PART.match(text_part)
        if not sep or found is None:
            raise ConfigError(f"--set {item!r}: expected SECTION.KEY=VALUE, e.g. train.lr=0.01 "
                              "(a list item: KEY[INDEX], e.g. model.block_l[0])")
        parts.append(found.group(1).strip())
        parts.extend(int(index) for index in re.findall(r"\d+", found.group(2)))
    try:
        return parts, yaml_value(raw)
    except ConfigError as error:
        raise ConfigError(f"--set {key.strip()}: {error}") from None


def _path_text(parts: Sequence[str | int]) -> str:
    """['model', 'block_l', 0] → 'model.block_l[0]'."""
    text_value = ""
    for part in parts:
        text_value += f"[{part}]" if isinstance(part, int) else (f".{part}" if text_value else part)
    return text_value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of ``data`` with each ``key.path=value`` of ``overrides`` set (mapping sections and
    keys created; a list item ``KEY[INDEX]`` must exist)."""
    data = copy.deepcopy(data)
    for item in overrides:
        parts, value = parse_override(item)
        node: Any = data
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            where = _path_text(parts[:depth])
            if isinstance(part, int):
                if not isinstance(node, list):
                    raise ConfigError(f"--set {item!r}: {where} is not a list")
                if part >= len(node):
                    raise ConfigError(f"--set {item!r}: {_path_text(parts[:depth + 1])}: no such item ({where} has "
                                      f"{len(node)})")
            elif not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {where} is not a mapping")
            if last:
                node[part] = value
                break
            child = node[part] if isinstance(part, int) else node.get(part)
            if child is None and not isinstance(parts[depth + 1], int):
                child = {}
                node[part] = child
            node = child
    return data
