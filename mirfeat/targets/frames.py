"""The ``framelabel`` kind: a class per frame from segments (``chord``, ``section``), optionally the
chords reduced to the 25 major/minor classes."""

from __future__ import annotations

import numpy as np

from mirfeat.chords import MAJMIN_CLASSES, reduce_to_majmin
from mirfeat.targets.base import IGNORE_INDEX, Target, entry_label, frame_ranges, register_target
from mirfeat.targets.spec import TargetSpec
from pyjama_tools.core.errors import MirError
from pyjama_tools.pyjama import PyjamaDoc


@register_target("framelabel")
class FrameLabelTarget(Target):
    """A class per frame from segments (``chord``): ``y`` = int64 (T,).

    ``chord_vocabulary="majmin"`` maps Harte labels to the 25 classes of :mod:`mirfeat.chords`
    (frames without a segment → ``N``); otherwise the vocabulary is the field's and uncovered frames
    get ``"N"`` when it is a class, else :data:`IGNORE_INDEX`.
    """

    options = frozenset({"chord_vocabulary"})
    extents = ("segment",)
    per_frame = True

    def __init__(self, spec: TargetSpec, doc: PyjamaDoc):
        super().__init__(spec, doc)
        if spec.chord_vocabulary == "majmin":
            self.vocabulary = list(MAJMIN_CLASSES)
        else:
            self.vocabulary = [str(v) for v in doc.vocabulary(spec.field)]
        self._index = {name: i for i, name in enumerate(self.vocabulary)}
        self.no_label = self._index.get("N", IGNORE_INDEX)

    def classes(self, key: str, values: np.ndarray) -> np.ndarray:
        """Class index of each segment value of ``key``."""
        if self.spec.chord_vocabulary == "majmin":
            try:
                return reduce_to_majmin(values)
            except MirError as error:
                raise MirError(f"{entry_label(self.doc, key)}, field {self.spec.field!r}: {error}") from None
        names = np.asarray([str(v) for v in values], dtype=object)
        unique, inverse = np.unique(names.astype(str), return_inverse=True) if names.size else ([], np.zeros(0, int))
        lookup = []
        for name in unique:
            if name not in self._index:
                raise MirError(f"{entry_label(self.doc, key)}, field {self.spec.field!r}: value {str(name)!r} is not "
                               f"in the vocabulary")
            lookup.append(self._index[name])
        return np.asarray(lookup, dtype=np.int64)[np.asarray(inverse, dtype=int).reshape(-1)]

    def _compute(self, key, time_sec, frequency_hz) -> np.ndarray:
        onset, duration, values = self.doc.segments(key, self.spec.field)
        classes = self.classes(key, values)
        labels = np.full(len(time_sec), self.no_label, dtype=np.int16)
        first, stop = frame_ranges(time_sec, onset, duration)
        # paint in onset order so that the segment starting last wins on overlaps; one slice
        # assignment per segment (hundreds per file), never a loop over frames
        for i in np.argsort(onset, kind="stable"):
            labels[first[i]:stop[i]] = classes[i]
        return labels

    def _expand(self, compact: np.ndarray, start: int, stop: int) -> np.ndarray:
        return compact[start:stop].astype(np.int64)
