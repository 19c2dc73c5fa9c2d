"""A pitch field's unit (MIDI or Hz) and values: what the ``pitch`` target, ``show`` and ``evaluate`` read."""

from __future__ import annotations

from typing import Any
from collections.abc import Callable

import librosa
import numpy as np

from pyjama_tools.core.errors import MirError
from pyjama_tools.pyjama import PyjamaDoc
from pyjama_tools.units import pitch_unit_in_name

PITCH_UNITS = ("auto", "midi", "hz")
#: the largest MIDI number a pitch field may hold (MIDI 150 ≈ 52 kHz): a larger voiced value means Hz
MAX_MIDI = 150.0


def pitch_values(doc: PyjamaDoc, key: str, field: str) -> np.ndarray:
    """Every pitch value of one file's breakpoint (f0) or segment (notes) field, flat float (empty
    when the file has no atom of the field)."""
    if not doc.atoms(key, field):
        return np.zeros(0)
    values = doc.segments(key, field)[2] if doc.definition(field).type_extent == "segment" \
        else doc.breakpoints(key, field)[1]
    try:
        return np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        raise MirError(f"{key!r}: field {field!r} holds text ({next(iter(np.ravel(values)), '')!r}), "
                       "not pitches in MIDI or Hz") from None


def pitch_to_midi(values: Any, pitch_unit: str) -> np.ndarray:
    """Pitch values in ``pitch_unit`` (``"midi"`` or ``"hz"``) as MIDI numbers; silence (<= 0, or
    non-finite Hz) is 0."""
    values = np.asarray(values, dtype=float)
    if pitch_unit == "hz":
        voiced = np.isfinite(values) & (values > 0)
        return np.where(voiced, librosa.hz_to_midi(np.where(voiced, values, 1.0)), 0.0)
    return values


def pitch_unit_of(field: str, values: np.ndarray | Callable[[], np.ndarray]) -> str:
    """Unit (``"midi"`` or ``"hz"``) of a pitch field: from its name where it says it, else from its values.

    ``midi`` in the name (``pitchmidi``, JAMS ``note_midi`` / ``pitch_midi``) → MIDI; ``hz`` or
    ``contour`` (JAMS ``note_hz``, ``pitch_hz``, ``pitch_contour``) → Hz; otherwise Hz when some
    voiced value exceeds :data:`MAX_MIDI`, else MIDI (the published sets' f0 and notes are MIDI).
    The name comes first because a bass line in Hz (40-150 Hz) is also a range of MIDI numbers.

    Parameters
    ----------
    field : str
        The field's name.
    values : np.ndarray, or a callable returning one
        The field's values (any shape; 0 / negative / non-finite = silence); a callable is called
        only when the name does not tell.
    """
    named = pitch_unit_in_name(field)
    if named is not None:
        return named
    values = np.asarray(values() if callable(values) else values, dtype=float)
    voiced = values[np.isfinite(values) & (values > 0)]
    return "hz" if voiced.size and voiced.max() > MAX_MIDI else "midi"
