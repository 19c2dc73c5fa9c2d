"""Reading YAML files (configs, models, feature settings) with one-line errors, in bounded time and memory.

Every YAML the three packages read (files and ``--set`` values) goes through :func:`loads`, a
``yaml.SafeLoader`` (no Python objects, no code) that also refuses, as one line naming the
place:

- a duplicate mapping key (YAML keeps the last one silently; a typo'd config would then train
  with a value nobody wrote last);
- nesting deeper than :data:`MAX_DEPTH` levels (deep input made the composer and every later
  walk of the tree raise ``RecursionError``);
- aliases that expand to more than :data:`MAX_ALIAS_NODES` nodes, or refer to themselves (a
  "billion laughs" file is a few hundred bytes; printing or copying its value never ends);
- a file larger than :data:`MAX_BYTES`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pyjama_tools.core.errors import MirError

#: the largest YAML file read, in bytes (configs are a few kB)
MAX_BYTES = 8 * 1024 * 1024
#: the deepest nesting of mappings and sequences
MAX_DEPTH = 100
#: how many nodes aliases may add to the document once expanded
MAX_ALIAS_NODES = 100_000

_MERGE_TAG = "tag:yaml.org,2002:merge"


class RefusedYAML(yaml.MarkedYAMLError):
    """Valid YAML that is refused: a duplicate key, too deep, or aliases expanding too far."""


def _path(parent: str, part: str) -> str:
    return f"{parent}.{part}" if parent else part


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that bounds depth while composing and checks the tree before building it."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def _check_flow_depth(self) -> None:
        # in nested flow collections ([[[...) the scanner reads up to 1024 levels ahead of the
        # composer, rechecking every level at each token (0.3-0.9 s measured): stop it at the limit
        if self.flow_level >= MAX_DEPTH:
            raise RefusedYAML(None, None, f"nested deeper than {MAX_DEPTH} levels", self.get_mark())

    def fetch_flow_sequence_start(self) -> None:
        self._check_flow_depth()
        super().fetch_flow_sequence_start()

    def fetch_flow_mapping_start(self) -> None:
        self._check_flow_depth()
        super().fetch_flow_mapping_start()

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self._depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise RefusedYAML(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self) -> Node | None:
        node = super().get_single_node()
        if node is not None:
            _check_tree(node)
        return node


def _check_tree(root: Node) -> None:
    """Refuse duplicate keys (naming their YAML path), self-referring aliases and alias bombs."""
    sizes: dict[int, int] = {}  # id(node) → nodes in its expanded subtree
    visiting: set[int] = set()

    def size(node: Node, where: str) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in visiting:
            raise RefusedYAML(None, None, f"{where or 'the document'}: an alias refers to the node that "
                              "contains it", node.start_mark)
        visiting.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            for index, child in enumerate(node.value):
                total += size(child, f"{where}[{index}]")
        elif isinstance(node, MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                name = key_node.value if isinstance(key_node, ScalarNode) else None
                if name is not None and key_node.tag != _MERGE_TAG:
                    if name in seen:
                        raise RefusedYAML(None, None, f"duplicate key {_path(where, name)!r} (YAML would keep "
                                          "only the last one)", key_node.start_mark)
                    seen.add(name)
                total += size(key_node, where) + size(value_node, _path(where, str(name)))
        visiting.discard(key)
        sizes[key] = total
        if total - len(sizes) > MAX_ALIAS_NODES:
            raise RefusedYAML(None, None, f"{where or 'the document'}: aliases expand to more than "
                              f"{MAX_ALIAS_NODES} nodes", node.start_mark)
        return total

    size(root, "")


def loads(text: str) -> Any:
    """Parse YAML text with the bounds of this module (``None`` for an empty document).

    Raises
    ------
    yaml.YAMLError
        A syntax error, or :class:`RefusedYAML` for a duplicate key, nesting deeper than
        :data:`MAX_DEPTH`, or aliases expanding past :data:`MAX_ALIAS_NODES` nodes.
    """
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def describe(problem: yaml.YAMLError) -> str:
    """``at line L, column C: reason`` of a YAML error (the place is left out when unknown)."""
    mark = getattr(problem, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    reason = getattr(problem, "problem", None) or str(problem).splitlines()[0]
    return f"{where}: {reason}"


def read_yaml(path: str | os.PathLike, what: str = "", error: type[MirError] = MirError) -> Any:
    """:func:`loads` of a file (``None`` when empty).

    Parameters
    ----------
    path : the YAML file
    what : what the file is, for the messages ("config", "model"); empty = plain "file"
    error : the :class:`MirError` subclass to raise

    Raises
    ------
    error
        A folder, a missing file, a file over :data:`MAX_BYTES`, a syntax error or refused YAML
        (naming line and column) or a file that is not UTF-8, each as one line that starts with
        the path.
    """
    path = Path(path)
    kind = f"{what} file" if what else "file"
    if path.is_dir():
        raise error(f"{path}: is a folder, not a {what or 'YAML'} file")
    if not path.is_file():
        raise error(f"{path}: no such {kind}")
    try:
        if path.stat().st_size > MAX_BYTES:
            raise error(f"{path}: {path.stat().st_size} bytes, larger than a {kind} can be "
                        f"({MAX_BYTES // 2**20} MiB)")
        return loads(path.read_text(encoding="utf-8"))
    except RefusedYAML as problem:
        raise error(f"{path}: refused YAML{describe(problem)}") from None
    except yaml.YAMLError as problem:
        raise error(f"{path}: invalid YAML{describe(problem)}") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not a UTF-8 text file") from None
    except OSError as problem:
        raise error(f"{path}: cannot read ({problem.strerror})") from None
