"""Feature caches: build one from an audio store (parallel, resumable, atomic) and read it back.

>>> from mirfeat.cache import build_cache, FeatureCache
>>> report = build_cache("gtzan_audio.hdf5", "gtzan_lms.hdf5", "lms", jobs=2)
>>> FeatureCache(report.path).read("blues+++blues.00000.wav", 0, 64)    # (1, 128, 64) float32

Modules, one job each:

- :mod:`~mirfeat.cache.build`: :func:`build_cache`, :func:`ensure_cache`, naming and feature configs;
- :mod:`~mirfeat.cache.backends`: the execution backends (``serial``, ``loky``, ``dask``), a registry;
- :mod:`~mirfeat.cache.work`: one key's job, as a worker runs it;
- :mod:`~mirfeat.cache.journal`: the crash-safe journal of shards a build resumes from;
- :mod:`~mirfeat.cache.fingerprint`: which audio store (and which audio) a cache was built from.

The file layout itself (groups, root attributes, the reader :class:`FeatureCache`) is
:mod:`pyjama_tools.feature_file`, shared with the converters that write feature files.
"""

from __future__ import annotations

import importlib
from typing import Any

from pyjama_tools.feature_file import FeatureFile as FeatureCache

__all__ = [
    "CacheReport",
    "FeatureCache",
    "build_cache",
    "default_cache_path",
    "ensure_cache",
    "load_feature_config",
]


def __getattr__(name: str) -> Any:
    """The names of :mod:`mirfeat.cache.build`, imported on first use: building needs the features
    (librosa, scipy), reading a cache or its journal does not."""
    if name.startswith("__"):
        raise AttributeError(name)
    build = importlib.import_module("mirfeat.cache.build")
    try:
        value = getattr(build, name)
    except AttributeError:
        raise AttributeError(f"module 'mirfeat.cache' has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
