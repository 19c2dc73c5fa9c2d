"""Train / valid / test splits of a dataset's keys (``mirmodels fit`` and ``pyjama-convert split``).

Before a rule, :func:`select_keys` may narrow the entries kept: those whose field has a value
(``where``, e.g. ``{"stem": "mixture"}``), then every N-th of them (``every``; the book trains on
1/20 of MagnaTagATune).

Three rules, registered by name in :data:`SPLIT_RULES`:

- ``index_mod5`` (the tutorial's): the entries kept (``keys``: those with audio, features and the
  annotation, as the notebooks keep the entries carrying it) are numbered in document order; those
  whose number is a multiple of 5 go to ``valid``, the others to ``train`` (on Bach10 the kept entries
  are the 10 mixes: mixes 1 and 6 are ``valid``, though every mix sits at a document index divisible
  by 5);
- ``field``: the value of a global field of each entry (``split`` by default): ``train``, ``valid``
  (``validation`` and ``val`` are read as ``valid``) or ``test``; an entry without the field is left
  out (GTZAN converted with its fault-filtered lists gives no ``split`` to the 70 files those lists
  exclude), an entry with two values is an error;
- ``list``: text files with one key or relative path per line (``blues/blues.00000.wav`` is the
  key ``blues+++blues.00000.wav``); the split is named by the file (``train_filtered.txt`` →
  ``train``) or by the mapping key when ``list_files`` is a dict. Entries in no list are left out
  (the point of fault-filtered lists); lines naming no entry (a file the converter could not decode,
  a partial corpus) are left out with one warning per list, and a list none of whose lines names an
  entry is an error.

Group-aware splitting (``group_field``, e.g. ``piece``, ``track`` or ``work-id``): all the entries
of a group land in the same split. With ``index_mod5`` the rule is applied to the group's ordinal
(the kept entries' groups numbered in order of first appearance), so about a fifth of the groups go to
``valid``;
with ``field`` and ``list`` a group whose entries disagree is an error naming the group.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterable, Mapping, Sequence

from pyjama_tools.core.atomic import write_text_atomic
from pyjama_tools.audio_store import KEY_SEPARATOR
from pyjama_tools.core.errors import MirError, ParameterError
from pyjama_tools.core.registry import Registry
from pyjama_tools.pyjama import PyjamaDoc
from pyjama_tools.core.textfile import read_text

SPLIT_NAMES = ("train", "valid", "test")
_ALIASES = {"train": "train", "training": "train", "valid": "valid", "validation": "valid", "val": "valid",
            "test": "test", "testing": "test"}

#: rule name → function(doc, indices, field, list_files) -> {entry index: split name}
SPLIT_RULES: Registry[Callable[..., dict[int, str]]] = Registry("split rule", error=ParameterError)
_register = SPLIT_RULES.register


def _split_name(value: object, where: str) -> str:
    name = _ALIASES.get(str(value).strip().lower())
    if name is None:
        raise MirError(f"{where}: split {value!r} not one of {', '.join(SPLIT_NAMES)}")
    return name


@_register("index_mod5")
def _rule_index_mod5(doc: PyjamaDoc, indices: list[int], groups: list | None, **_) -> dict[int, str]:
    # numbered over the kept entries (`indices`, in document order), as the tutorial numbers the list
    # of entries it kept, not over the whole document
    if groups is None:
        return {i: "valid" if number % 5 == 0 else "train" for number, i in enumerate(indices)}
    ordinal: dict = {}
    for i in indices:  # the kept entries' groups, in order of first appearance
        ordinal.setdefault(groups[i], len(ordinal))
    return {i: "valid" if ordinal[groups[i]] % 5 == 0 else "train" for i in indices}


@_register("field")
def _rule_field(doc: PyjamaDoc, indices: list[int], field: str, **_) -> dict[int, str]:
    doc.definition(field)
    out = {}
    for i in indices:
        values = doc.values(i, field)
        if not values:  # in no split (e.g. left out by fault-filtered lists)
            continue
        where = f"entry {i} ({doc.keys()[i]!r}), field {field!r}"
        if len(values) != 1:
            raise MirError(f"{where}: needs one split value, found {len(values)}")
        out[i] = _split_name(values[0], where)
    return out


def _list_name(path: Path) -> str:
    stem = path.name.split(".")[0]
    for part in (stem, stem.split("_")[0], stem.split("-")[0]):
        if part.lower() in _ALIASES:
            return _ALIASES[part.lower()]
    raise MirError(f"{path}: cannot tell the split from the file name (expected train/valid/test in it); "
                   f"pass list_files as a dict {{split: path}}")


def _line_to_index(line: str, lookup: dict[str, int], suffix_lookup: dict[str, int]) -> int | None:
    candidates = [line, line.replace("/", KEY_SEPARATOR).replace("\\", KEY_SEPARATOR)]
    for candidate in candidates:
        if candidate in lookup:
            return lookup[candidate]
    for candidate in candidates:  # a key holding a longer prefix (corpus root folder) than the line
        if candidate in suffix_lookup:
            return suffix_lookup[candidate]
    return None


@_register("list")
def _rule_list(doc: PyjamaDoc, indices: list[int], list_files, **_) -> dict[int, str]:
    if not list_files:
        raise ParameterError("rule 'list' needs list_files (a dict {split: path} or a list of paths)")
    if isinstance(list_files, Mapping):
        files = [(_split_name(name, f"list_files key {name!r}"), Path(path)) for name, path in list_files.items()]
    elif isinstance(list_files, (str, os.PathLike)):
        files = [(_list_name(Path(list_files)), Path(list_files))]
    else:
        files = [(_list_name(Path(path)), Path(path)) for path in list_files]
    keys = doc.keys()
    lookup = {k: i for i, k in enumerate(keys) if k is not None}
    suffix_lookup: dict[str, int] = {}
    for k, i in lookup.items():
        parts = k.split(KEY_SEPARATOR)
        for start in range(1, len(parts)):
            suffix_lookup.setdefault(KEY_SEPARATOR.join(parts[start:]), i)
    wanted = set(indices)
    out: dict[int, str] = {}
    where_from: dict[int, str] = {}
    for name, path in files:
        text = read_text(path)
        missing: list[tuple[int, str]] = []
        matched = 0
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            index = _line_to_index(line, lookup, suffix_lookup)
            if index is None:
                missing.append((number, line))
                continue
            matched += 1
            if index in out and out[index] != name:
                raise MirError(f"{path}, line {number}: {line!r} is also in {where_from[index]} ({out[index]})")
            if index in wanted:
                out[index] = name
                where_from[index] = str(path)
        if missing:
            number, line = missing[0]
            if not matched:  # not one line matches: the wrong list, or lists of another dataset
                raise MirError(f"{path}, line {number}: {line!r} names no entry of the .pyjama document "
                               f"(nor does any of its {len(missing)} lines)")
            # a file the converter could not decode (GTZAN's jazz.00054.wav is in train_filtered.txt)
            # or a partial corpus: those lines are left out, said once per list
            warnings.warn(f"{path}: {len(missing)} line(s) name no entry of the .pyjama document and are left "
                          f"out (first: line {number}, {line!r})", stacklevel=3)
    return out


def split_keys(doc: PyjamaDoc, keys: Iterable[str] | None = None, rule: str = "index_mod5", field: str = "split",
               list_files: Mapping[str, str | os.PathLike] | Sequence[str | os.PathLike] | str | os.PathLike | None = None,
               group_field: str | None = None) -> dict[str, list[str]]:
    """Split the keys of ``doc`` into train / valid (/ test).

    Parameters
    ----------
    doc : PyjamaDoc
    keys : iterable of str, optional
        The entries kept (e.g. those with features and the annotation); default every entry. Rule
        ``index_mod5`` numbers these, in document order.
    rule : str
        ``index_mod5``, ``field`` or ``list`` (see the module docstring).
    field : str
        The field holding the split name (rule ``field``).
    list_files : dict {split: path}, list of paths, or one path
        The list files (rule ``list``).
    group_field : str, optional
        A global field (``piece``, ``track``, ``work-id``) whose groups must not straddle splits.

    Returns
    -------
    dict
        ``{'train': [...], 'valid': [...]}`` plus ``'test'`` when the rule gives one; keys keep the
        document's entry order.

    Raises
    ------
    MirError
        Unknown rule or key, bad split value, unreadable list file, a line naming no entry, or a
        group split across two sets.
    """
    apply_rule = SPLIT_RULES.lookup(rule)
    all_keys = doc.keys()
    indices = list(range(len(all_keys))) if keys is None else sorted(doc.index_of(k) for k in keys)
    groups = None
    if group_field is not None:
        doc.definition(group_field)
        groups = []
        for i in range(len(all_keys)):
            values = doc.values(i, group_field)
            if len(values) != 1:
                raise MirError(f"entry {i} ({all_keys[i]!r}), field {group_field!r}: needs exactly one group value, "
                               f"found {len(values)}")
            groups.append(str(values[0]))
    assignment = apply_rule(doc, indices, field=field, list_files=list_files, groups=groups)
    if groups is not None:
        seen: dict[str, tuple[str, int]] = {}
        for i in sorted(assignment):
            group = groups[i]
            if group in seen and seen[group][0] != assignment[i]:
                other_split, other = seen[group]
                raise MirError(f"{group_field} {group!r} straddles splits: entry {other} ({all_keys[other]!r}) is "
                               f"{other_split}, entry {i} ({all_keys[i]!r}) is {assignment[i]}")
            seen.setdefault(group, (assignment[i], i))
    result: dict[str, list[str]] = {"train": [], "valid": []}
    for i in indices:
        if i in assignment:
            result.setdefault(assignment[i], []).append(all_keys[i])
    return result


def select_keys(doc: PyjamaDoc, keys: Iterable[str] | None = None, where: Mapping[str, Any] | None = None,
                every: int = 1) -> list[str]:
    """The entries kept before a split: those whose fields have the ``where`` values, then every N-th.

    Parameters
    ----------
    doc : PyjamaDoc
    keys : iterable of str, optional
        The candidate entries (default every entry with a key); the result keeps the document's order.
    where : dict {field: value or list of values}, optional
        Keep an entry when, for every field, one of its values (as text) is one of these
        (``{"stem": "mixture"}``: Bach10's mixes; ``{"category": "MUS"}``: MAPS's pieces).
    every : int
        Keep the entries numbered 0, N, 2N, ... of those (1 keeps them all).

    Raises
    ------
    MirError
        An undefined field (naming the known ones), ``every`` < 1, or no entry left (naming the
        values the field has); the message starts with ``where FIELD`` or ``every``.
    """
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ParameterError(f"every {every!r}: expected an integer >= 1 (keep every N-th entry)")
    all_keys = doc.keys()
    if keys is None:
        indices = [i for i, k in enumerate(all_keys) if k is not None]
    else:
        indices = sorted(doc.index_of(k) for k in keys)
    for field, wanted in (where or {}).items():
        if field not in doc.definitions:
            raise MirError(f"where {field}: no such field; fields: {', '.join(doc.definitions)}")
        values = list(wanted) if isinstance(wanted, (list, tuple, set)) else [wanted]
        allowed = {str(v) for v in values}
        matching = [i for i in indices if allowed & {str(v) for v in doc.values(i, field)}]
        if not matching:
            found = sorted({str(v) for i in indices for v in doc.values(i, field)})
            shown = ", ".join(found[:10]) + (", ..." if len(found) > 10 else "")
            raise MirError(f"where {field}={'|'.join(map(str, values))}: none of the {len(indices)} entries has it "
                           f"(its values: {shown or 'none'})")
        indices = matching
    return [all_keys[i] for i in indices[::every]]


def write_split_lists(splits: Mapping[str, Sequence[str]], folder: str | os.PathLike,
                      base: str) -> dict[str, Path]:
    """Write ``<folder>/<base>_<split>.txt`` (one key per line) for each split, atomically.

    These are the lists rule ``list`` reads (``dataset.split_lists``). Returns {split: path}.
    """
    paths = {}
    for name, keys in splits.items():
        paths[name] = write_text_atomic("".join(f"{key}\n" for key in keys), Path(folder) / f"{base}_{name}.txt")
    return paths
