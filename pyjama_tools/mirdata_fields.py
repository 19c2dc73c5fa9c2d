"""mirdata's annotation objects → pyjama fields: one writer per annotation class (a registry).

A writer turns one object of a class of ``mirdata.annotations`` into a :class:`FieldKind` (the
pyjama extent, content type and unit of the field) and its atoms:

=============================================  ==========  ============================================
class                                          extent      value
=============================================  ==========  ============================================
ChordData, KeyData, SectionData, EventData,    segment     the label (text)
LyricData
NoteData                                       segment     the pitch, MIDI (or Hz, see below; ``unit``)
TempoData                                      segment     the tempo in BPM (``unit`` ``bpm``)
BeatData                                       marker      the beat position as a number (``unit`` the
                                                           position unit; ``global_index`` 1..N when
                                                           mirdata has no positions)
F0Data                                         breakpoint  one atom, every frame of mirdata's time grid,
                                                           (1, T) pitch, unvoiced frames 0
MultiF0Data                                    breakpoint  one atom, (V, T) pitch, V = the most pitches
                                                           in a frame, 0 where a frame has fewer
=============================================  ==========  ============================================

Times are seconds (mirdata's ``ms`` converted). Pitches are stored in the unit the field's name says
(:func:`pyjama_tools.units.pitch_unit_in_name`: GuitarSet's ``pitch_contours_E`` in Hz), MIDI
otherwise (``f0``, ``notes``, ``multif0``, ``melody``), converted with mirdata's own
``convert_pitch_units``; the definition's ``unit`` says which. So mirfeat's ``pitch_unit_of`` (name
first, then values) reads every field right, whatever its range (a bass line in Hz would pass for
MIDI numbers). Confidences go to the atoms' ``confidence``. Containers expand: a ``MultiAnnotator`` gives
``<name>_<annotator>``, a dict
``<name>_<key>`` (GuitarSet's ``notes_E``), a list of annotations ``<name>_<i>``.
Metadata become global fields: text, numbers, booleans (text ``true``/``false``), lists of them
(one atom each). Anything else (arrays, tuples, PrettyMIDI or JAMS objects, ...) is not a field.
An object of ``mirdata.annotations`` whose class has no writer raises :class:`MirError` naming it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

import numpy as np

from pyjama_tools.core.errors import MirError
from pyjama_tools.core.registry import Registry
from pyjama_tools.pyjama import FieldDefinition, atom, breakpoint_atom
from pyjama_tools.units import pitch_unit_in_name

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
Writer = Callable[[Any, str, str], tuple[FieldKind, Atoms]]

#: annotation class name (in mirdata.annotations) → writer
WRITERS: Registry[Writer] = Registry("mirdata annotation class")


def register_writer(class_name: str) -> Callable[[Writer], Writer]:
    """Decorator: register ``writer`` for the mirdata annotation class ``class_name``."""
    return WRITERS.register(class_name)


# ----------------------------------------------------------------------------- units


def seconds(times: Any, unit: str | None, where: str) -> np.ndarray:
    """``times`` in ``unit`` (mirdata's TIME_UNITS) as float seconds."""
    from mirdata.annotations import convert_time_units

    times = np.asarray(times, dtype=float)
    try:
        return np.asarray(convert_time_units(times, unit or "s", "s"), dtype=float)
    except NotImplementedError:
        raise MirError(f"{where}: time unit {unit!r} cannot be converted to seconds") from None


def stored_pitch_unit(field: str) -> str:
    """The unit a pitch field is stored in: the one its name says (``pitch_contours_E``: Hz), else MIDI.

    Readers take the unit from the name first, then from the values (MIDI when every voiced value is
    <= 150), so MIDI values under a name that says nothing are always read right, and Hz could not be
    (a bass line in Hz is also a range of MIDI numbers).
    """
    return pitch_unit_in_name(field) or "midi"


def convert_pitches(pitches: Any, unit: str | None, target: str, where: str) -> np.ndarray:
    """Voiced pitches in ``unit`` (hz, midi, note_name) in ``target`` (hz or midi), with mirdata's conversion."""
    from mirdata.annotations import convert_pitch_units

    pitches = np.asarray(pitches)
    if unit == target:
        return pitches.astype(float)
    try:
        return np.asarray(convert_pitch_units(pitches, unit, target), dtype=float)
    except NotImplementedError:
        raise MirError(f"{where}: pitch unit {unit!r} cannot be converted to {target}") from None


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
def chord_data(annotation: Any, field: str, where: str) -> tuple[FieldKind, Atoms]:
    return FieldKind("segment", "text"), _segments(annotation, annotation.labels, where, annotation.confidence)


@register_writer("KeyData")
def key_data(annotation: Any, field: str, where: str) -> tuple[FieldKind, Atoms]:
    return FieldKind("segment", "text"), _segments(annotation, annotation.keys, where)


@register_writer("SectionData")
def section_data(annotation: Any, field: str, where: str) -> tuple[FieldKind, Atoms]:
    labels = annotation.labels if annotation.labels is not None else [""] * len(annotation.intervals)
    return FieldKind("segment", "text"), _segments(annotation, labels, where)


@register_writer("EventData")
def event_data(annotation: Any, field: str, where: str) -> tuple[FieldKind, Atoms]:
    return FieldKind("segment", "text"), _segments(annotation, annotation.events, where)


@register_writer("LyricData")
def lyric_data(annotation: Any, field: str, where: str) -> tuple[FieldKind, Atoms]:
    return FieldKind("segment", "text"), _segments(annotation, annotation.lyrics, where)


@register_writer("TempoData")
def tempo_data(annotation: Any, field: str, where: str) -> tuple[FieldKind, Atoms]:
    tempos = np.asarray(annotation.tempos, dtype=float)
    return (FieldKind("segment", "numeric", annotation.tempo_unit or "bpm"),
            _segments(annotation, tempos, where, annotation.confidence))


@register_writer("NoteData")
def note_data(annotation: Any, field: str, where: str) -> tuple[FieldKind, Atoms]:
    if annotation.pitch_unit == "pc":  # pitch classes have no MIDI number: kept as text
        return FieldKind("segment", "text", "pc"), _segments(annotation, [str(p) for p in annotation.pitches], where,
                                                              annotation.confidence)
    unit = stored_pitch_unit(field)
    pitches = convert_pitches(annotation.pitches, annotation.pitch_unit, unit, where)
    return FieldKind("segment", "numeric", unit), _segments(annotation, pitches, where, annotation.confidence)


@register_writer("BeatData")
def beat_data(annotation: Any, field: str, where: str) -> tuple[FieldKind, Atoms]:
    times = seconds(annotation.times, annotation.time_unit, where)
    if annotation.positions is None:  # no positions: the beat's index in the track, 1-based
        positions, unit = np.arange(1, len(times) + 1, dtype=float), "global_index"
    else:
        positions, unit = np.asarray(annotation.positions, dtype=float), annotation.position_unit
    atoms = [atom(float(p), time=float(t), confidence=_confidence(annotation.confidence, i))
             for i, (t, p) in enumerate(zip(times, positions))]
    return FieldKind("marker", "numeric", unit), atoms


@register_writer("F0Data")
def f0_data(annotation: Any, field: str, where: str) -> tuple[FieldKind, Atoms]:
    times = seconds(annotation.times, annotation.time_unit, where)
    frequencies = np.asarray(annotation.frequencies)
    voiced = np.asarray(annotation.voicing, dtype=float) > 0
    if annotation.frequency_unit in ("hz", "midi"):
        voiced &= np.asarray(frequencies, dtype=float) > 0
    unit = stored_pitch_unit(field)
    pitch = np.zeros(len(times))
    pitch[voiced] = convert_pitches(frequencies[voiced], annotation.frequency_unit, unit, where)
    return FieldKind("breakpoint", "numeric", unit), ([breakpoint_atom(times, pitch[None, :])] if len(times) else [])


@register_writer("MultiF0Data")
def multif0_data(annotation: Any, field: str, where: str) -> tuple[FieldKind, Atoms]:
    times = seconds(annotation.times, annotation.time_unit, where)
    numeric = annotation.frequency_unit in ("hz", "midi")
    frames = [np.asarray(f, dtype=float if numeric else object) for f in annotation.frequency_list]
    unit = stored_pitch_unit(field)
    matrix = np.zeros((max([1] + [f.size for f in frames]), len(times)))
    for column, frame in enumerate(frames):
        frame = frame[frame > 0] if numeric else frame
        if frame.size:
            matrix[: frame.size, column] = convert_pitches(frame, annotation.frequency_unit, unit, where)
    return FieldKind("breakpoint", "numeric", unit), ([breakpoint_atom(times, matrix)] if len(times) else [])


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
                   f"(known: {', '.join(WRITERS.names())}); add a writer in pyjama_tools/mirdata_fields.py")


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
        return {name: writer_of(value, where)(value, name, f"{where}, {type(value).__name__}")}
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
