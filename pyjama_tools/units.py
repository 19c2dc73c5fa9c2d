"""Pitch units of pyjama fields: the names that say a field's unit.

The published sets name MIDI fields ``pitchmidi`` and JAMS names Hz ones ``pitch_hz``, ``note_hz`` and
``pitch_contour``. Readers (mirfeat's targets, ``show``, ``evaluate``) take a field's unit from its
name first (:func:`pitch_unit_in_name`), and from its values only when the name does not say; writers
that choose the unit (the mirdata converter) store each field in the unit its name says, MIDI otherwise.
"""

from __future__ import annotations


def pitch_unit_in_name(field: str) -> str | None:
    """``"midi"`` when ``midi`` is in the field's name, ``"hz"`` when ``hz`` or ``contour`` is, else None."""
    name = field.lower()
    if "midi" in name:
        return "midi"
    if "hz" in name or "contour" in name:
        return "hz"
    return None
