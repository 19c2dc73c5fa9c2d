"""JAMS: a folder of ``.jams`` / ``.jamz`` (gzipped) files, each beside its audio (same file stem) or not.

``song.jams`` (or ``song.jamz``) goes with ``song.wav`` / ``song.mp3`` / ... in the same folder; the key is
the audio file's path relative to SRC. Where the audio lies elsewhere or is named otherwise (GuitarSet:
``annotation/<id>.jams`` and ``audio_mono-mic/<id>_mic.wav``), ``--audio-dir DIR`` gives the audio folder
(``SRC/sub/x.jams`` goes with ``DIR/sub/x<suffix>``; keys are then relative to DIR) and ``--audio-suffix
SUFFIX`` what follows the JAMS file's stem in the audio file's name (``_mic.wav``; default: any audio
extension). Plain ``json`` + ``gzip`` read the files (no dependency on the
``jams`` package); both data layouts of JAMS are read: a list of observations
``[{time, duration, value, confidence}, ...]`` and a dict of arrays ``{time: [...], duration: [...], ...}``.

Fields
------
Each annotation becomes a field named after its namespace. When a file holds several annotations of one
namespace whose ``annotation_metadata.data_source`` values are all given and distinct (GuitarSet's six
strings, ``"0"`` to ``"5"``), each is named ``<namespace>_<data_source>``; otherwise the second becomes
``<namespace>_1``, the third ``<namespace>_2``, ... (annotations are never merged: two annotators' chords
would otherwise overlap in one field). The namespace decides the extent
(:data:`EXTENT_BY_NAME`, :data:`EXTENT_BY_PREFIX`, else segment):

- marker (``beat``, ``onset``, ``beat_position``): ``time`` + ``value`` (+ ``confidence``); a
  ``beat_position`` value ``{position, measure, num_beats, beat_units}`` gives its ``position`` (a number:
  the beat's place in its bar, 1 = downbeat);
- breakpoint (``pitch_contour``, ``pitch_hz``, ``pitch_midi``): one atom per annotation, ``time`` (N,) (the
  sorted distinct observation times) and ``value`` (V, N), one row per voice; for pitch_contour the value
  ``{index, frequency, voiced}`` gives the contour and its frequency, 0 when unvoiced or when no contour
  of the row has an observation at that time (the other namespaces have one row); contours that follow
  one another share a row, one that starts while another is still sounding takes a row of its own
  (GuitarSet numbers each note's contour on a string 0, 1, 2, ...: the string's f0 stays one row); a
  negative pitch_hz (the JAMS mark of an unvoiced frame) gives 0. An observation with a positive
  duration is a note (JAMS's transcription convention, e.g. ``pitch_hz`` notes): it is sampled every
  :data:`NOTE_STEP_SEC` over ``[time, time + duration)`` and ends with a 0 at ``time + duration``;
  overlapping notes go to rows of their own (the first row free at their onset);
- global (``tag_*``, ``mood*``): ``value`` (+ ``confidence``); a list of numbers is stored as a (1, n) matrix;
- segment (everything else: ``chord*``, ``segment_*``, ``note_*``, ``key_mode``, ``pattern_*``, ``tempo``,
  ``lyrics``, ...): ``time``, ``duration``, ``value`` (+ ``confidence``).

Values that are objects (e.g. pattern_jku's ``{pattern_id, midi_pitch, ...}``) or lists outside global
fields are stored as compact JSON text (sorted keys) so that nothing is lost. ``file_metadata`` gives
``title``, ``artist``, ``album`` (JAMS ``release``) and ``duration`` (s) when not empty.
A NaN/None confidence is left out. Negative or non-finite times/durations make the file a Problem.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import click
import numpy as np

from pyjama_tools.audio_store import AudioSource
from pyjama_tools.converters.base import (Converter, ConverterOption, Item, Problem, audio_files,
                                          register_converter)
from pyjama_tools.core.errors import MirError
from pyjama_tools.core.textfile import parse_json
from pyjama_tools.pyjama import FieldDefinition, atom, breakpoint_atom

JAMS_SUFFIXES = (".jams", ".jamz")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".m4a", ".mp4")

#: namespace → pyjama extent (exact names)
EXTENT_BY_NAME = {
    "beat": "marker", "onset": "marker", "beat_position": "marker",
    "pitch_contour": "breakpoint", "pitch_hz": "breakpoint", "pitch_midi": "breakpoint",
}
#: namespace prefix → extent (checked after the exact names, first match wins)
EXTENT_BY_PREFIX = (("tag_", "global"), ("mood", "global"))
DEFAULT_EXTENT = "segment"
#: sampling step (s) of a pitch observation that has a duration (a note) in a breakpoint field (10 ms,
#: the step of mir_eval's multi-f0 evaluation)
NOTE_STEP_SEC = 0.01
#: file_metadata key → field name
METADATA_FIELDS = {"title": "title", "artist": "artist", "release": "album", "duration": "duration"}


class JamsFormatError(ValueError):
    """The JAMS content breaks the format (message names the annotation and observation)."""


def extent_of(namespace: str) -> str:
    """The pyjama extent of a JAMS namespace (see the module docstring)."""
    if namespace in EXTENT_BY_NAME:
        return EXTENT_BY_NAME[namespace]
    for prefix, extent in EXTENT_BY_PREFIX:
        if namespace.startswith(prefix):
            return extent
    return DEFAULT_EXTENT


def read_jams(path: Path) -> dict[str, Any]:
    """The JSON object of a ``.jams`` or gzipped ``.jamz`` file; raises JamsFormatError when unreadable."""
    try:
        if path.suffix.lower() == ".jamz":
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                text = handle.read()
        else:
            text = path.read_text(encoding="utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as error:  # gzip.BadGzipFile is an OSError
        raise JamsFormatError(f"cannot read ({error})") from None
    try:
        data = parse_json(text)
    except MirError as error:
        raise JamsFormatError(str(error)) from None
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise JamsFormatError("not a JAMS object (no 'annotations' list)")
    return data


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def observations(data: Any, where: str) -> list[dict[str, Any]]:
    """The observations of an annotation's ``data`` (either layout) as dicts time/duration/value/confidence."""
    if isinstance(data, list):
        if not all(isinstance(o, dict) for o in data):
            raise JamsFormatError(f"{where}: an observation is not an object")
        return data
    if isinstance(data, dict):
        columns = {k: data[k] for k in ("time", "duration", "value", "confidence") if k in data}
        if "time" not in columns or "value" not in columns:
            raise JamsFormatError(f"{where}: data has no 'time' or 'value' array")
        if not all(isinstance(v, list) for v in columns.values()):
            raise JamsFormatError(f"{where}: data arrays are not lists")
        lengths = {k: len(v) for k, v in columns.items()}
        if len(set(lengths.values())) > 1:
            raise JamsFormatError(f"{where}: data arrays differ in length {lengths}")
        return [{k: v[i] for k, v in columns.items()} for i in range(lengths["time"])]
    raise JamsFormatError(f"{where}: 'data' is neither a list of observations nor a dict of arrays")


def _check_time(observation: dict[str, Any], name: str, where: str) -> float:
    value = observation.get(name)
    if not _is_real(value) or not math.isfinite(value) or value < 0:
        raise JamsFormatError(f"{where}: {name} {value!r} is not a number >= 0")
    return float(value)


def _confidence(observation: dict[str, Any]) -> float | None:
    value = observation.get("confidence")
    return float(value) if _is_real(value) and math.isfinite(value) else None


def _plain_value(value: Any, extent: str, where: str) -> Any:
    """A JAMS value as a pyjama atom value (objects → JSON text; global number lists → (1, n) matrix)."""
    if _is_real(value):
        if not math.isfinite(value):
            raise JamsFormatError(f"{where}: value {value!r} is not finite")
        return value
    if isinstance(value, list) and extent == "global" and value and all(_is_real(v) and math.isfinite(v)
                                                                         for v in value):
        return [list(value)]
    if isinstance(value, (dict, list)):
        try:
            return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
        except ValueError:
            raise JamsFormatError(f"{where}: value holds NaN or inf") from None
    return value  # text or None


def _pitch(value: Any, namespace: str, where: str) -> float:
    """Frequency (Hz, or MIDI for pitch_midi) of a pitch observation; 0 when unvoiced."""
    if namespace == "pitch_contour":
        if not isinstance(value, dict) or not _is_real(value.get("frequency")):
            raise JamsFormatError(f"{where}: pitch_contour value {value!r} has no numeric 'frequency'")
        frequency = float(value["frequency"])
        voiced = value.get("voiced", frequency > 0)
        result = frequency if voiced else 0.0
    elif _is_real(value):
        result = float(value)
    else:
        raise JamsFormatError(f"{where}: {namespace} value {value!r} is not a number")
    if not math.isfinite(result):
        raise JamsFormatError(f"{where}: {namespace} value {value!r} is not finite")
    return max(result, 0.0)


def _voice(value: Any, namespace: str, where: str) -> int:
    """Contour of a pitch observation: pitch_contour's ``index`` (0 when absent), 0 for the one-voice namespaces."""
    if namespace != "pitch_contour" or not isinstance(value, dict) or value.get("index") is None:
        return 0
    index = value["index"]
    if not isinstance(index, int) or isinstance(index, bool):
        raise JamsFormatError(f"{where}: pitch_contour index {index!r} is not an integer")
    return index


def voice_matrix_atom(times: list[float], pitches: list[float], voices: list[tuple[int, int]]) -> dict[str, Any]:
    """One breakpoint atom with a row per voice (ascending) on the sorted union of the times.

    Simultaneous contours (multi-f0 annotations write one ``pitch_contour`` observation per voice and
    time) keep a row each instead of alternating in one row; a voice without an observation at a time
    is 0 there (silent). Where a voice has two values at one time, the later one in the lists wins.
    """
    grid, column = np.unique(np.asarray(times, dtype=float), return_inverse=True)
    order = {voice: index for index, voice in enumerate(sorted(set(voices)))}
    matrix = np.zeros((len(order), len(grid)))
    matrix[[order[v] for v in voices], column.reshape(-1)] = pitches
    return breakpoint_atom(grid, matrix)


class _NoteRows:
    """Rows for notes of one voice: a note takes the first row whose last note has ended at its onset."""

    def __init__(self) -> None:
        self.ends: dict[int, list[float]] = {}

    def take(self, voice: int, onset: float, offset: float) -> tuple[int, int]:
        ends = self.ends.setdefault(voice, [])
        for slot, end in enumerate(ends):
            if end <= onset + 1e-9:
                ends[slot] = offset
                return voice, slot
        ends.append(offset)
        return voice, len(ends) - 1


def _contour_rows(points: list[tuple[float, int]]) -> dict[int, int]:
    """Row of each contour (pitch_contour ``index``) given its points (time, index).

    Contours that follow one another share a row (GuitarSet numbers each note's contour on a string:
    indices 0, 1, 2, ... one after the other, all one string's f0); a contour that starts before the
    row's last contour has ended takes the next free row (simultaneous voices of a multi-f0 annotation).
    """
    spans: dict[int, list[float]] = {}
    for time, index in points:
        span = spans.setdefault(index, [time, time])
        span[0], span[1] = min(span[0], time), max(span[1], time)
    ends: list[float] = []
    rows: dict[int, int] = {}
    for index, (start, end) in sorted(spans.items(), key=lambda item: (item[1][0], item[0])):
        row = next((r for r, last in enumerate(ends) if last < start), len(ends))
        if row < len(ends):
            ends[row] = end
        else:
            ends.append(end)
        rows[index] = row
    return rows


def _breakpoint_atom(rows: list[dict[str, Any]], namespace: str, where: str) -> dict[str, Any]:
    """The one breakpoint atom of a pitch annotation (points as they are, notes sampled, see the module doc)."""
    observed = []
    for index, observation in enumerate(rows):
        spot = f"{where}, observation {index}"
        duration = 0.0 if observation.get("duration") is None else _check_time(observation, "duration", spot)
        observed.append((_check_time(observation, "time", spot), duration,
                         _pitch(observation.get("value"), namespace, spot),
                         _voice(observation.get("value"), namespace, spot)))
    ends: tuple[list, list, list] = ([], [], [])  # written first: a note starting where another ends wins
    times, pitches, voices = [], [], []
    note_rows = _NoteRows()
    contour_rows = _contour_rows([(time, voice) for time, duration, _, voice in observed if duration <= 0])
    for time, duration, pitch, voice in sorted(observed, key=lambda o: o[0]):
        if duration <= 0:
            times.append(time), pitches.append(pitch), voices.append((contour_rows[voice], 0))
            continue
        row = note_rows.take(voice, time, time + duration)
        samples = time + NOTE_STEP_SEC * np.arange(max(1, math.ceil(duration / NOTE_STEP_SEC - 1e-9)))
        samples = np.round(samples, 9)  # 0.1 + 0.2 and 0.3 must meet on one grid time (ns are plenty)
        times.extend(samples.tolist()), pitches.extend([pitch] * len(samples)), voices.extend([row] * len(samples))
        ends[0].append(round(time + duration, 9)), ends[1].append(0.0), ends[2].append(row)
    return voice_matrix_atom(ends[0] + times, ends[1] + pitches, ends[2] + voices)


def _beat_position(value: Any, where: str) -> float:
    """The ``position`` (number) of a beat_position value."""
    position = value.get("position") if isinstance(value, dict) else None
    if not _is_real(position) or not math.isfinite(position):
        raise JamsFormatError(f"{where}: beat_position value {value!r} has no numeric 'position'")
    return position


def data_source(annotation: Any) -> str:
    """The ``annotation_metadata.data_source`` of an annotation, stripped ('' when absent)."""
    metadata = annotation.get("annotation_metadata") if isinstance(annotation, dict) else None
    source = metadata.get("data_source") if isinstance(metadata, dict) else None
    return str(source).strip() if source is not None else ""


def annotation_atoms(annotation: Any, where: str) -> tuple[str, list[dict[str, Any]]]:
    """(namespace, atoms) of one JAMS annotation."""
    if not isinstance(annotation, dict) or not isinstance(annotation.get("namespace"), str):
        raise JamsFormatError(f"{where}: not an annotation object with a 'namespace'")
    namespace = annotation["namespace"]
    where = f"{where} ({namespace})"
    extent = extent_of(namespace)
    rows = observations(annotation.get("data"), where)
    if extent == "breakpoint":
        return namespace, ([_breakpoint_atom(rows, namespace, where)] if rows else [])
    atoms = []
    for index, observation in enumerate(rows):
        spot = f"{where}, observation {index}"
        time = _check_time(observation, "time", spot) if extent != "global" else None
        duration = _check_time(observation, "duration", spot) if extent == "segment" else None
        value = observation.get("value")
        if namespace == "beat_position":
            value = _beat_position(value, spot)
        value = _plain_value(value, extent, spot)
        confidence = _confidence(observation)
        if extent == "global":
            atoms.append(atom(value, confidence=confidence))
        elif extent == "marker":
            atoms.append(atom(value, time=time, confidence=confidence))
        else:
            atoms.append(atom(value, time=time, duration=duration, confidence=confidence))
    return namespace, atoms


def jams_annotations(data: dict[str, Any]) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """Fields of a JAMS document.

    Returns
    -------
    fields : field name → atoms (namespaces, then the file_metadata fields)
    namespaces : field name → its namespace (``chord_1`` → ``chord``)
    """
    fields: dict[str, list[dict[str, Any]]] = {}
    namespaces: dict[str, str] = {}
    counts: dict[str, int] = {}
    read = [annotation_atoms(annotation, f"annotation {index}") for index, annotation in enumerate(data["annotations"])]
    sources: dict[str, list[str]] = {}
    for (namespace, _), annotation in zip(read, data["annotations"]):
        sources.setdefault(namespace, []).append(data_source(annotation))
    by_source = {ns for ns, found in sources.items()
                 if len(found) > 1 and all(found) and len(set(found)) == len(found)}
    for (namespace, atoms), annotation in zip(read, data["annotations"]):
        number = counts.get(namespace, 0)
        counts[namespace] = number + 1
        if namespace in by_source:
            name = f"{namespace}_{data_source(annotation)}"
        else:
            name = namespace if number == 0 else f"{namespace}_{number}"
        fields[name] = atoms
        namespaces[name] = namespace
    metadata = data.get("file_metadata")
    if isinstance(metadata, dict):
        for key, name in METADATA_FIELDS.items():
            value = metadata.get(key)
            if key == "duration":
                if _is_real(value) and math.isfinite(value) and value >= 0:
                    fields[name] = [atom(float(value))]
            elif isinstance(value, str) and value.strip():
                fields[name] = [atom(value.strip())]
    return fields, namespaces


@dataclass
class _Pair:
    jams: list[Path] = field(default_factory=list)
    audio: list[Path] = field(default_factory=list)


@register_converter
class JamsConverter(Converter):
    """SRC holds ``.jams``/``.jamz`` files beside their audio (any depth); keys are the audio paths."""

    name = "jams"
    default_base = "jams"
    summary = "JAMS (.jams/.jamz beside same-name audio, or --audio-dir) → one field per namespace + title/artist/album/duration"
    options = (
        ConverterOption("audio-dir", "folder of the audio when it is not beside the JAMS files (SRC/sub/x.jams ↔ "
                                     "DIR/sub/x<suffix>; keys relative to DIR)", type=click.Path(path_type=Path)),
        ConverterOption("audio-suffix", "what follows the JAMS stem in the audio file name, e.g. _mic.wav "
                                        "[default: any audio extension]"),
    )

    def __init__(self, source, **options: Any):
        super().__init__(source, **options)
        #: field name → namespace, over every item read
        self._namespaces: dict[str, str] = {}

    def _pairs(self) -> dict[Path, _Pair]:
        """(folder / stem) → the JAMS and audio files with that stem, sorted by path."""
        pairs: dict[Path, _Pair] = {}
        for path in sorted(p for p in self.source.rglob("*") if p.is_file() and p.suffix.lower() in JAMS_SUFFIXES):
            pairs.setdefault(path.with_suffix(""), _Pair()).jams.append(path)
        for path in audio_files(self.source, AUDIO_SUFFIXES):
            pairs.setdefault(path.with_suffix(""), _Pair()).audio.append(path)
        return dict(sorted(pairs.items()))

    @property
    def audio_root(self) -> Path:
        """Where the audio lies: ``--audio-dir`` (checked), else SRC."""
        option = self.option("audio_dir")
        if option is None:
            return self.source
        folder = Path(option).absolute()
        if not folder.is_dir():
            raise MirError(f"--audio-dir {option}: no such folder")
        return folder

    def _pairs_elsewhere(self) -> dict[Path, _Pair]:
        """Pairs when the audio is in ``--audio-dir`` or named ``<stem><suffix>``: keyed by the JAMS path."""
        root, suffix = self.audio_root, self.option("audio_suffix")
        if suffix is not None and (not suffix.strip() or "/" in suffix):
            raise MirError(f"--audio-suffix {suffix!r}: expected the end of an audio file name, e.g. _mic.wav")
        pairs: dict[Path, _Pair] = {}
        claimed: set[Path] = set()
        for path in sorted(p for p in self.source.rglob("*") if p.is_file() and p.suffix.lower() in JAMS_SUFFIXES):
            # DIR/sub/x<suffix> for SRC/sub/x.jams, else DIR/x<suffix> (a flat audio folder)
            audio: list[Path] = []
            for folder in dict.fromkeys((root / path.parent.relative_to(self.source), root)):
                endings = [suffix] if suffix is not None else list(AUDIO_SUFFIXES)
                audio = [folder / f"{path.stem}{e}" for e in endings if (folder / f"{path.stem}{e}").is_file()]
                if audio:
                    break
            pairs[path] = _Pair([path], audio)
            claimed.update(audio)
        for audio in audio_files(root, AUDIO_SUFFIXES):
            if audio not in claimed and (suffix is None or audio.name.endswith(suffix)):
                pairs[audio] = _Pair([], [audio])
        return dict(sorted(pairs.items()))

    def items(self) -> Iterator[Item | Problem]:
        elsewhere = self.option("audio_dir") is not None or self.option("audio_suffix") is not None
        root = self.audio_root
        pairs = self._pairs_elsewhere() if elsewhere else self._pairs()
        for stem, pair in pairs.items():
            stem = stem.with_suffix("") if elsewhere else stem
            if not pair.jams and elsewhere:
                yield Problem(str(pair.audio[0]), f"no JAMS file for it in {self.source} (skipped)")
                continue
            if not pair.jams:
                yield Problem(str(pair.audio[0]), f"no {stem.name}.jams or .jamz beside it (skipped)")
                continue
            if len(pair.jams) > 1:
                yield Problem(str(pair.jams[0]), f"several annotation files for one stem: "
                                                 f"{', '.join(p.name for p in pair.jams)} (skipped)")
                continue
            jams_path = pair.jams[0]
            if not pair.audio:
                expected = f"{stem.name}{self.option('audio_suffix') or '.{wav,flac,mp3,...}'}"
                place = "beside it" if root == self.source else f"in {root}"
                yield Problem(str(jams_path), f"no audio file {expected} {place} (skipped)")
                continue
            if len(pair.audio) > 1:
                yield Problem(str(jams_path), f"several audio files match: "
                                              f"{', '.join(p.name for p in pair.audio)} (skipped)")
                continue
            audio = pair.audio[0]
            try:
                self.safe_path(audio, root)
                fields, namespaces = jams_annotations(read_jams(jams_path))
            except JamsFormatError as error:
                yield Problem(str(jams_path), str(error))
                continue
            except MirError as error:  # safe_path: a link leading outside SRC
                yield Problem(str(audio), str(error).split(": ", 1)[-1])
                continue
            for name, namespace in namespaces.items():
                self._namespaces.setdefault(name, namespace)
            yield Item(self.relative_key(audio, root), AudioSource(audio), fields)

    def definitions(self, items: list[Item]) -> dict[str, FieldDefinition]:
        names: list[str] = []
        for item in items:
            names.extend(n for n in item.annotations if n not in names)
        definitions = {}
        for name in names:
            values = [a.get("value") for i in items for a in i.annotations.get(name, [])]
            if name in METADATA_FIELDS.values():
                extent = "global"
            else:
                extent = extent_of(self._namespaces.get(name, name))
            numeric = bool(values) and all(_is_real(v) or (isinstance(v, list) and extent in ("global", "breakpoint"))
                                           for v in values)
            if extent == "global" and not numeric and values and all(isinstance(v, str) for v in values) \
                    and name not in METADATA_FIELDS.values():
                definitions[name] = FieldDefinition("global", "text", "value_in_dictionary", sorted(set(values)))
            else:
                definitions[name] = FieldDefinition(extent, "numeric" if numeric else "text", "free")
        return definitions
