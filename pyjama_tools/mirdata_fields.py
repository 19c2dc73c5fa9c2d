"""mirdata's annotation objects → pyjama fields: one writer per annotation class (a registry).

A writer turns one object of a class of ``mirdata.annotations`` into a :class:`FieldKind` (the
pyjama extent, content type and unit of the field) and its atoms:

=============================================  ==========  ============================================
class                                          extent      value
=============================================  ==========  ============================================
ChordData, KeyData, SectionData, EventData,    segment     the label (text)
LyricData
NoteData                                       segment     the pitch in MIDI (``unit`` ``midi``)
TempoData                                      segment     the tempo in BPM (``unit`` ``bpm``)
BeatData                                       marker      the beat position as a number (``unit`` the
                                                           position unit; ``global_index`` 1..N when
                                                           mirdata has no positions)
F0Data                                         breakpoint  one atom, every frame of mirdata's time grid,
                                                           (1, T) MIDI, unvoiced frames 0
MultiF0Data                                    breakpoint  one atom, (V, T) MIDI, V = the most pitches
                                                           in a frame, 0 where a frame has fewer
=============================================  ==========  ============================================

Times are seconds (mirdata's ``ms`` converted); pitches are MIDI numbers, converted from mirdata's
Hz with mirdata's own ``convert_pitch_units``, so that mirfeat's ``pitch_unit_of`` reads them right
for any range (a bass line in Hz would look like MIDI numbers). Confidences go to the atoms'
``confidence``. Containers expand: a ``MultiAnnotator`` gives ``<name>_<annotator>``, a dict
``<name>_<key>`` (GuitarSet's ``notes_E``), a list of annotations ``<name>_<i>``.
Metadata become global fields: text, numbers, booleans (text ``true``/``false``), lists of them
(one atom each). Anything else (arrays, tuples, PrettyMIDI or JAMS objects, ...) is not a field.
An object of ``mirdata.annotations`` whose class has no writer raises :class:`MirError` naming it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from pyjama_tools.errors import MirError
from pyjama_tools.pyjama import FieldDefinition, atom, breakpoint_atom

ANNOTATIONS_MODULE = "mirdata.annotations"


@dataclass(frozen=True)
class FieldKind:
    """What a field is: pyjama ``type_extent``, ``type_content`` and the unit of its values (or None)."""

    extent: str
    content: str
    unit: str | None = None

    def definition(self) -> FieldDefinition:
        """The field's definition (``unit`` kept as an extra key of the definition)."""
        return FieldDefinition(self.extent, self.content, "free", extra={"unit": self.unit} if self.unit else {})


Atoms = list[dict[str, Any]]
Writer = Callable[[Any, str], tuple[FieldKind, Atoms]]

#: annotation class name (in mirdata.annotations) → writer
WRITERS: dict[str, Writer] = {}


def register_writer(class_name: str) -> Callable[[Writer], Writer]:
    """Decorator: register ``writer`` for the mirdata annotation class ``class_name``."""

    def decorate(writer: Writer) -> Writer:
        WRITERS[class_name] = writer
        return writer

    return decorate


# ----------------------------------------------------------------------------- units


def seconds(times: Any, unit: str | None, where: str) -> np.ndarray:
    """``times`` in ``unit`` (mirdata's TIME_UNITS) as float seconds."""
    from mirdata.annotations import convert_time_units

    times = np.asarray(times, dtype=float)
    try:
        return np.asarray(convert_time_units(times, unit or "s", "s"), dtype=float)
    except NotImplementedError:
        raise MirError(f"{where}: time unit {unit!r} cannot be converted to seconds") from None


def midi(pitches: Any, unit: str | None, where: str) -> np.ndarray:
    """Pitches in ``unit`` (hz, midi, note_name) as MIDI numbers; 0 stays 0 (silence)."""
    from mirdata.annotations import convert_pitch_units

    pitches = np.asarray(pitches)
    if unit == "midi":
        return pitches.astype(float)
    try:
        return np.asarray(convert_pitch_units(pitches, unit, "midi"), dtype=float)
    except NotImplementedError:
        raise MirError(f"{where}: pitch unit {unit!r} cannot be converted to MIDI") from None


def _confidence(confidence: Any, index: int) -> float | None:
    if confidence is None:
        return None
    value = float(np.asarray(confidence)[index])
    return value if math.isfinite(value) else None


def _segments(annotation: Any, values: Any, where: str, confidence: Any = None) -> Atoms:
    """Segment atoms from ``annotation.intervals`` (n, 2) in its ``interval_unit`` and ``values``."""
    intervals = seconds(np.asarray(annotation.intervals, dtype=float).reshape(-1, 2),
                        getattr(annotation, "interval_unit", "s"), where)  # ChordData keeps no unit: s
    return [atom(value, time=float(start), duration=float(end - start), confidence=_confidence(confidence, i))
            for i, ((start, end), value) in enumerate(zip(intervals, values))]


# ----------------------------------------------------------------------------- writers


@register_writer("ChordData")
def chord_data(annotation: Any, where: str) -> tuple[FieldKind, Atoms]:
    return FieldKind("segment", "text"), _segments(annotation, annotation.labels, where, annotation.confidence)


@register_writer("KeyData")
def key_data(annotation: Any, where: str) -> tuple[FieldKind, Atoms]:
    return FieldKind("segment", "text"), _segments(annotation, annotation.keys, where)


@register_writer("SectionData")
def section_data(annotation: Any, where: str) -> tuple[FieldKind, Atoms]:
    labels = annotation.labels if annotation.labels is not None else [""] * len(annotation.intervals)
    return FieldKind("segment", "text"), _segments(annotation, labels, where)


@register_writer("EventData")
def event_data(annotation: Any, where: str) -> tuple[FieldKind, Atoms]:
    return FieldKind("segment", "text"), _segments(annotation, annotation.events, where)


@register_writer("LyricData")
def lyric_data(annotation: Any, where: str) -> tuple[FieldKind, Atoms]:
    return FieldKind("segment", "text"), _segments(annotation, annotation.lyrics, where)


@register_writer("TempoData")
def tempo_data(annotation: Any, where: str) -> tuple[FieldKind, Atoms]:
    tempos = np.asarray(annotation.tempos, dtype=float)
    return (FieldKind("segment", "numeric", annotation.tempo_unit or "bpm"),
            _segments(annotation, tempos, where, annotation.confidence))


@register_writer("NoteData")
def note_data(annotation: Any, where: str) -> tuple[FieldKind, Atoms]:
    if annotation.pitch_unit == "pc":  # pitch classes have no MIDI number: kept as text
        return FieldKind("segment", "text", "pc"), _segments(annotation, [str(p) for p in annotation.pitches], where,
                                                              annotation.confidence)
    pitches = midi(annotation.pitches, annotation.pitch_unit, where)
    return FieldKind("segment", "numeric", "midi"), _segments(annotation, pitches, where, annotation.confidence)


@register_writer("BeatData")
def beat_data(annotation: Any, where: str) -> tuple[FieldKind, Atoms]:
    times = seconds(annotation.times, annotation.time_unit, where)
    if annotation.positions is None:  # no positions: the beat's index in the track, 1-based
        positions, unit = np.arange(1, len(times) + 1, dtype=float), "global_index"
    else:
        positions, unit = np.asarray(annotation.positions, dtype=float), annotation.position_unit
    atoms = [atom(float(p), time=float(t), confidence=_confidence(annotation.confidence, i))
             for i, (t, p) in enumerate(zip(times, positions))]
    return FieldKind("marker", "numeric", unit), atoms


@register_writer("F0Data")
def f0_data(annotation: Any, where: str) -> tuple[FieldKind, Atoms]:
    times = seconds(annotation.times, annotation.time_unit, where)
    frequencies = np.asarray(annotation.frequencies)
    voiced = np.asarray(annotation.voicing, dtype=float) > 0
    if annotation.frequency_unit in ("hz", "midi"):
        voiced &= np.asarray(frequencies, dtype=float) > 0
    pitch = np.zeros(len(times))
    pitch[voiced] = midi(frequencies[voiced], annotation.frequency_unit, where)
    return FieldKind("breakpoint", "numeric", "midi"), ([breakpoint_atom(times, pitch[None, :])] if len(times) else [])


@register_writer("MultiF0Data")
def multif0_data(annotation: Any, where: str) -> tuple[FieldKind, Atoms]:
    times = seconds(annotation.times, annotation.time_unit, where)
    frames = [np.asarray(f, dtype=float) for f in annotation.frequency_list]
    matrix = np.zeros((max([1] + [f.size for f in frames]), len(times)))
    for column, frame in enumerate(frames):
        frame = frame[frame > 0] if annotation.frequency_unit in ("hz", "midi") else frame
        if frame.size:
            matrix[: frame.size, column] = midi(frame, annotation.frequency_unit, where)
    return FieldKind("breakpoint", "numeric", "midi"), ([breakpoint_atom(times, matrix)] if len(times) else [])


# ----------------------------------------------------------------------------- any attribute value


def is_annotation(value: Any) -> bool:
    """True for an object of a class of ``mirdata.annotations`` (any Annotation, MultiAnnotator)."""
    return type(value).__module__ == ANNOTATIONS_MODULE


def writer_of(annotation: Any, where: str) -> Writer:
    """The writer of ``annotation``'s class (or of the closest registered base class of mirdata's)."""
    for cls in type(annotation).__mro__:
        if cls.__module__ == ANNOTATIONS_MODULE and cls.__name__ in WRITERS:
            return WRITERS[cls.__name__]
    raise MirError(f"{where}: mirdata annotation class {type(annotation).__name__} has no pyjama mapping "
                   f"(known: {', '.join(sorted(WRITERS))}); add a writer in pyjama_tools/mirdata_fields.py")


def _metadata(value: Any) -> tuple[FieldKind, Atoms] | None:
    """A metadata value (text, number, boolean, or a list of them) as global atoms; None if not one."""
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    plain = []
    for item in values:
        if isinstance(item, np.generic):
            item = item.item()
        if isinstance(item, bool):
            item = "true" if item else "false"
        elif isinstance(item, (int, float)):
            if not math.isfinite(item):
                continue  # NaN: no value
        elif not isinstance(item, str):
            return None
        plain.append(item)
    if not plain:
        return None
    numeric = all(isinstance(v, (int, float)) for v in plain)
    return FieldKind("global", "numeric" if numeric else "text"), [atom(v) for v in plain]


def fields_of(name: str, value: Any, where: str) -> dict[str, tuple[FieldKind, Atoms]]:
    """The pyjama fields of one attribute value of a mirdata Track (see the module docstring).

    Parameters
    ----------
    name : str
        The attribute's name, which names the field (``chords``, ``f0``, ``notes_E``).
    value : Any
        The attribute's value; None gives no field.
    where : str
        Where the value comes from (corpus, track, attribute), for error messages.

    Returns
    -------
    dict
        field name → (kind, atoms); empty when the value is not a field.

    Raises
    ------
    MirError
        An annotation class without a writer, or units that cannot be converted.
    """
    if value is None:
        return {}
    if type(value).__name__ == "MultiAnnotator" and is_annotation(value):
        out: dict[str, tuple[FieldKind, Atoms]] = {}
        for index, (annotator, annotation) in enumerate(zip(value.annotators, value.annotations)):
            label = annotator if annotator not in (None, "") else str(index)
            out.update(fields_of(f"{name}_{label}", annotation, where))
        return out
    if is_annotation(value):
        return {name: writer_of(value, where)(value, f"{where}, {type(value).__name__}")}
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out.update(fields_of(f"{name}_{key}", item, f"{where}[{key!r}]"))
        return out
    if isinstance(value, list) and value and any(is_annotation(v) for v in value):
        out = {}
        for index, item in enumerate(value):
            out.update(fields_of(f"{name}_{index}", item, f"{where}[{index}]"))
        return out
    metadata = _metadata(value)
    return {name: metadata} if metadata is not None else {}
