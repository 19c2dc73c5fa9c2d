"""What to predict: :class:`TargetSpec` (kind, field, options) and :func:`build_target`.

The spec checks each option's value, then asks the registry whether the kind accepts the options
set away from their defaults (``Target.options``); it names no kind.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from mirfeat.targets.base import Target, kinds_accepting, target_class
from mirfeat.targets.pitch_units import PITCH_UNITS
from pyjama_tools.core.errors import ParameterError
from pyjama_tools.pyjama import PyjamaDoc

CHORD_VOCABULARIES = (None, "majmin")


@dataclass(frozen=True)
class TargetSpec:
    """What to predict.

    Parameters
    ----------
    kind : str
        A registered kind (:func:`~mirfeat.targets.base.target_kinds`): multiclass, multilabel,
        framelabel, pitch, clique.
    field : str
        The .pyjama field holding the annotation (``genre``, ``tag``, ``chord``, ``f0multi``,
        ``pitchmidi``, ``work-id``).
    top_n : int or None
        multilabel only: keep the ``top_n`` most frequent values (counted once per entry, ties in
        vocabulary order); None keeps the whole vocabulary.
    chord_vocabulary : None or "majmin"
        framelabel only: ``"majmin"`` reduces Harte chord labels to 25 classes (:mod:`mirfeat.chords`).
    pitch_unit : "auto", "midi" or "hz"
        pitch only: unit of the annotated values; ``"auto"`` (default) reads it from the field's name,
        else from its values (:func:`~mirfeat.targets.pitch_units.pitch_unit_of`).
    pitch_tolerance : float
        pitch only: largest distance in semitones between a pitch and its nearest bin (default 0.5).

    The options (every parameter after ``field``) are read by the kinds that declare them in
    ``Target.options``; one set away from its default on another kind is refused.
    """

    kind: str
    field: str
    top_n: int | None = None
    chord_vocabulary: str | None = None
    pitch_unit: str = "auto"
    pitch_tolerance: float = 0.5

    def __post_init__(self) -> None:
        accepted = target_class(self.kind).options
        if not isinstance(self.field, str) or not self.field:
            raise ParameterError(f"target field {self.field!r} must be a non-empty field name")
        if self.top_n is not None and (isinstance(self.top_n, bool) or not isinstance(self.top_n, (int, np.integer))
                                       or self.top_n < 1):
            raise ParameterError(f"top_n {self.top_n!r} must be a positive integer or None")
        if self.chord_vocabulary not in CHORD_VOCABULARIES:
            raise ParameterError(f"chord_vocabulary {self.chord_vocabulary!r} not allowed; use None or 'majmin'")
        if self.pitch_unit not in PITCH_UNITS:
            raise ParameterError(f"pitch_unit {self.pitch_unit!r} not allowed; use one of {', '.join(PITCH_UNITS)}")
        if isinstance(self.pitch_tolerance, bool) or not isinstance(self.pitch_tolerance, (int, float)) \
                or not np.isfinite(self.pitch_tolerance) or self.pitch_tolerance <= 0:
            raise ParameterError(f"pitch_tolerance {self.pitch_tolerance!r} must be a positive number of semitones")
        for option in self.options_set():
            if option not in accepted:
                kinds = " or ".join(repr(kind) for kind in kinds_accepting(option)) or "no registered kind"
                raise ParameterError(f"{option} is for kind {kinds}, not {self.kind!r}")

    def options_set(self) -> list[str]:
        """The options (parameters after ``field``) whose value is not their default, in declaration order."""
        return [item.name for item in dataclasses.fields(self)[2:] if getattr(self, item.name) != item.default]


def build_target(spec: TargetSpec, doc: PyjamaDoc) -> Target:
    """The :class:`~mirfeat.targets.base.Target` of ``spec`` over the annotations of ``doc``.

    Raises
    ------
    MirError
        When the field is not defined or has the wrong extent for the kind.
    """
    if not isinstance(spec, TargetSpec):
        raise ParameterError(f"build_target needs a TargetSpec, got {type(spec).__name__}")
    return target_class(spec.kind)(spec, doc)
