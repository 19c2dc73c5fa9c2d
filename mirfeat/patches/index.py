"""The patch grid: where the patches of a file start (the tutorial's rule)."""

from __future__ import annotations

import numpy as np

from mirfeat.patches.checks import positive_int
from pyjama_tools.core.errors import ParameterError


def patch_starts(num_frames: int, patch_length: int, patch_hop: int) -> np.ndarray:
    """Start frame of every patch of a file: ``floor((T - L) / S) + 1`` starts, none when T < L.

    Parameters
    ----------
    num_frames : int
        T, frames in the file.
    patch_length : int
        L, frames per patch.
    patch_hop : int
        S, frames between two patch starts.

    Returns
    -------
    np.ndarray (N,) int64
    """
    patch_length = positive_int(patch_length, "patch_length")
    patch_hop = positive_int(patch_hop, "patch_hop")
    if isinstance(num_frames, bool) or not isinstance(num_frames, (int, np.integer)) or num_frames < 0:
        raise ParameterError(f"num_frames {num_frames!r} must be an integer >= 0")
    if num_frames < patch_length:
        return np.zeros(0, dtype=np.int64)
    return np.arange((num_frames - patch_length) // patch_hop + 1, dtype=np.int64) * patch_hop
