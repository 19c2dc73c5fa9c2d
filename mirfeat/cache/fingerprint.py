"""The source fingerprint of a feature cache: which audio store (and which audio) it was built from.

The layout of the cache file itself is :mod:`pyjama_tools.feature_file` (written and read there).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

#: Samples hashed per key (from the middle of each waveform) for the content part of the fingerprint.
CONTENT_SAMPLES = 256


def content_sample(dataset: h5py.Dataset) -> bytes:
    """The ``CONTENT_SAMPLES`` samples in the middle of an audio dataset (last axis = time), as bytes."""
    frames = int(dataset.shape[-1]) if dataset.ndim else 0
    start = max(0, frames // 2 - CONTENT_SAMPLES // 2)
    return np.ascontiguousarray(dataset[..., start:start + CONTENT_SAMPLES], dtype=np.float32).tobytes()


def source_fingerprint(audio_path: str | os.PathLike, keys_and_shapes: list[tuple[str, tuple, int]],
                       content_sha1: str | None = None) -> dict[str, Any]:
    """A cheap fingerprint of an audio store: name, size, mtime, a hash of its layout and of samples.

    Reading every waveform would cost as much as computing the features, so the fingerprint
    hashes the layout (each key's name, array shape and sample rate) and, in ``content_sha1``,
    :data:`CONTENT_SAMPLES` samples from the middle of each key (see :func:`content_sample`):
    a store reconverted with other audio but the same layout and size (another resampler,
    gain, downmix) no longer passes for the old one.  :func:`same_source` compares name, size,
    layout hash and content hash; the mtime is informational (copying a store keeps its caches
    valid).

    Parameters
    ----------
    audio_path : path of the ``*_audio.hdf5`` store
    keys_and_shapes : list of (key, shape, sample_rate) for every key of the store
    content_sha1 : hex SHA-1 of the content samples of every key, in layout order (None: not recorded)

    Returns
    -------
    dict
        ``{"file", "size", "mtime", "layout_sha1", "keys"}`` and ``"content_sha1"`` when given
        (JSON-serialisable).
    """
    path = Path(audio_path)
    stat = path.stat()
    digest = hashlib.sha1()
    for key, shape, rate in keys_and_shapes:
        digest.update(f"{key}\t{tuple(int(s) for s in shape)}\t{int(rate)}\n".encode())
    return {
        "file": path.name,
        "size": int(stat.st_size),
        "mtime": round(stat.st_mtime, 3),
        "layout_sha1": digest.hexdigest(),
        "keys": len(keys_and_shapes),
        **({"content_sha1": content_sha1} if content_sha1 else {}),
    }


def same_source(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two fingerprints describe the same audio store (name, size, layout hash, and
    content hash when both record one: caches written before it was recorded stay valid)."""
    if "content_sha1" in a and "content_sha1" in b and a["content_sha1"] != b["content_sha1"]:
        return False
    return all(a.get(k) == b.get(k) for k in ("file", "size", "layout_sha1"))
