"""``hcqt``: harmonic CQT, the ``cqt`` feature with the tutorial's harmonics (0.5, 1, 2, 3, 4, 5).

Value (6, 360, T); channel c is the CQT whose grid starts at ``harmonics[c] × fmin``, so bin f of
every channel is aligned with harmonic h of the h = 1 grid's bin f (the frequency axis).
"""

from __future__ import annotations

from dataclasses import dataclass

from mirfeat.features.base import register_feature
from mirfeat.features.cqt import CQT, CQTParams


@dataclass(frozen=True)
class HCQTParams(CQTParams):
    """:class:`~mirfeat.features.cqt.CQTParams` with the tutorial's six harmonics by default."""

    harmonics: tuple[float, ...] = (0.5, 1.0, 2.0, 3.0, 4.0, 5.0)

    feature_name = "hcqt"


@register_feature
class HCQT(CQT):
    """Harmonic CQT; value (len(harmonics), n_bins, T) float32."""

    name = "hcqt"
    Params = HCQTParams
