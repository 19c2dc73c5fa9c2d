"""The target contract: the :class:`Target` base class, the registry of kinds and the grid helpers.

A kind registers with :func:`register_target` (into :data:`TARGETS`, a
:class:`~pyjama_tools.core.registry.Registry`) and declares the spec options it reads in
``options``; the per-file targets are cached in a compact form and sliced per patch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from pyjama_tools.core.errors import MirError, ParameterError
from pyjama_tools.core.registry import Registry
from pyjama_tools.pyjama import PyjamaDoc

if TYPE_CHECKING:
    from mirfeat.targets.spec import TargetSpec

IGNORE_INDEX = -100

#: target kind name → :class:`Target` subclass
TARGETS: Registry[type[Target]] = Registry("target kind", ParameterError)


def register_target(name: str) -> Callable[[type[Target]], type[Target]]:
    """Class decorator: register a :class:`Target` subclass under ``name`` (its ``kind``)."""

    def decorate(cls: type[Target]) -> type[Target]:
        cls.kind = name
        return TARGETS.add(name, cls)

    return decorate


def target_kinds() -> list[str]:
    """Names of every registered target kind, sorted."""
    return TARGETS.names()


def target_class(kind: object) -> type[Target]:
    """The :class:`Target` subclass registered as ``kind``; an unknown kind is a one-line
    :class:`ParameterError` with the closest names."""
    return TARGETS.lookup(kind)


def kinds_accepting(option: str) -> list[str]:
    """The registered kinds whose ``options`` hold ``option``, sorted."""
    return [name for name in TARGETS.names() if option in TARGETS[name].options]


class Target:
    """Base of a target kind.

    Attributes
    ----------
    spec : TargetSpec
    options : frozenset of str
        The spec options this kind accepts (class attribute).
    vocabulary : list of str or None
        Class / tag / work names in output order (None for pitch).
    per_frame : bool
        True when ``y`` follows the frames (needs ``time_sec``); False for one value per file.
    ignore_index : int
        The class index a loss must ignore (frame labels).
    """

    kind: ClassVar[str]
    #: the :class:`~mirfeat.targets.spec.TargetSpec` options (besides kind and field) this kind reads;
    #: a spec that sets another one away from its default is refused
    options: ClassVar[frozenset[str]] = frozenset()
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


def frame_ranges(time_sec: np.ndarray, onset: np.ndarray, duration: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and one-past-last frame whose centre lies in ``[onset, onset + duration)``."""
    return (np.searchsorted(time_sec, onset, side="left"),
            np.searchsorted(time_sec, onset + duration, side="left"))


def entry_label(doc: PyjamaDoc, key: str) -> str:
    """``entry N ('key')``: how messages name an entry of ``doc``."""
    return f"entry {doc.index_of(key)} ({key!r})"
