"""The error of a waveform a feature cannot analyse (raised by the numpy and the torch backends alike)."""

from __future__ import annotations

from pyjama_tools.core.errors import MirError

__all__ = ["BadAudioError"]


class BadAudioError(MirError):
    """The waveform itself cannot be analysed (empty, not finite, too short, not 1-D).

    Raised by :meth:`Feature.compute`; the cache skips such a file and reports it by key.
    """
