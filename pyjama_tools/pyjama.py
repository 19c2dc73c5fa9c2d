"""The .pyjama document model: load, save, build, validate, and typed access.

A .pyjama file is one JSON document for a whole dataset (see FORMATS.md)::

    {"schemaversion": 1.31,
     "collection": {"descriptiondefinition": {NAME: DEFINITION, ...},
                    "entry": [{NAME: [ATOM, ...], ...}, ...]}}

Atoms are kept as plain dicts (``value``, ``time``, ``duration``, ``confidence``,
``comment``) so that published files load unchanged and ``load(save(doc)) == doc``.
Unknown keys (of the document, the collection or a definition) are kept as they are.

Every entry carries every defined field, an empty atom list where it has no annotation (as the
reference library writes its files, so that ``len(entry['f0multi'])`` works on every entry); a
document loaded or saved without them gets them.

The constructs of the reference library (geoffroypeeters/pyjama 1.41) are read as it means them:

- ``"schemaversion"`` a number or a numeric string (``"1.41"``);
- no ``filepath`` (or an empty one): an entry that names no audio file (it cannot be paired with an
  audio or feature HDF5); an integer ``filepath`` value is the key ``str(value)``;
- a list-valued global text ``value`` (``["blues", "hiphop"]``) is several labels;
- one segment or marker atom holding N of them: ``time`` (and ``duration``) lists of N, ``value`` N
  values or a matrix (nb_dim, N) whose columns are the values;
- ``breakpoint_time`` / ``breakpoint_value``: times shared by several fields of an entry (value
  (1, nb_time)), and fields whose value (nb_dim, nb_time) is on those times;
- ``[{"value": ""}]`` (what its ``M_check`` writes for an entry without the field): no annotation;
- one-element lists written as their element (a breakpoint with one ``time`` as a number).
"""

from __future__ import annotations

import gc
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Generator, Iterable, Iterator, Sequence

import numpy as np

from pyjama_tools.core.atomic import atomic_path
from pyjama_tools.core.errors import MirError, ValidationError
from pyjama_tools.core.textfile import parse_json, read_text

EXTENTS = ("global", "marker", "segment", "breakpoint", "breakpoint_time", "breakpoint_value")
CONTENTS = ("text", "numeric")
CONSTRAINTS = ("free", "filepath", "value_in_dictionary")
DEFAULT_SCHEMA_VERSION = 1.31


def _schema_version_number(version: Any) -> float | None:
    """The number of a ``schemaversion``: a JSON number, or a numeric string as the reference library
    1.41 writes it (``"1.41"``); None for anything else."""
    if isinstance(version, bool):
        return None
    if isinstance(version, (int, float)):
        return float(version)
    if isinstance(version, str):
        try:
            return float(version.strip())
        except ValueError:
            return None
    return None


def _schema_version_supported(version: Any) -> bool:
    """1.31 (the published tutorial files) and 1.4x (the spec's current version), number or string."""
    number = _schema_version_number(version)
    return number is not None and (number == 1.31 or 1.4 <= number < 1.5)


@dataclass
class FieldDefinition:
    """The ``descriptiondefinition`` of one field.

    Attributes
    ----------
    type_extent : str
        global | marker | segment | breakpoint (also breakpoint_time, breakpoint_value).
    type_content : str
        text | numeric.
    type_constraint : str
        free | filepath | value_in_dictionary.
    dictionary : list or None
        Allowed values (text), or ``[min, max]`` (numeric).
    row_name : list of str or None
        Names of the rows of a multi-dimensional breakpoint value.
    extra : dict
        Any other key of the definition (``is_table``, ``is_editable``, ``is_filter``, ...), kept as is.
    """

    type_extent: str = "global"
    type_content: str = "text"
    type_constraint: str = "free"
    dictionary: list | None = None
    row_name: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KNOWN = ("type_extent", "type_content", "type_constraint", "dictionary", "row_name")

    #: known keys the source file wrote (None: built in code); to_dict writes them back as they were,
    #: so a file that leaves out ``type_constraint`` or writes ``"dictionary": null`` round-trips unchanged
    written: tuple[str, ...] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FieldDefinition:
        known = {k: data[k] for k in cls._KNOWN if k in data}
        extra = {k: v for k, v in data.items() if k not in cls._KNOWN}
        return cls(**known, extra=extra, written=tuple(known))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        defaults = {"type_extent": "global", "type_content": "text", "type_constraint": "free"}
        for key in self._KNOWN:
            value = getattr(self, key)
            if self.written is None:  # built in code: the three types always, lists when set
                keep = key in defaults or value is not None
            else:  # loaded: what the file wrote, plus what was changed since
                keep = key in self.written or value != defaults.get(key)
            if keep:
                out[key] = list(value) if isinstance(value, (list, tuple)) else value
        out.update(self.extra)
        return out


# ----------------------------------------------------------------------------- atoms


def _plain(value: Any) -> Any:
    """Numpy scalars/arrays → plain Python (JSON-serialisable, equal after a round trip)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def flat_values(value: Any) -> list[Any]:
    """The scalars of an atom's value: ``[value]``, or every element of a (nested) list, in order.

    ``{"value": ["blues", "hiphop"]}`` is two labels; ``[["A", "B", "C"]]`` (a (1, N) matrix) three.
    """
    if not isinstance(value, list):
        return [value]
    out: list[Any] = []
    for element in value:
        out.extend(flat_values(element))
    return out


def value_columns(value: Any, count: int) -> list[Any]:
    """The ``count`` values of an atom that holds ``count`` segments or markers.

    ``value`` is a list of ``count`` scalars, or a matrix (nb_dim, count) (the reference library's
    form, e.g. ``[["A", "B", "C"]]``): one row gives its elements, several rows give each column.

    Raises
    ------
    ValueError
        When ``value`` has no column per time.
    """
    if isinstance(value, list):
        if len(value) == count and not any(isinstance(v, list) for v in value):
            return list(value)
        if value and all(isinstance(row, list) and len(row) == count for row in value):
            return list(value[0]) if len(value) == 1 else [list(column) for column in zip(*value)]
    raise ValueError(f"value {_short(value)} has no column per time ({count})")


def _timed_parts(atom_: dict, with_duration: bool) -> tuple[list[float], list[float], list[Any]]:
    """Times (s), durations (s, empty for markers) and values of the segments or markers of one atom.

    An atom holds one (``time`` a number) or N of them (``time`` and ``duration`` lists of N, values
    by :func:`value_columns`). Raises KeyError, TypeError or ValueError on a malformed atom.
    """
    time = atom_["time"]
    duration = atom_["duration"] if with_duration else None
    if not isinstance(time, list):
        value = atom_["value"]
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list) and len(value[0]) == 1:
            value = value[0][0]  # the list form (1, N) of one segment: the reference library unwraps its time only
        return [float(time)], ([float(duration)] if with_duration else []), [value]
    count = len(time)
    if with_duration and (not isinstance(duration, list) or len(duration) != count):
        raise ValueError(f"{count} times but duration {_short(duration)}")
    durations = [float(d) for d in duration] if with_duration else []
    return [float(t) for t in time], durations, value_columns(atom_["value"], count)


def _shared_times(value: Any) -> list[float] | None:
    """The times of a ``breakpoint_time`` atom's value (a list of numbers or a (1, nb_time) matrix)."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]
    if isinstance(value, list) and all(_is_number(t) for t in value):
        return [float(t) for t in value]
    return None


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters (a message names a long list by its start)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def atom(value: Any, time: Any = None, duration: Any = None, confidence: Any = None,
         comment: str | None = None) -> dict[str, Any]:
    """One atom as a plain dict (numpy values converted; ``None`` fields left out)."""
    out: dict[str, Any] = {"value": _plain(value)}
    if time is not None:
        out["time"] = _plain(time)
    if duration is not None:
        out["duration"] = _plain(duration)
    if confidence is not None:
        out["confidence"] = _plain(confidence)
    if comment is not None:
        out["comment"] = comment
    return out


def global_atoms(values: Iterable[Any]) -> list[dict[str, Any]]:
    """Global atoms, one per value."""
    return [atom(v) for v in values]


def segment_atoms(time_sec: Sequence[float], duration_sec: Sequence[float],
                  values: Sequence[Any]) -> list[dict[str, Any]]:
    """Segment atoms from onsets (s), durations (s) and values, vectorised inputs accepted."""
    return [atom(v, time=float(t), duration=float(d)) for t, d, v in zip(time_sec, duration_sec, values)]


def marker_atoms(time_sec: Sequence[float], values: Sequence[Any]) -> list[dict[str, Any]]:
    """Marker atoms from times (s) and values."""
    return [atom(v, time=float(t)) for t, v in zip(time_sec, values)]


def breakpoint_atom(time_sec: Sequence[float], value: np.ndarray | Sequence) -> dict[str, Any]:
    """One breakpoint atom: ``time`` (nb_time,) in s and ``value`` (nb_dim, nb_time) (1-D is made (1, nb_time))."""
    matrix = np.asarray(value, dtype=float)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    return {"value": matrix.tolist(), "time": [float(t) for t in time_sec]}


# ----------------------------------------------------------------------------- document


@dataclass
class PyjamaDoc:
    """A whole .pyjama document.

    Attributes
    ----------
    definitions : dict
        Field name → :class:`FieldDefinition` (the ``descriptiondefinition``).
    entries : list of dict
        One dict per audio file: field name → list of atoms; ``filepath`` holds the audio HDF5 key.
    schemaversion : float or str
        1.31 (published tutorial files) or 1.4x, kept as the file wrote it (the reference library
        writes the string ``"1.41"``).
    extra : dict
        Unknown top-level keys; ``extra["collection"]`` holds unknown keys of the collection.
    """

    definitions: dict[str, FieldDefinition] = field(default_factory=dict)
    entries: list[dict[str, list[dict[str, Any]]]] = field(default_factory=list)
    schemaversion: float = DEFAULT_SCHEMA_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._index: dict[str, int] | None = None
        if "filepath" not in self.definitions:
            self.definitions = {"filepath": FieldDefinition(type_constraint="filepath"), **self.definitions}

    # ---- building
    def define(self, name: str, type_extent: str = "global", type_content: str = "text",
               type_constraint: str = "free", dictionary: list | None = None,
               row_name: list[str] | None = None, **extra: Any) -> FieldDefinition:
        """Add (or replace) the definition of field ``name``; returns it."""
        definition = FieldDefinition(type_extent, type_content, type_constraint,
                                     None if dictionary is None else list(dictionary),
                                     None if row_name is None else list(row_name), dict(extra))
        self.definitions[name] = definition
        return definition

    def add_entry(self, key: str, fields: dict[str, list[dict[str, Any]]] | None = None) -> dict:
        """Append an entry for audio key ``key`` with ``fields`` (name → atoms); returns it."""
        entry: dict[str, list[dict[str, Any]]] = {"filepath": [atom(key)]}
        for name, atoms in (fields or {}).items():
            entry[name] = [a if isinstance(a, dict) else atom(a) for a in atoms]
        self.entries.append(entry)
        self._index = None
        return entry

    # ---- access
    def keys(self) -> list[str]:
        """The audio key of every entry, in entry order (``None`` where an entry has no filepath)."""
        return [_entry_key(e) for e in self.entries]

    def index_of(self, key: str) -> int:
        """Entry index of audio key ``key``."""
        if self._index is None or len(self._index) != len(self.entries):
            self._index = {k: i for i, k in enumerate(self.keys()) if k is not None}
        try:
            return self._index[key]
        except KeyError:
            raise MirError(f"key {key!r} is not in the .pyjama document") from None

    def entry(self, key_or_index: str | int) -> dict[str, list[dict[str, Any]]]:
        """The entry of an audio key or an entry index."""
        index = key_or_index if isinstance(key_or_index, int) else self.index_of(key_or_index)
        return self.entries[index]

    def fields(self) -> list[str]:
        """Names of every defined field."""
        return list(self.definitions)

    def definition(self, name: str) -> FieldDefinition:
        """The definition of field ``name`` (error names the known fields)."""
        try:
            return self.definitions[name]
        except KeyError:
            raise MirError(f"field {name!r} is not defined; fields: {', '.join(self.definitions)}") from None

    def atoms(self, key_or_index: str | int, name: str) -> list[dict[str, Any]]:
        """The atoms of field ``name`` in one entry (empty list when the entry lacks it, or holds only the
        reference library's placeholder ``[{"value": ""}]``)."""
        self.definition(name)
        return _annotated(self.entry(key_or_index).get(name, []))

    def values(self, key_or_index: str | int, name: str) -> list[Any]:
        """The ``value`` of each atom of field ``name`` in one entry.

        For a global text field a list-valued atom gives each of its elements (``{"value": ["blues",
        "hiphop"]}`` is two labels, as the reference library writes several tags in one atom); a
        segment or marker atom holding N of them gives their N values.
        """
        atoms = self.atoms(key_or_index, name)
        spread = _spread_kind(self.definitions[name])
        if spread is not None:
            return _spread_values(atoms, spread)
        return [a.get("value") for a in atoms]

    def labels(self, name: str) -> list[list[Any]]:
        """Per entry, the list of values of field ``name`` (e.g. the tags of each clip; see :meth:`values`)."""
        spread = _spread_kind(self.definition(name))
        if spread is not None:
            return [_spread_values(_annotated(e.get(name, [])), spread) for e in self.entries]
        return [[a.get("value") for a in _annotated(e.get(name, []))] for e in self.entries]

    def shared_time_field(self) -> str | None:
        """The ``breakpoint_time`` field giving the times of the ``breakpoint_value`` fields: the last one
        defined (the reference library's choice), None when there is none."""
        names = [n for n, d in self.definitions.items() if d.type_extent == "breakpoint_time"]
        return names[-1] if names else None

    def vocabulary(self, name: str) -> list[Any]:
        """Vocabulary of field ``name``: its text dictionary if defined, else the sorted distinct values."""
        definition = self.definition(name)
        if definition.dictionary is not None and not isinstance(definition.dictionary, list):
            raise MirError(f"descriptiondefinition '{name}': dictionary {definition.dictionary!r} is not a list")
        # published files write "dictionary": [] for free fields: an empty list is no vocabulary
        if definition.dictionary and definition.type_content == "text":
            return list(definition.dictionary)
        labels = self.labels(name)
        for index, values in enumerate(labels):
            if any(isinstance(v, dict) for v in values):
                raise MirError(f"{_label(index, _entry_key(self.entries[index]))}, field '{name}': a value is an "
                               f"object, which cannot be a vocabulary entry")
        seen = {_hashable(v) for values in labels for v in values}
        return sorted(seen, key=lambda v: (str(type(v)), v))

    def segments(self, key_or_index: str | int, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Segments of field ``name`` in one entry as arrays.

        Returns
        -------
        time_sec : np.ndarray (N,) float64, onsets in seconds
        duration_sec : np.ndarray (N,) float64, durations in seconds
        value : np.ndarray (N,), float64 for numeric fields, object otherwise
        """
        return self._timed(key_or_index, name, with_duration=True)

    def _timed(self, key_or_index: str | int, name: str,
               with_duration: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Times, durations and values of the segments / markers of a field, an atom holding N of them
        giving N (see :func:`value_columns`)."""
        atoms = self.atoms(key_or_index, name)
        numeric = self.definitions[name].type_content == "numeric"
        times: list[float] = []
        durations: list[float] = []
        values: list[Any] = []
        try:
            for atom_ in atoms:
                atom_times, atom_durations, atom_values = _timed_parts(atom_, with_duration)
                times.extend(atom_times)
                durations.extend(atom_durations)
                values.extend(atom_values)
            if numeric:
                value = np.array(values, dtype=float)
                if value.ndim != 1:
                    raise ValueError("a segment value is not a number")
            else:  # one object per segment, even when a value is itself a list ([440.0, "wasabi"])
                value = np.empty(len(values), dtype=object)
                for i, v in enumerate(values):
                    value[i] = v
        except (KeyError, TypeError, ValueError) as error:
            raise self._atom_error(key_or_index, name, error) from None
        return np.array(times, dtype=float), np.array(durations, dtype=float), value

    def markers(self, key_or_index: str | int, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Markers of field ``name`` in one entry: times (N,) in s and values (N,)."""
        time, _duration, value = self._timed(key_or_index, name, with_duration=False)
        return time, value

    def breakpoints(self, key_or_index: str | int, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Breakpoints of field ``name`` in one entry, all atoms concatenated along time.

        A ``breakpoint_value`` field takes its times from the entry's :meth:`shared_time_field`.

        Returns
        -------
        time_sec : np.ndarray (nb_time,) float64
        value : np.ndarray (nb_dim, nb_time) float64 (e.g. f0 in MIDI, one row per ``row_name``)
        """
        atoms = self.atoms(key_or_index, name)
        definition = self.definitions[name]
        if definition.type_extent not in ("breakpoint", "breakpoint_value"):
            raise MirError(f"field {name!r} has extent {definition.type_extent!r}, not breakpoint or breakpoint_value")
        rows = len(definition.row_name) if definition.row_name else None
        if not atoms:
            return np.zeros(0), np.zeros((rows or 1, 0))
        try:
            if definition.type_extent == "breakpoint_value":
                atoms = [{**a, "time": self._shared_times_of(key_or_index)} for a in atoms]
            times = [np.asarray(a["time"], dtype=float).reshape(-1) for a in atoms]
            values = [np.atleast_2d(np.asarray(a["value"], dtype=float)) for a in atoms]
            shapes = {v.shape[0] for v in values}
            if len(shapes) > 1 or any(v.ndim != 2 or v.shape[1] != t.size for t, v in zip(times, values)) \
                    or (rows is not None and shapes != {rows}):
                raise ValueError("breakpoint atoms of mismatched shapes")
        except (KeyError, TypeError, ValueError) as error:
            raise self._atom_error(key_or_index, name, error) from None
        return np.concatenate(times), np.concatenate(values, axis=1)

    def _shared_times_of(self, key_or_index: str | int) -> list[float]:
        """The shared times (``breakpoint_time``) of one entry; ValueError when it has none."""
        shared = self.shared_time_field()
        atoms = self.entry(key_or_index).get(shared, []) if shared is not None else []
        times = _shared_times(atoms[0].get("value")) if atoms and isinstance(atoms[0], dict) else None
        if times is None:
            raise ValueError("no breakpoint_time atom in the entry gives the times")
        return times

    def _atom_error(self, key_or_index: str | int, name: str, error: Exception) -> MirError:
        """A one-line :class:`MirError` naming the entry, field and first malformed atom (validation's words)."""
        index = key_or_index if isinstance(key_or_index, int) else self.index_of(key_or_index)
        definition = self.definitions[name]
        where = f"{_label(index, _entry_key(self.entries[index]))}, field '{name}'"
        atoms = self.entries[index].get(name, [])
        shared = _shared_of(self.entries[index], self.shared_time_field())
        for atom_index, atom_ in enumerate(atoms):
            found = list(_check_atom("", atom_, definition, None, None, shared))
            if found:
                return MirError(f"{where}, atom {atom_index}{found[0]}")
        if definition.type_extent == "breakpoint":
            counts = sorted({len(a.get("value") or []) for a in atoms if isinstance(a, dict)})
            return MirError(f"{where}: breakpoint atoms have different numbers of rows {counts}")
        return MirError(f"{where}: malformed atoms ({type(error).__name__}: {error})")

    # ---- serialisation
    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the document."""
        extra = dict(self.extra)
        collection_extra = extra.pop("collection", {})
        collection = {
            **collection_extra,
            "descriptiondefinition": {k: d.to_dict() for k, d in self.definitions.items()},
            "entry": _completed(self.entries, list(self.definitions)),
        }
        return {"schemaversion": self.schemaversion, **extra, "collection": collection}

    @classmethod
    def from_dict(cls, data: Any, source: str = "document") -> PyjamaDoc:
        """Build a document from its JSON object; structural problems raise :class:`ValidationError`."""
        if not isinstance(data, dict):
            raise ValidationError(["top level is not a JSON object"], source)
        problems = []
        version = data.get("schemaversion")
        if version is None:
            problems.append("missing 'schemaversion'")
        elif not _schema_version_supported(version):
            problems.append(f"schemaversion {version!r} not supported (1.31 or 1.4x, a number or a string)")
        collection = data.get("collection")
        if not isinstance(collection, dict):
            problems.append("missing 'collection' object")
            raise ValidationError(problems, source)
        definitions = collection.get("descriptiondefinition")
        entries = collection.get("entry")
        if not isinstance(definitions, dict):
            problems.append("collection has no 'descriptiondefinition' object")
        if not isinstance(entries, list):
            problems.append("collection has no 'entry' list")
        if problems:
            raise ValidationError(problems, source)
        parsed = {}
        for name, definition in definitions.items():
            if not isinstance(definition, dict):
                raise ValidationError([f"descriptiondefinition '{name}' is not an object"], source)
            parsed[name] = FieldDefinition.from_dict(definition)
        extra = {k: v for k, v in data.items() if k not in ("schemaversion", "collection")}
        collection_extra = {k: v for k, v in collection.items() if k not in ("descriptiondefinition", "entry")}
        if collection_extra:
            extra["collection"] = collection_extra
        doc = cls(definitions=parsed, entries=_completed(entries, list(parsed)), schemaversion=version, extra=extra)
        doc.definitions = parsed  # keep the file's definitions exactly (no implicit filepath)
        return doc

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PyjamaDoc) and self.to_dict() == other.to_dict()


def _is_placeholder(atoms: Any) -> bool:
    """``[{"value": ""}]``: what the reference library's ``M_check`` writes for an entry without the field."""
    return isinstance(atoms, list) and len(atoms) == 1 and atoms[0] == {"value": ""}


def _annotated(atoms: list) -> list:
    """``atoms``, or ``[]`` for the reference library's placeholder (:func:`_is_placeholder`)."""
    return [] if _is_placeholder(atoms) else atoms


def _completed(entries: list, names: list[str]) -> list:
    """``entries`` where each dict entry carries every field of ``names`` (``[]`` where absent, after
    the fields it has); an entry that has them all is the same object, the others are new dicts."""
    wanted = set(names)
    out = []
    for entry in entries:
        if isinstance(entry, dict) and not wanted <= entry.keys():
            entry = {**entry, **{name: [] for name in names if name not in entry}}
        out.append(entry)
    return out


def _spread_kind(definition: FieldDefinition) -> str | None:
    """How one atom of the field may hold several values: ``labels`` (global text: a list is several
    labels), ``timed`` (segment / marker: lists of times), None (an atom is one value)."""
    if definition.type_extent == "global" and definition.type_content == "text":
        return "labels"
    if definition.type_extent in ("segment", "marker"):
        return "timed"
    return None


def _spread_values(atoms: list, kind: str) -> list[Any]:
    """The values of ``atoms``, each atom holding several spread out (see :func:`_spread_kind`)."""
    out: list[Any] = []
    for atom_ in atoms:
        value = atom_.get("value")
        if kind == "labels" and isinstance(value, list):
            out.extend(flat_values(value))
        elif kind == "timed" and isinstance(value, list) and "time" in atom_:
            try:
                out.extend(_timed_parts(atom_, False)[2])
            except (KeyError, TypeError, ValueError):  # malformed: validation names it; here it stays one value
                out.append(value)
        else:
            out.append(value)
    return out


def _key_of_value(value: Any) -> str | None:
    """The audio key a ``filepath`` value names: the text, or the digits of an integer (None for '')."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _entry_key(entry: dict) -> str | None:
    atoms = entry.get("filepath") if isinstance(entry, dict) else None
    if isinstance(atoms, list) and atoms and isinstance(atoms[0], dict):
        return _key_of_value(atoms[0].get("value"))
    return None


def _filepath_problem(entry: dict) -> str | None:
    """What is wrong with an entry's ``filepath`` that names no key (None: it has none, which is allowed)."""
    atoms = entry.get("filepath")
    if not isinstance(atoms, list) or not atoms or not isinstance(atoms[0], dict) or "value" not in atoms[0]:
        return None  # absent, empty, or malformed atoms (reported by the field's own checks)
    value = atoms[0]["value"]
    if value == "":
        return None  # the reference library writes {"value": ""} for an entry without the field
    return f"value {_short(value)} is not a file key (text)"


def _shared_of(entry: dict, shared_field: str | None) -> tuple[str | None, int | None]:
    """(name, number of times) of an entry's shared ``breakpoint_time`` (None where it has none)."""
    if shared_field is None:
        return None, None
    atoms = entry.get(shared_field)
    if isinstance(atoms, list) and atoms and isinstance(atoms[0], dict):
        times = _shared_times(atoms[0].get("value"))
        return shared_field, None if times is None else len(times)
    return shared_field, None


def _hashable(value: Any) -> Any:
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


# ----------------------------------------------------------------------------- I/O


def load(path: str | os.PathLike) -> PyjamaDoc:
    """Load a .pyjama file.

    Raises
    ------
    MirError
        Missing file, malformed JSON (with line and column), or a structure that is not a pyjama document.
    """
    path = Path(path)
    text = read_text(path)
    # json builds one dict per atom (~300,000 for MTT): the cyclic GC would rescan them again and
    # again while they are created; pausing it halves the load time (measured on a 25,000-entry file)
    collecting = gc.isenabled()
    gc.disable()
    try:
        data = parse_json(text, f"{path}: ", what="a pyjama document")
    finally:
        if collecting:
            gc.enable()
    return PyjamaDoc.from_dict(data, source=str(path))


def save(doc: PyjamaDoc, path: str | os.PathLike) -> Path:
    """Write ``doc`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        json.dump(doc.to_dict(), handle, separators=(",", ":"), allow_nan=False)
    return path


# ----------------------------------------------------------------------------- validation


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_atom(where: str, atom_: Any, definition: FieldDefinition, allowed: set | None,
                numeric_range: tuple[float, float] | None,
                shared: tuple[str | None, int | None] = (None, None)) -> Iterator[str]:
    """Yield the problems of one atom.

    ``shared`` is the entry's (``breakpoint_time`` field, number of times), which a
    ``breakpoint_value`` atom must match.
    """
    if not isinstance(atom_, dict):
        yield f"{where}: atom is not an object"
        return
    if "value" not in atom_:
        yield f"{where}: atom has no 'value'"
    extent = definition.type_extent
    value = atom_.get("value")
    if extent == "breakpoint":
        yield from _check_breakpoint(where, atom_, definition)
        return
    if extent == "breakpoint_time":
        if "value" in atom_ and _shared_times(value) is None:
            yield f"{where}: breakpoint_time value {_short(value)} is not a list of times nor a matrix (1, nb_time)"
        return
    if extent == "breakpoint_value":
        yield from _check_shared_value(where, atom_, definition, shared)
        return
    count = None  # the number of segments / markers of an atom holding several
    if extent in ("marker", "segment"):
        count = yield from _check_times(where, atom_, extent)
    if "value" not in atom_:
        return
    if count is not None:
        try:
            value_columns(value, count)
        except ValueError:
            yield f"{where}: value {_short(value)} is neither {count} values nor a matrix (nb_dim, {count}), " \
                  f"one column per time"
    if not isinstance(value, list):  # one value, the common case: checked without building lists
        if definition.type_content == "numeric" and not _is_number(value):
            yield f"{where}: value {value!r} is not a number"
        if allowed is not None and _hashable(value) not in allowed:
            yield f"{where}: value {value!r} is not in the dictionary"
        if numeric_range is not None and _is_number(value) and not numeric_range[0] <= value <= numeric_range[1]:
            yield f"{where}: value {value!r} outside the dictionary range {list(numeric_range)}"
        return
    scalars = flat_values(value)
    if definition.type_content == "numeric":
        bad = [v for v in scalars if not _is_number(v)]
        if bad and not isinstance(value, list):
            yield f"{where}: value {value!r} is not a number"
        elif bad:
            yield f"{where}: value {_short(value)} holds {bad[0]!r}, which is not a number"
    if allowed is not None and _hashable(value) not in allowed:
        if not isinstance(value, list):
            yield f"{where}: value {value!r} is not in the dictionary"
        else:  # several labels in one atom: each must be in the dictionary
            missing = [v for v in scalars if _hashable(v) not in allowed]
            if missing:
                yield f"{where}: value {_short(value)}: {missing[0]!r} is not in the dictionary"
    if numeric_range is not None:
        outside = [v for v in scalars if _is_number(v) and not numeric_range[0] <= v <= numeric_range[1]]
        if outside:
            shown = repr(value) if not isinstance(value, list) else f"{_short(value)} holds {outside[0]!r},"
            yield f"{where}: value {shown} outside the dictionary range {list(numeric_range)}"


def _check_times(where: str, atom_: dict, extent: str) -> Generator[str, None, int | None]:
    """Yield the problems of a marker's / segment's ``time`` (and ``duration``); return the number of
    times of an atom holding several (lists), None for one."""
    count = None
    if "time" not in atom_:
        yield f"{where}: {extent} atom has no 'time'"
    elif isinstance(atom_["time"], list):
        count = len(atom_["time"])
        bad = [t for t in atom_["time"] if not _is_number(t)]
        if bad:
            yield f"{where}: time {bad[0]!r} in the list of times is not a number"
    elif not _is_number(atom_["time"]):
        yield f"{where}: time {atom_['time']!r} is not a number"
    if extent != "segment":
        return count
    if "duration" not in atom_:
        yield f"{where}: segment atom has no 'duration'"
        return count
    duration = atom_["duration"]
    if count is None:
        if not _is_number(duration) or duration < 0:
            yield f"{where}: duration {duration!r} is not a number >= 0"
    elif not isinstance(duration, list) or len(duration) != count:
        yield f"{where}: duration {_short(duration)} is not a list of {count} durations (one per time)"
    else:
        bad = [d for d in duration if not _is_number(d) or d < 0]
        if bad:
            yield f"{where}: duration {bad[0]!r} in the list of durations is not a number >= 0"
    return count


def _matrix_problems(where: str, kind: str, rows_label: str, value: np.ndarray,
                     definition: FieldDefinition) -> Iterator[str]:
    """A breakpoint ``value`` must be a matrix (nb_dim, nb_time) with one row per ``row_name``
    (``kind`` / ``rows_label`` name the atom in the two messages)."""
    if value.ndim != 2:
        yield f"{where}: {kind} 'value' is not a matrix (nb_dim, nb_time), got shape {value.shape}"
        return
    rows = len(definition.row_name) if definition.row_name else None
    if rows is not None and value.shape[0] != rows:
        yield f"{where}: {rows_label} has {value.shape[0]} rows, row_name has {rows}"


def _check_shared_value(where: str, atom_: dict, definition: FieldDefinition,
                        shared: tuple[str | None, int | None]) -> Iterator[str]:
    """A ``breakpoint_value`` atom: a matrix (nb_dim, nb_time) on the entry's shared times."""
    if "value" not in atom_:
        return
    try:
        value = np.asarray(atom_["value"], dtype=float)
    except (TypeError, ValueError):
        yield f"{where}: breakpoint_value 'value' is not a numeric matrix"
        return
    yield from _matrix_problems(where, "breakpoint_value", "breakpoint_value", value, definition)
    if value.ndim != 2:
        return
    name, times = shared
    if times is None:
        which = f"'{name}'" if name is not None else "(no breakpoint_time field is defined)"
        yield f"{where}: no breakpoint_time atom {which} in this entry gives its times"
    elif value.shape[1] != times:
        yield f"{where}: breakpoint_value has {value.shape[1]} columns, the entry's '{name}' has {times} times"
    if not np.all(np.isfinite(value)):
        yield f"{where}: breakpoint_value holds NaN or inf"


def _check_breakpoint(where: str, atom_: dict, definition: FieldDefinition) -> Iterator[str]:
    if "time" not in atom_:
        yield f"{where}: breakpoint atom has no 'time'"
        return
    try:  # one time is written as a number (the reference library unwraps one-element lists)
        time = np.atleast_1d(np.asarray(atom_["time"], dtype=float))
        value = np.asarray(atom_.get("value"), dtype=float)
    except (TypeError, ValueError):
        yield f"{where}: breakpoint time/value are not numeric arrays"
        return
    if time.ndim != 1:
        yield f"{where}: breakpoint 'time' is not a list of numbers"
        return
    yield from _matrix_problems(where, "breakpoint", "breakpoint value", value, definition)
    if value.ndim != 2:
        return
    if value.shape[1] != time.shape[0]:
        yield f"{where}: breakpoint value has {value.shape[1]} columns, 'time' has {time.shape[0]}"
    if not np.all(np.isfinite(time)) or not np.all(np.isfinite(value)):
        yield f"{where}: breakpoint time/value hold NaN or inf"


def _check_definition(name: str, definition: FieldDefinition) -> Iterator[str]:
    where = f"descriptiondefinition '{name}'"
    if definition.type_extent not in EXTENTS:
        yield f"{where}: type_extent {definition.type_extent!r} not one of {', '.join(EXTENTS)}"
    if definition.type_content not in CONTENTS:
        yield f"{where}: type_content {definition.type_content!r} not one of {', '.join(CONTENTS)}"
    if definition.type_constraint not in CONSTRAINTS:
        yield f"{where}: type_constraint {definition.type_constraint!r} not one of {', '.join(CONSTRAINTS)}"
    if definition.type_constraint == "value_in_dictionary" and not isinstance(definition.dictionary, list):
        yield f"{where}: value_in_dictionary without a 'dictionary' list"


def _label(index: int, key: str | None) -> str:
    """How a problem names its entry: ``entry 3 ('a+++b.wav')``."""
    return f"entry {index} ({key!r})" if key is not None else f"entry {index}"


def validate(doc: PyjamaDoc, audio_keys: Iterable[str] | None = None) -> list[str]:
    """Every problem of ``doc`` under the spec's rules (empty list when valid).

    Parameters
    ----------
    doc : PyjamaDoc
    audio_keys : iterable of str, optional
        Keys of the paired audio (or feature) HDF5; when given, every entry must name one of them
        (without it an entry needs no ``filepath``, as in the reference library's examples).

    Returns
    -------
    list of str
        Each problem names the entry index, its key, the field and the atom index.
    """
    problems: list[str] = []
    for name, definition in doc.definitions.items():
        problems.extend(_check_definition(name, definition))
    shared_field = doc.shared_time_field()
    needs_shared = any(d.type_extent == "breakpoint_value" for d in doc.definitions.values())
    if needs_shared and shared_field is None:
        problems.append("descriptiondefinition: breakpoint_value fields but no breakpoint_time field for their times")
    plans = {}
    for name, definition in doc.definitions.items():
        allowed = None
        numeric_range = None
        if definition.type_constraint == "value_in_dictionary" and isinstance(definition.dictionary, list):
            if definition.type_content == "numeric" and len(definition.dictionary) == 2 \
                    and all(_is_number(v) for v in definition.dictionary):
                numeric_range = (definition.dictionary[0], definition.dictionary[1])
            else:
                allowed = {_hashable(v) for v in definition.dictionary}
        plans[name] = (definition, allowed, numeric_range)
    audio = set(audio_keys) if audio_keys is not None else None
    seen: dict[str, int] = {}
    for index, entry in enumerate(doc.entries):
        if not isinstance(entry, dict):
            problems.append(f"entry {index}: not an object")
            continue
        key = _entry_key(entry)
        if key is None:
            problem = _filepath_problem(entry)
            if problem is not None:
                problems.append(f"{_label(index, key)}, field 'filepath', atom 0: {problem}")
            elif audio is not None:
                problems.append(f"{_label(index, key)}: no filepath, so no audio to pair it with")
        elif key in seen:
            problems.append(f"{_label(index, key)}: filepath duplicates entry {seen[key]}")
        else:
            seen[key] = index
            if audio is not None and key not in audio:
                problems.append(f"{_label(index, key)}, field 'filepath': key not found in the audio file")
        for name, atoms in entry.items():
            plan = plans.get(name)
            if plan is None:
                problems.append(f"{_label(index, key)}, field '{name}': not in descriptiondefinition")
                continue
            if not isinstance(atoms, list):
                problems.append(f"{_label(index, key)}, field '{name}': is not a list of atoms")
                continue
            definition, allowed, numeric_range = plan
            if definition.type_extent == "global" and definition.type_content == "text":
                # fast path for the most common case (text tags, metadata), same rules as _check_atom:
                # a 'value', in the dictionary when there is one; locations formatted only for problems
                for atom_index, atom_ in enumerate(atoms):
                    if isinstance(atom_, dict) and "value" in atom_ \
                            and (allowed is None or _hashable(atom_["value"]) in allowed):
                        continue
                    where = f"{_label(index, key)}, field '{name}', atom {atom_index}"
                    if not isinstance(atom_, dict):
                        problems.append(f"{where}: atom is not an object")
                    elif not _is_placeholder(atoms):  # a list of labels may all be in the dictionary
                        problems.extend(where + problem
                                        for problem in _check_atom("", atom_, definition, allowed, numeric_range))
                continue
            shared = _shared_of(entry, shared_field) if needs_shared else (None, None)
            for atom_index, atom_ in enumerate(atoms):
                found = list(_check_atom("", atom_, definition, allowed, numeric_range, shared))
                if found and _is_placeholder(atoms):  # the reference library's "no annotation"
                    break
                if found:  # the location is formatted only when there is a problem
                    where = f"{_label(index, key)}, field '{name}', atom {atom_index}"
                    problems.extend(where + problem for problem in found)
    return problems


def check(doc: PyjamaDoc, audio_keys: Iterable[str] | None = None, source: str = "document") -> None:
    """Raise :class:`ValidationError` (holding every problem) when ``doc`` is not valid."""
    problems = validate(doc, audio_keys)
    if problems:
        raise ValidationError(problems, source)
