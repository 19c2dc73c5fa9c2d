"""Annotations (.pyjama fields) → training targets ``y`` on a feature's own time/frequency grids.

A target kind is a :class:`Target` subclass registered by name with :func:`register_target`;
:func:`build_target` builds one from a :class:`TargetSpec` and a :class:`~pyjama_tools.pyjama.PyjamaDoc`.
Each kind declares the spec options it accepts (``Target.options``); the spec asks the registry.

Modules: :mod:`~mirfeat.targets.base` (the :class:`Target` contract, the registry :data:`TARGETS`, the
grid helpers), :mod:`~mirfeat.targets.spec` (:class:`TargetSpec`, :func:`build_target`),
:mod:`~mirfeat.targets.tags` (multiclass, multilabel), :mod:`~mirfeat.targets.clique`,
:mod:`~mirfeat.targets.frames` (framelabel), :mod:`~mirfeat.targets.pitch` and
:mod:`~mirfeat.targets.pitch_units` (a pitch field's unit and values).

========== ============================ ===================================================
kind       field extent                 ``y`` for one patch
========== ============================ ===================================================
multiclass global (one value per entry)  int64 0-d: class index in ``vocabulary``
multilabel global (any number of values) float32 (K,): multi-hot over ``vocabulary`` (top-N)
framelabel segment                      int64 (L,): class of each frame (see below)
pitch      breakpoint or segment (MIDI) float32 (F, L): binary pitch salience
clique     global (``work-id``)          int64 0-d: work index (metric learning)
========== ============================ ===================================================

Grid rules (all vectorised with numpy; no per-frame Python loop):

- a frame is represented by its centre time ``time_sec[t]``;
- **segments** (frame labels, notes) cover the frames whose centre lies in ``[onset, onset + duration)``;
  when segments overlap, the one that starts last wins; frames covered by no segment take the
  ``"N"`` class when the vocabulary has one, else :data:`IGNORE_INDEX` (``-100``, PyTorch's
  ``ignore_index``);
- **breakpoints** (f0 curves, one row per voice, in MIDI) are resampled to the frames by nearest
  neighbour in time: frame ``t`` takes the value of the breakpoint nearest to ``time_sec[t]`` when it
  lies within half a hop, where the hop is the larger of the breakpoint step and the frame step
  (medians); frames farther from every breakpoint are silent. Values ``<= 0`` (silence) or non-finite
  are ignored;
- pitch values are MIDI or Hz (``pitch_unit``; by default from the field's name, else its values:
  see :func:`pitch_unit_of`);
- a pitch (MIDI, converted to Hz with :func:`librosa.midi_to_hz`) activates the frequency bin nearest
  in log-frequency when it lies within ``pitch_tolerance`` semitones (default 0.5), else nothing; on an
  exact tie the lower bin wins.

Targets are cached per audio key in a compact form (class per frame as int16, pitch salience as a
sparse CSC matrix), so ``for_patch`` is a cheap slice; each process builds its own cache.
"""

from __future__ import annotations

from mirfeat.targets.base import IGNORE_INDEX, TARGETS, Target, register_target, target_class, target_kinds
from mirfeat.targets.clique import CliqueTarget
from mirfeat.targets.frames import FrameLabelTarget
from mirfeat.targets.pitch import PitchTarget, nearest_breakpoint
from mirfeat.targets.pitch_units import MAX_MIDI, PITCH_UNITS, pitch_to_midi, pitch_unit_of, pitch_values
from mirfeat.targets.spec import CHORD_VOCABULARIES, TargetSpec, build_target
from mirfeat.targets.tags import MulticlassTarget, MultilabelTarget

__all__ = [
    "CHORD_VOCABULARIES",
    "CliqueTarget",
    "FrameLabelTarget",
    "IGNORE_INDEX",
    "MAX_MIDI",
    "MulticlassTarget",
    "MultilabelTarget",
    "PITCH_UNITS",
    "PitchTarget",
    "TARGETS",
    "Target",
    "TargetSpec",
    "build_target",
    "nearest_breakpoint",
    "pitch_to_midi",
    "pitch_unit_of",
    "pitch_values",
    "register_target",
    "target_class",
    "target_kinds",
]
