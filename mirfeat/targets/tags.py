"""Tag kinds, one value per file: ``multiclass`` (one class, e.g. ``genre``) and ``multilabel`` (any
number of tags, e.g. ``tag``, optionally the ``top_n`` most frequent)."""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

import numpy as np

from mirfeat.targets.base import Target, entry_label, register_target
from mirfeat.targets.spec import TargetSpec
from pyjama_tools.core.errors import MirError, ParameterError
from pyjama_tools.pyjama import PyjamaDoc


@register_target("multiclass")
class MulticlassTarget(Target):
    """One class per file (``genre``): ``y`` = int64 0-d index into ``vocabulary``."""

    #: what the single value of an entry is, for the messages
    value_name: ClassVar[str] = "multiclass needs exactly one value"

    def __init__(self, spec: TargetSpec, doc: PyjamaDoc):
        super().__init__(spec, doc)
        self.vocabulary = [str(v) for v in doc.vocabulary(spec.field)]
        self._index = {name: i for i, name in enumerate(self.vocabulary)}

    def _compute(self, key, time_sec, frequency_hz) -> int:
        values = self.doc.values(key, self.spec.field)
        if len(values) != 1:
            raise MirError(f"{entry_label(self.doc, key)}, field {self.spec.field!r}: {self.value_name}, "
                           f"found {len(values)}")
        try:
            return self._index[str(values[0])]
        except KeyError:
            raise MirError(f"{entry_label(self.doc, key)}, field {self.spec.field!r}: value {str(values[0])!r} "
                           f"is not in the vocabulary") from None

    def _expand(self, compact: int, start: int, stop: int) -> np.ndarray:
        return np.array(compact, dtype=np.int64)


@register_target("multilabel")
class MultilabelTarget(Target):
    """Any number of tags per file (``tag``): ``y`` = float32 (K,) multi-hot.

    With ``top_n`` the vocabulary is the ``top_n`` values found in the most entries of the whole
    document (ties keep vocabulary order); other values are ignored.
    """

    options = frozenset({"top_n"})

    def __init__(self, spec: TargetSpec, doc: PyjamaDoc):
        super().__init__(spec, doc)
        vocabulary = [str(v) for v in doc.vocabulary(spec.field)]
        if spec.top_n is not None:
            if spec.top_n > len(vocabulary):
                raise ParameterError(f"top_n {spec.top_n} is more than the {len(vocabulary)} values of field "
                                     f"{spec.field!r}")
            counts = Counter(v for labels in doc.labels(spec.field) for v in {str(x) for x in labels})
            order = sorted(range(len(vocabulary)), key=lambda i: -counts.get(vocabulary[i], 0))  # stable
            vocabulary = [vocabulary[i] for i in order[:spec.top_n]]
        self.vocabulary = vocabulary
        self._index = {name: i for i, name in enumerate(vocabulary)}

    def _compute(self, key, time_sec, frequency_hz) -> np.ndarray:
        y = np.zeros(len(self.vocabulary), dtype=np.float32)
        hits = [self._index[str(v)] for v in self.doc.values(key, self.spec.field) if str(v) in self._index]
        y[hits] = 1.0
        return y

    def _expand(self, compact: np.ndarray, start: int, stop: int) -> np.ndarray:
        return compact.copy()
