"""Chord labels (Harte syntax) reduced to the 25 major/minor/no-chord classes.

Parsing is :func:`mir_eval.chord.encode` (root pitch class + 12-semitone quality bitmap);
the reduction rule on the bitmap is ours:

- a major third (4 semitones above the root) present → ``<root>:maj`` (maj, 7, maj7, aug, 9, ...);
- otherwise a minor third (3 semitones) present → ``<root>:min`` (min, min7, dim, hdim7, ...);
- neither third (``sus2``, ``sus4``, power chord ``5``, ``1``, ``maj(*3)``) → ``<root>:maj``
  (the root is kept; MIREX's "MajMin" would drop these frames, the tutorial keeps every frame);
- ``N`` (no chord) and ``X`` (unknown) → ``N``.

The bass note (inversions ``/3``) is ignored. Class order: C:maj … B:maj (0-11), C:min … B:min
(12-23), N (24).
"""

from __future__ import annotations

from collections.abc import Iterable

import mir_eval.chord
import numpy as np

from pyjama_tools.core.errors import MirError

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
#: the 25 class names, in class-index order
MAJMIN_CLASSES: tuple[str, ...] = tuple(f"{p}:maj" for p in PITCH_CLASSES) + tuple(
    f"{p}:min" for p in PITCH_CLASSES) + ("N",)
NO_CHORD_INDEX = 24


def majmin_index(label: str) -> int:
    """Class index (0-24) of one Harte chord label; see the module docstring for the rule.

    Raises
    ------
    MirError
        When ``mir_eval`` cannot parse the label (the message quotes it).
    """
    try:
        root, bitmap, _bass = mir_eval.chord.encode(str(label))
    except (mir_eval.chord.InvalidChordException, ValueError, IndexError) as error:
        raise MirError(f"chord label {label!r} is not valid Harte syntax ({error})") from None
    if root < 0:  # N and X
        return NO_CHORD_INDEX
    if bitmap[4]:
        return int(root)
    if bitmap[3]:
        return 12 + int(root)
    return int(root)


def reduce_to_majmin(labels: Iterable[str]) -> np.ndarray:
    """Class indices (int64, one per label) of many chord labels; each distinct label is parsed once.

    Parameters
    ----------
    labels : iterable of str
        Harte chord labels (``"Ab:min"``, ``"C:min7"``, ``"N"``, ...).

    Returns
    -------
    np.ndarray (N,) int64 in [0, 24]
    """
    array = np.asarray(list(labels), dtype=object)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    unique, inverse = np.unique(array.astype(str), return_inverse=True)
    classes = np.array([majmin_index(label) for label in unique], dtype=np.int64)
    return classes[inverse.reshape(-1)]
