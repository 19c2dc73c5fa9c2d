"""The .pyjama document model: load, save, build, validate, and typed access.

A .pyjama file is one JSON document for a whole dataset (see FORMATS.md)::

    {"schemaversion": 1.31,
     "collection": {"descriptiondefinition": {NAME: DEFINITION, ...},
                    "entry": [{NAME: [ATOM, ...], ...}, ...]}}

Atoms are kept as plain dicts (``value``, ``time``, ``duration``, ``confidence``,
``comment``) so that published files load unchanged and ``load(save(doc)) == doc``.
Unknown keys (of the document, the collection or a definition) are kept as they are.
"""

from __future__ import annotations

import gc
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from pyjama_tools.atomic import atomic_path
from pyjama_tools.errors import MirError, ValidationError
from pyjama_tools.textfile import read_text

EXTENTS = ("global", "marker", "segment", "breakpoint", "breakpoint_time", "breakpoint_value")
CONTENTS = ("text", "numeric")
CONSTRAINTS = ("free", "filepath", "value_in_dictionary")
DEFAULT_SCHEMA_VERSION = 1.31


def _schema_version_supported(version: Any) -> bool:
    """1.31 (the published tutorial files) and 1.4x (the spec's current version)."""
    return isinstance(version, (int, float)) and (version == 1.31 or 1.4 <= version < 1.5)


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
    def from_dict(cls, data: dict[str, Any]) -> "FieldDefinition":
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
    schemaversion : float
        1.31 (published tutorial files) or 1.4x.
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
        """The atoms of field ``name`` in one entry (empty list when the entry lacks it)."""
        self.definition(name)
        return self.entry(key_or_index).get(name, [])

    def values(self, key_or_index: str | int, name: str) -> list[Any]:
        """The ``value`` of each atom of field ``name`` in one entry."""
        return [a.get("value") for a in self.atoms(key_or_index, name)]

    def labels(self, name: str) -> list[list[Any]]:
        """Per entry, the list of values of field ``name`` (e.g. the tags of each clip)."""
        self.definition(name)
        return [[a.get("value") for a in e.get(name, [])] for e in self.entries]

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
        atoms = self.atoms(key_or_index, name)
        numeric = self.definitions[name].type_content == "numeric"
        try:
            time = np.array([float(a["time"]) for a in atoms], dtype=float)
            duration = np.array([float(a["duration"]) for a in atoms], dtype=float)
            value = np.array([a["value"] for a in atoms], dtype=float if numeric else object)
        except (KeyError, TypeError, ValueError) as error:
            raise self._atom_error(key_or_index, name, error) from None
        return time, duration, value

    def markers(self, key_or_index: str | int, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Markers of field ``name`` in one entry: times (N,) in s and values (N,)."""
        atoms = self.atoms(key_or_index, name)
        numeric = self.definitions[name].type_content == "numeric"
        try:
            time = np.array([float(a["time"]) for a in atoms], dtype=float)
            return time, np.array([a["value"] for a in atoms], dtype=float if numeric else object)
        except (KeyError, TypeError, ValueError) as error:
            raise self._atom_error(key_or_index, name, error) from None

    def breakpoints(self, key_or_index: str | int, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Breakpoints of field ``name`` in one entry, all atoms concatenated along time.

        Returns
        -------
        time_sec : np.ndarray (nb_time,) float64
        value : np.ndarray (nb_dim, nb_time) float64 (e.g. f0 in MIDI, one row per ``row_name``)
        """
        atoms = self.atoms(key_or_index, name)
        definition = self.definitions[name]
        rows = len(definition.row_name) if definition.row_name else None
        if not atoms:
            return np.zeros(0), np.zeros((rows or 1, 0))
        try:
            times = [np.asarray(a["time"], dtype=float).reshape(-1) for a in atoms]
            values = [np.atleast_2d(np.asarray(a["value"], dtype=float)) for a in atoms]
            shapes = {v.shape[0] for v in values}
            if len(shapes) > 1 or any(v.ndim != 2 or v.shape[1] != t.size for t, v in zip(times, values)) \
                    or (rows is not None and shapes != {rows}):
                raise ValueError("breakpoint atoms of mismatched shapes")
        except (KeyError, TypeError, ValueError) as error:
            raise self._atom_error(key_or_index, name, error) from None
        return np.concatenate(times), np.concatenate(values, axis=1)

    def _atom_error(self, key_or_index: str | int, name: str, error: Exception) -> MirError:
        """A one-line :class:`MirError` naming the entry, field and first malformed atom (validation's words)."""
        index = key_or_index if isinstance(key_or_index, int) else self.index_of(key_or_index)
        definition = self.definitions[name]
        where = f"{_label(index, _entry_key(self.entries[index]))}, field '{name}'"
        atoms = self.entries[index].get(name, [])
        for atom_index, atom_ in enumerate(atoms):
            found = list(_check_atom("", atom_, definition, None, None))
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
            "entry": self.entries,
        }
        return {"schemaversion": self.schemaversion, **extra, "collection": collection}

    @classmethod
    def from_dict(cls, data: Any, source: str = "document") -> "PyjamaDoc":
        """Build a document from its JSON object; structural problems raise :class:`ValidationError`."""
        if not isinstance(data, dict):
            raise ValidationError(["top level is not a JSON object"], source)
        problems = []
        version = data.get("schemaversion")
        if version is None:
            problems.append("missing 'schemaversion'")
        elif not _schema_version_supported(version):
            problems.append(f"schemaversion {version!r} not supported (1.31 or 1.4x)")
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
        doc = cls(definitions=parsed, entries=entries, schemaversion=version, extra=extra)
        doc.definitions = parsed  # keep the file's definitions exactly (no implicit filepath)
        return doc

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PyjamaDoc) and self.to_dict() == other.to_dict()


def _entry_key(entry: dict) -> str | None:
    atoms = entry.get("filepath") if isinstance(entry, dict) else None
    if isinstance(atoms, list) and atoms and isinstance(atoms[0], dict):
        value = atoms[0].get("value")
        return value if isinstance(value, str) else None
    return None


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
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise MirError(f"{path}: malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}") from None
    except RecursionError:  # arrays/objects nested thousands deep: no pyjama document is
        raise MirError(f"{path}: JSON nested too deeply to be a pyjama document") from None
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
                numeric_range: tuple[float, float] | None) -> Iterator[str]:
    """Yield the problems of one atom."""
    if not isinstance(atom_, dict):
        yield f"{where}: atom is not an object"
        return
    if "value" not in atom_:
        yield f"{where}: atom has no 'value'"
    extent = definition.type_extent
    value = atom_.get("value")
    if extent == "marker" and "time" not in atom_:
        yield f"{where}: marker atom has no 'time'"
    elif extent == "segment":
        if "time" not in atom_:
            yield f"{where}: segment atom has no 'time'"
        if "duration" not in atom_:
            yield f"{where}: segment atom has no 'duration'"
        elif not _is_number(atom_["duration"]) or atom_["duration"] < 0:
            yield f"{where}: duration {atom_['duration']!r} is not a number >= 0"
    elif extent == "breakpoint":
        yield from _check_breakpoint(where, atom_, definition)
        return
    if extent in ("marker", "segment") and "time" in atom_ and not _is_number(atom_["time"]):
        yield f"{where}: time {atom_['time']!r} is not a number"
    if definition.type_content == "numeric" and "value" in atom_ and not _is_number(value):
        if not (isinstance(value, list)):  # global multi-dimensional values are matrices
            yield f"{where}: value {value!r} is not a number"
    if allowed is not None and "value" in atom_ and _hashable(value) not in allowed:
        yield f"{where}: value {value!r} is not in the dictionary"
    if numeric_range is not None and _is_number(value) and not numeric_range[0] <= value <= numeric_range[1]:
        yield f"{where}: value {value!r} outside the dictionary range {list(numeric_range)}"


def _check_breakpoint(where: str, atom_: dict, definition: FieldDefinition) -> Iterator[str]:
    if "time" not in atom_:
        yield f"{where}: breakpoint atom has no 'time'"
        return
    try:
        time = np.asarray(atom_["time"], dtype=float)
        value = np.asarray(atom_.get("value"), dtype=float)
    except (TypeError, ValueError):
        yield f"{where}: breakpoint time/value are not numeric arrays"
        return
    if time.ndim != 1:
        yield f"{where}: breakpoint 'time' is not a list of numbers"
        return
    if value.ndim != 2:
        yield f"{where}: breakpoint 'value' is not a matrix (nb_dim, nb_time), got shape {value.shape}"
        return
    rows = len(definition.row_name) if definition.row_name else None
    if rows is not None and value.shape[0] != rows:
        yield f"{where}: breakpoint value has {value.shape[0]} rows, row_name has {rows}"
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
        Keys of the paired audio (or feature) HDF5; when given, every filepath must be one of them.

    Returns
    -------
    list of str
        Each problem names the entry index, its key, the field and the atom index.
    """
    problems: list[str] = []
    for name, definition in doc.definitions.items():
        problems.extend(_check_definition(name, definition))
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
            problems.append(f"{_label(index, key)}: no 'filepath' atom with a text value")
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
                    elif "value" not in atom_:
                        problems.append(f"{where}: atom has no 'value'")
                    else:
                        problems.append(f"{where}: value {atom_['value']!r} is not in the dictionary")
                continue
            for atom_index, atom_ in enumerate(atoms):
                found = list(_check_atom("", atom_, definition, allowed, numeric_range))
                if found:  # the location is formatted only when there is a problem
                    where = f"{_label(index, key)}, field '{name}', atom {atom_index}"
                    problems.extend(where + problem for problem in found)
    return problems


def check(doc: PyjamaDoc, audio_keys: Iterable[str] | None = None, source: str = "document") -> None:
    """Raise :class:`ValidationError` (holding every problem) when ``doc`` is not valid."""
    problems = validate(doc, audio_keys)
    if problems:
        raise ValidationError(problems, source)
