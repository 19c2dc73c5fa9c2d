"""The ``pitch`` kind: binary pitch salience (F, T) on the feature's bins from f0 breakpoints or notes."""

from __future__ import annotations

import librosa
import numpy as np
import scipy.sparse

from mirfeat.targets.base import Target, frame_ranges, register_target
from mirfeat.targets.pitch_units import pitch_to_midi, pitch_unit_of, pitch_values
from mirfeat.targets.spec import TargetSpec
from pyjama_tools.core.errors import MirError, ParameterError
from pyjama_tools.pyjama import PyjamaDoc


@register_target("pitch")
class PitchTarget(Target):
    """Binary pitch salience (F, T) from f0 breakpoints (``f0multi``; also ``breakpoint_value`` fields on
    an entry's shared times) or note segments (``pitchmidi``).

    ``num_outputs`` is the number of frequency bins F, known once a grid has been seen (the first
    :meth:`prepare` / :meth:`for_file`); before that it raises :class:`MirError`.
    """

    options = frozenset({"pitch_unit", "pitch_tolerance"})
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
        first, stop = frame_ranges(time_sec, onset, duration)
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
