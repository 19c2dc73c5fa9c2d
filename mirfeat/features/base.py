"""The feature contract: a frozen params dataclass + ``compute(audio, sr) -> FeatureValue``.

A feature is one module in :mod:`mirfeat.features` that registers a subclass of
:class:`Feature` with :func:`register_feature`.  Parameters are a frozen
dataclass validated in ``__post_init__`` (a bad value raises
:class:`~pyjama_tools.core.errors.ParameterError` naming parameter, value and what is
allowed), so a bad value fails before any work starts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from pyjama_tools.core.errors import ParameterError
from pyjama_tools.core.registry import Registry
from mirfeat.features.errors import BadAudioError
from mirfeat.features.torch_variant import TorchVariant


@dataclass(frozen=True)
class FeatureValue:
    """One file's feature.

    Attributes
    ----------
    value : np.ndarray
        float32 array of shape (C, F, T): channels (e.g. harmonics), frequency bins, frames.
        The waveform is (1, 1, T) with T samples.
    time_sec : np.ndarray
        float64 array (T,): time of each frame's centre in seconds.
    frequency_hz : np.ndarray or None
        float64 array (F,): centre frequency of each bin in Hz, or None without a frequency axis.
    """

    value: np.ndarray
    time_sec: np.ndarray
    frequency_hz: np.ndarray | None


@dataclass(frozen=True)
class FeatureParams:
    """Base of every feature's parameters (frozen; subclasses validate in ``__post_init__``).

    ``REVISION`` counts changes of a feature's code that change its values for the same
    parameters; it enters :meth:`hash`, so a cache computed by older code is never taken for
    a current one.
    """

    REVISION: ClassVar[int] = 0

    def to_dict(self) -> dict[str, Any]:
        """All parameters after defaults, JSON-serialisable (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def to_json(self) -> str:
        """Canonical JSON (sorted keys) of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def hash(self) -> str:
        """A short stable hash of the canonical JSON and :attr:`REVISION` (16 hex digits)."""
        text = self.to_json() if not self.REVISION else f"{self.to_json()}#revision={self.REVISION}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class Feature:
    """Base class of a feature; subclasses set ``name``, ``Params`` and implement ``compute``."""

    name: ClassVar[str]
    Params: ClassVar[type[FeatureParams]]
    #: how ``mirfeat show`` draws the values: ``"linear"`` (as stored) or ``"decibels"`` (a magnitude)
    display: ClassVar[str] = "linear"

    def __init__(self, params: FeatureParams | None = None):
        self.params = params if params is not None else self.Params()

    def compute(self, audio: np.ndarray, sr: int) -> FeatureValue:  # pragma: no cover - abstract
        """Compute the feature of a 1-D float waveform ``audio`` sampled at ``sr`` Hz."""
        raise NotImplementedError

    def check_sample_rate(self, sr: int) -> None:
        """Raise :class:`ParameterError` when the params are impossible at ``sr`` Hz.

        The default only requires a positive rate; features with more to check (Nyquist, empty
        bands) extend it and call this first.
        """
        check_sample_rate_value(sr, self.name)

    def min_samples(self) -> int:
        """The shortest waveform (samples) the feature accepts, e.g. one frame (default 1)."""
        return 1

    def compute_torch(self, audio, sr: float, device: str = "cpu"):
        """Batched torch computation; this feature has none (a feature with a torch variant takes the
        :class:`~mirfeat.features.torch_variant.TorchVariant` mixin)."""
        raise no_torch_backend(self.name)

    def torch_function(self):
        """The bound batched torch computation of the feature (``torch_value``); this feature has none."""
        raise no_torch_backend(self.name)


#: feature name → :class:`Feature` subclass
FEATURES: Registry[type[Feature]] = Registry("feature", ParameterError)


def register_feature(cls: type[Feature]) -> type[Feature]:
    """Class decorator: register a :class:`Feature` subclass under ``cls.name``."""
    return FEATURES.add(cls.name, cls)


def feature_names() -> list[str]:
    """Names of every registered feature, sorted."""
    return FEATURES.names()


def get_feature_class(name: str) -> type[Feature]:
    """The registered feature class called ``name``; unknown names list the closest known ones."""
    return FEATURES.lookup(name)


def torch_feature_names() -> list[str]:
    """Names of the registered features that have a torch variant (:class:`TorchVariant`), sorted."""
    return [name for name in FEATURES.names() if issubclass(FEATURES[name], TorchVariant)]


def no_torch_backend(name: str) -> ParameterError:
    """The one-line error of a torch computation asked of feature ``name``, which has no torch variant."""
    return ParameterError(f"{name}: no torch backend; features with one: {', '.join(torch_feature_names())}")




def check_audio(audio: np.ndarray, feature: str, min_samples: int = 1) -> np.ndarray:
    """Validate a waveform and return it as a contiguous 1-D float32 array.

    Parameters
    ----------
    audio : np.ndarray
        The waveform, shape (N,), floating point.
    feature : str
        Name of the feature asking (used in the message).
    min_samples : int
        The fewest samples the feature can analyse (e.g. one frame).

    Raises
    ------
    BadAudioError
        When the array is not 1-D, not floating point, shorter than ``min_samples`` or holds NaN/inf.
    """
    array = np.asarray(audio)
    if array.ndim != 1:
        raise BadAudioError(f"{feature}: audio must be a 1-D waveform, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise BadAudioError(f"{feature}: audio must be floating point, got dtype {array.dtype}")
    if array.size == 0:
        raise BadAudioError(f"{feature}: audio is empty (0 samples)")
    if array.size < min_samples:
        raise BadAudioError(
            f"{feature}: audio has {array.size} samples, shorter than one frame ({min_samples} samples)"
        )
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise BadAudioError(f"{feature}: audio holds {bad} NaN/inf samples")
    return array


def check_sample_rate_value(sr: float, feature: str) -> None:
    """Raise :class:`ParameterError` unless ``sr`` is a positive finite number of Hz."""
    if isinstance(sr, bool) or not isinstance(sr, (int, float, np.integer, np.floating)) or not np.isfinite(sr) or sr <= 0:
        raise ParameterError(f"{feature}: sample rate must be a positive number of Hz, got {sr!r}")
