"""Annotations (.pyjama fields) → training targets ``y`` on a feature's own time/frequency grids.

A target kind is a :class:`Target` subclass registered by name with :func:`register_target`;
:func:`build_target` builds one from a :class:`TargetSpec` and a :class:`~pyjama_tools.pyjama.PyjamaDoc`.

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

import difflib
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import librosa
import numpy as np
import scipy.sparse

from pyjama_tools.core.errors import MirError, ParameterError
from pyjama_tools.pyjama import PyjamaDoc
from pyjama_tools.units import pitch_unit_in_name

from mirfeat.chords import MAJMIN_CLASSES, reduce_to_majmin

IGNORE_INDEX = -100
CHORD_VOCABULARIES = (None, "majmin")
PITCH_UNITS = ("auto", "midi", "hz")
#: the largest MIDI number a pitch field may hold (MIDI 150 ≈ 52 kHz): a larger voiced value means Hz
MAX_MIDI = 150.0

TARGETS: dict[str, type["Target"]] = {}


def register_target(name: str) -> Callable[[type["Target"]], type["Target"]]:
    """Class decorator: register a :class:`Target` subclass under ``name``."""

    def decorate(cls: type["Target"]) -> type["Target"]:
        cls.kind = name
        TARGETS[name] = cls
        return cls

    return decorate


def target_kinds() -> list[str]:
    """Names of every registered target kind, sorted."""
    return sorted(TARGETS)


@dataclass(frozen=True)
class TargetSpec:
    """What to predict.

    Parameters
    ----------
    kind : str
        A registered kind: multiclass, multilabel, framelabel, pitch, clique.
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
        else from its values (:func:`pitch_unit_of`).
    pitch_tolerance : float
        pitch only: largest distance in semitones between a pitch and its nearest bin (default 0.5).
    """

    kind: str
    field: str
    top_n: int | None = None
    chord_vocabulary: str | None = None
    pitch_unit: str = "auto"
    pitch_tolerance: float = 0.5

    def __post_init__(self) -> None:
        if self.kind not in TARGETS:
            close = difflib.get_close_matches(str(self.kind), TARGETS, n=2)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ParameterError(f"target kind {self.kind!r} unknown{hint}; known: {', '.join(target_kinds())}")
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
        if self.top_n is not None and self.kind != "multilabel":
            raise ParameterError(f"top_n is for kind 'multilabel', not {self.kind!r}")
        if self.chord_vocabulary is not None and self.kind != "framelabel":
            raise ParameterError(f"chord_vocabulary is for kind 'framelabel', not {self.kind!r}")


def build_target(spec: TargetSpec, doc: PyjamaDoc) -> "Target":
    """The :class:`Target` of ``spec`` over the annotations of ``doc``.

    Raises
    ------
    MirError
        When the field is not defined or has the wrong extent for the kind.
    """
    if not isinstance(spec, TargetSpec):
        raise ParameterError(f"build_target needs a TargetSpec, got {type(spec).__name__}")
    return TARGETS[spec.kind](spec, doc)


# ----------------------------------------------------------------------------- base


class Target:
    """Base of a target kind.

    Attributes
    ----------
    spec : TargetSpec
    vocabulary : list of str or None
        Class / tag / work names in output order (None for pitch).
    per_frame : bool
        True when ``y`` follows the frames (needs ``time_sec``); False for one value per file.
    ignore_index : int
        The class index a loss must ignore (frame labels).
    """

    kind: ClassVar[str]
    extents: ClassVar[tuple[str, ...]] = ("global",)
    per_frame: ClassVar[bool] = False
    ignore_index: int = IGNORE_INDEX

    def __init__(self, spec: TargetSpec, doc: PyjamaDoc):
        self.spec = spec
        self.doc = doc
        definition = doc.definition(spec.field)
        if definition.type_extent not in self.extents:
            raise MirError(f"field {spec.field!r} has extent {definition.type_extent!r}; target kind "
                           f"{self.kind!r} needs {' or '.join(self.extents)}")
        self.vocabulary: list[str] | None = None
        self._cache: dict[str, tuple[int, Any]] = {}
        self._grids: dict[str, tuple] = {}

    @property
    def num_outputs(self) -> int:
        """Number of outputs of the network: classes, tags, works (or F bins for pitch)."""
        return len(self.vocabulary or ())

    # ---- to implement
    def _compute(self, key: str, time_sec: np.ndarray | None, frequency_hz: np.ndarray | None) -> Any:
        raise NotImplementedError  # pragma: no cover

    def _expand(self, compact: Any, start: int, stop: int) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover

    # ---- public
    def prepare(self, key: str, time_sec: np.ndarray | None = None,
                frequency_hz: np.ndarray | None = None) -> None:
        """Compute and cache the target of ``key`` (errors surface here, before training starts)."""
        self._compact(key, time_sec, frequency_hz)

    def _compact(self, key: str, time_sec, frequency_hz) -> tuple[int, Any]:
        cached = self._cache.get(key)
        num_frames = -1 if time_sec is None else len(time_sec)
        grid = _grid_signature(time_sec, frequency_hz)
        # a per-frame target is reused only on the grid it was computed on (the same Target may serve
        # two features: e.g. CQTs with 360 and 72 bins share their frames but not their bins)
        if cached is not None and (not self.per_frame or time_sec is None or self._grids.get(key) == grid):
            return cached
        if self.per_frame:
            time_sec = _check_time(time_sec, key)
        self.doc.index_of(key)  # unknown key → MirError
        compact = (num_frames, self._compute(key, time_sec, frequency_hz))
        self._cache[key] = compact
        self._grids[key] = grid
        return compact

    def for_file(self, key: str, time_sec: np.ndarray | None = None,
                 frequency_hz: np.ndarray | None = None) -> np.ndarray:
        """``y`` of a whole file on the grid ``time_sec`` (T,) s / ``frequency_hz`` (F,) Hz.

        Returns
        -------
        np.ndarray
            int64 0-d (multiclass, clique), float32 (K,) (multilabel), int64 (T,) (framelabel),
            float32 (F, T) (pitch).
        """
        num_frames, compact = self._compact(key, time_sec, frequency_hz)
        return self._expand(compact, 0, max(num_frames, 0))

    def for_patch(self, key: str, start: int, length: int, time_sec: np.ndarray | None = None,
                  frequency_hz: np.ndarray | None = None) -> np.ndarray:
        """``y`` of the patch of ``length`` frames from frame ``start`` (per-file value for global kinds)."""
        num_frames, compact = self._compact(key, time_sec, frequency_hz)
        if self.per_frame and (start < 0 or length < 1 or start + length > num_frames):
            raise ParameterError(f"patch [{start}, {start + length}) outside the {num_frames} frames of {key!r}")
        return self._expand(compact, int(start), int(start) + int(length))


def _grid_signature(time_sec: np.ndarray | None, frequency_hz: np.ndarray | None) -> tuple:
    """(size, first, last) of each axis (None when absent): what tells two feature grids apart, cheaply."""
    signature = []
    for axis in (time_sec, frequency_hz):
        array = None if axis is None else np.asarray(axis, dtype=float).reshape(-1)
        signature.append(None if array is None else (array.size,) + ((array[0], array[-1]) if array.size else ()))
    return tuple(signature)


def _check_time(time_sec: np.ndarray | None, key: str) -> np.ndarray:
    if time_sec is None:
        raise ParameterError(f"{key!r}: a per-frame target needs the feature's time_sec grid")
    time_sec = np.asarray(time_sec, dtype=float)
    if time_sec.ndim != 1 or time_sec.size == 0:
        raise ParameterError(f"{key!r}: time_sec must be a non-empty 1-D array, got shape {time_sec.shape}")
    if time_sec.size > 1 and not np.all(np.diff(time_sec) > 0):
        raise ParameterError(f"{key!r}: time_sec must be strictly increasing")
    return time_sec


def _frame_ranges(time_sec: np.ndarray, onset: np.ndarray, duration: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and one-past-last frame whose centre lies in ``[onset, onset + duration)``."""
    return (np.searchsorted(time_sec, onset, side="left"),
            np.searchsorted(time_sec, onset + duration, side="left"))


def _entry_label(doc: PyjamaDoc, key: str) -> str:
    return f"entry {doc.index_of(key)} ({key!r})"


# ----------------------------------------------------------------------------- global kinds


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
            raise MirError(f"{_entry_label(self.doc, key)}, field {self.spec.field!r}: {self.value_name}, "
                           f"found {len(values)}")
        try:
            return self._index[str(values[0])]
        except KeyError:
            raise MirError(f"{_entry_label(self.doc, key)}, field {self.spec.field!r}: value {values[0]!r} "
                           f"is not in the vocabulary") from None

    def _expand(self, compact: int, start: int, stop: int) -> np.ndarray:
        return np.array(compact, dtype=np.int64)


@register_target("multilabel")
class MultilabelTarget(Target):
    """Any number of tags per file (``tag``): ``y`` = float32 (K,) multi-hot.

    With ``top_n`` the vocabulary is the ``top_n`` values found in the most entries of the whole
    document (ties keep vocabulary order); other values are ignored.
    """

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


@register_target("clique")
class CliqueTarget(MulticlassTarget):
    """Work (clique) of each performance for metric learning: ``y`` = int64 0-d work index.

    ``vocabulary`` lists the distinct work ids (as str) in sorted order (or the field's dictionary);
    :meth:`work_ids` gives the per-item work indices a :class:`~mirfeat.patches.WorkBatchSampler` needs.
    """

    value_name = "a performance needs exactly one work id"

    def work_ids(self, keys: list[str]) -> list[int]:
        """Work index of each key, in order."""
        return [self._compact(key, None, None)[1] for key in keys]


# ----------------------------------------------------------------------------- per-frame kinds


@register_target("framelabel")
class FrameLabelTarget(Target):
    """A class per frame from segments (``chord``): ``y`` = int64 (T,).

    ``chord_vocabulary="majmin"`` maps Harte labels to the 25 classes of :mod:`mirfeat.chords`
    (frames without a segment → ``N``); otherwise the vocabulary is the field's and uncovered frames
    get ``"N"`` when it is a class, else :data:`IGNORE_INDEX`.
    """

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
                raise MirError(f"{_entry_label(self.doc, key)}, field {self.spec.field!r}: {error}") from None
        names = np.asarray([str(v) for v in values], dtype=object)
        unique, inverse = np.unique(names.astype(str), return_inverse=True) if names.size else ([], np.zeros(0, int))
        lookup = []
        for name in unique:
            if name not in self._index:
                raise MirError(f"{_entry_label(self.doc, key)}, field {self.spec.field!r}: value {name!r} is not "
                               f"in the vocabulary")
            lookup.append(self._index[name])
        return np.asarray(lookup, dtype=np.int64)[np.asarray(inverse, dtype=int).reshape(-1)]

    def _compute(self, key, time_sec, frequency_hz) -> np.ndarray:
        onset, duration, values = self.doc.segments(key, self.spec.field)
        classes = self.classes(key, values)
        labels = np.full(len(time_sec), self.no_label, dtype=np.int16)
        first, stop = _frame_ranges(time_sec, onset, duration)
        # paint in onset order so that the segment starting last wins on overlaps; one slice
        # assignment per segment (hundreds per file), never a loop over frames
        for i in np.argsort(onset, kind="stable"):
            labels[first[i]:stop[i]] = classes[i]
        return labels

    def _expand(self, compact: np.ndarray, start: int, stop: int) -> np.ndarray:
        return compact[start:stop].astype(np.int64)


@register_target("pitch")
class PitchTarget(Target):
    """Binary pitch salience (F, T) from f0 breakpoints (``f0multi``; also ``breakpoint_value`` fields on
    an entry's shared times) or note segments (``pitchmidi``).

    ``num_outputs`` is the number of frequency bins F, known once a grid has been seen (the first
    :meth:`prepare` / :meth:`for_file`); before that it raises :class:`MirError`.
    """

    extents = ("breakpoint", "breakpoint_value", "segment")
    per_frame = True

    def __init__(self, spec: TargetSpec, doc: PyjamaDoc):
        super().__init__(spec, doc)
        self.extent = doc.definition(spec.field).type_extent
        self._num_bins: int | None = None
        #: "midi" or "hz": the spec's unit, or the one :func:`pitch_unit_of` finds for the field
        self.pitch_unit = spec.pitch_unit if spec.pitch_unit != "auto" else pitch_unit_of(spec.field, self._all_values)

    @property
    def num_outputs(self) -> int:
        if self._num_bins is None:
            raise MirError(f"pitch target on {self.spec.field!r}: the number of bins is known once a feature "
                           f"grid has been given (prepare a key first)")
        return self._num_bins

    def _all_values(self) -> np.ndarray:
        """Every pitch value of the field over the whole document (to tell its unit), flat float."""
        return np.concatenate([np.zeros(0)] + [pitch_values(self.doc, key, self.spec.field)
                                               for key in self.doc.keys() if key is not None])

    def _midi(self, values: np.ndarray) -> np.ndarray:
        return pitch_to_midi(values, self.pitch_unit)

    def bins(self, key: str, pitch_midi: np.ndarray, frequency_hz: np.ndarray) -> np.ndarray:
        """Nearest bin (log-frequency) of each pitch, -1 where silent or farther than the tolerance."""
        pitch_midi = np.asarray(pitch_midi, dtype=float)
        valid = np.isfinite(pitch_midi) & (pitch_midi > 0)
        bins_log2 = np.log2(frequency_hz)
        with np.errstate(divide="ignore", invalid="ignore"):
            pitch_log2 = np.log2(librosa.midi_to_hz(np.where(valid, pitch_midi, 69.0)))
        right = np.clip(np.searchsorted(bins_log2, pitch_log2), 1, len(bins_log2) - 1) if len(bins_log2) > 1 \
            else np.zeros(pitch_log2.shape, dtype=int)
        left = np.maximum(right - 1, 0)
        d_left = np.abs(pitch_log2 - bins_log2[left])
        d_right = np.abs(bins_log2[right] - pitch_log2)
        nearest = np.where(d_left <= d_right, left, right)
        distance = 12.0 * np.minimum(d_left, d_right)
        ok = valid & (distance <= self.spec.pitch_tolerance + 1e-9)
        return np.where(ok, nearest, -1)

    def _compute(self, key, time_sec, frequency_hz) -> scipy.sparse.csc_array:
        if frequency_hz is None:
            raise ParameterError(f"{key!r}: a pitch target needs the feature's frequency_hz grid "
                                 f"(features without a frequency axis cannot hold pitch)")
        frequency_hz = np.asarray(frequency_hz, dtype=float)
        if frequency_hz.ndim != 1 or frequency_hz.size == 0 or not np.all(frequency_hz > 0) \
                or not np.all(np.diff(frequency_hz) > 0):
            raise ParameterError(f"{key!r}: frequency_hz must be positive and strictly increasing")
        num_bins, num_frames = len(frequency_hz), len(time_sec)
        if self.extent == "segment":
            rows, cols = self._notes(key, time_sec, frequency_hz)
        else:
            rows, cols = self._breakpoints(key, time_sec, frequency_hz)
        self._num_bins = num_bins
        matrix = scipy.sparse.coo_array((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                                        shape=(num_bins, num_frames)).tocsc()
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        return matrix

    def _notes(self, key, time_sec, frequency_hz) -> tuple[np.ndarray, np.ndarray]:
        onset, duration, values = self.doc.segments(key, self.spec.field)
        bins = self.bins(key, self._midi(values.astype(float)), frequency_hz)
        first, stop = _frame_ranges(time_sec, onset, duration)
        keep = (bins >= 0) & (stop > first)
        bins, first, lengths = bins[keep], first[keep], (stop - first)[keep]
        # every (bin, frame) of every note without a loop: repeat each note's bin over its frames
        rows = np.repeat(bins, lengths)
        cols = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths) + np.repeat(first, lengths)
        return rows, cols

    def _breakpoints(self, key, time_sec, frequency_hz) -> tuple[np.ndarray, np.ndarray]:
        times, values = self.doc.breakpoints(key, self.spec.field)
        if times.size == 0:
            return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
        order = np.argsort(times, kind="stable")
        times, values = times[order], values[:, order]
        nearest = nearest_breakpoint(time_sec, times)
        frames = np.flatnonzero(nearest >= 0)
        pitch = values[:, nearest[frames]]  # (D, frames)
        bins = self.bins(key, self._midi(pitch), frequency_hz)
        voice, column = np.nonzero(bins >= 0)
        return bins[voice, column], frames[column]

    def _expand(self, compact: scipy.sparse.csc_array, start: int, stop: int) -> np.ndarray:
        return compact[:, start:stop].toarray().astype(np.float32, copy=False)


def pitch_values(doc: PyjamaDoc, key: str, field: str) -> np.ndarray:
    """Every pitch value of one file's breakpoint (f0) or segment (notes) field, flat float (empty
    when the file has no atom of the field)."""
    if not doc.atoms(key, field):
        return np.zeros(0)
    if doc.definition(field).type_extent == "segment":
        return np.asarray(doc.segments(key, field)[2], dtype=float).ravel()
    return np.asarray(doc.breakpoints(key, field)[1], dtype=float).ravel()


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


def nearest_breakpoint(time_sec: np.ndarray, breakpoint_time: np.ndarray) -> np.ndarray:
    """Index of the breakpoint nearest to each frame centre, -1 when farther than half a hop.

    Parameters
    ----------
    time_sec : np.ndarray (T,)
        Frame centres in seconds, increasing.
    breakpoint_time : np.ndarray (N,)
        Breakpoint times in seconds, sorted.

    Returns
    -------
    np.ndarray (T,) int
        The hop is the larger of the median breakpoint step and the median frame step; a frame
        farther than half of it from every breakpoint gets -1 (silent).
    """
    steps = [np.median(np.diff(x)) for x in (breakpoint_time, time_sec) if len(x) > 1]
    half_hop = 0.5 * max(steps) if steps else np.inf
    right = np.clip(np.searchsorted(breakpoint_time, time_sec), 1, max(len(breakpoint_time) - 1, 1))
    if len(breakpoint_time) == 1:
        right = np.zeros(len(time_sec), dtype=int)
    left = np.maximum(right - 1, 0)
    d_left = np.abs(time_sec - breakpoint_time[left])
    d_right = np.abs(breakpoint_time[right] - time_sec)
    nearest = np.where(d_left <= d_right, left, right)
    ok = np.minimum(d_left, d_right) <= half_hop + 1e-9
    return np.where(ok, nearest, -1)
