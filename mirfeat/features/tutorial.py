"""The tutorial's feature keys: a ``feature:`` section of its ``config_*.yaml`` → our parameters.

The tutorial writes the feature parameters inline, under the names its ``feature.py`` reads:

- ``lms``: ``librosa.feature.melspectrogram(n_mels=nb_band, win_length=L_n, hop_length=STEP_n)``
  with librosa's ``n_fft=2048``, so ``L_n`` is the window length (``win_length``), not the FFT size;
- ``hcqt`` (and ``cqt``): for each ``h`` of ``h_l``, ``librosa.cqt(fmin=h * fmin, hop_length,
  bins_per_octave=12 * bins_per_semitone, n_bins=n_octaves * bins_per_octave)``; ``nb_band``
  restates the bin count (72 for the chord CQT), so it is checked, not passed on;
- ``waveform``: no parameter.

Every inline key is honoured (renamed to our parameter, or checked when it restates one) or refused
by name; none is ignored.  ``patch_L_frame`` / ``patch_STEP_frame`` (the patch stage) and
``cache`` / ``in_memory`` (``mirmodels``) are section keys, not feature parameters.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mirfeat.features.base import FeatureParams, get_feature_class
from pyjama_tools.core.errors import ParameterError
from pyjama_tools.core.registry import did_you_mean

__all__ = ["RENAMES", "RESTATED", "SECTION_KEYS", "feature_params"]

#: Keys of a ``feature:`` section that are not feature parameters (who reads them: the section's
#: own ``type``/``name``/``params``; the patch stage; ``mirmodels``' cache location and loading).
SECTION_KEYS = ("type", "name", "params", "patch_L_frame", "patch_STEP_frame", "cache", "in_memory")

#: Tutorial key → our parameter name, per feature type (keys spelled as ours need no entry).
RENAMES: dict[str, dict[str, str]] = {
    "lms": {"nb_band": "n_mels", "L_n": "win_length", "STEP_n": "hop_length"},
    "cqt": {"h_l": "harmonics"},
    "hcqt": {"h_l": "harmonics"},
}


@dataclass(frozen=True)
class Restated:
    """A tutorial key that restates a value derived from the other parameters.

    Attributes
    ----------
    what : str
        How the value is derived (said in the error message).
    value : callable
        The derived value, from the built parameters.
    """

    what: str
    value: Callable[[FeatureParams], Any]


def _n_bins(params: FeatureParams) -> int:
    return int(params.n_bins)


#: Tutorial keys checked against the built parameters, per feature type.
RESTATED: dict[str, dict[str, Restated]] = {
    "cqt": {"nb_band": Restated("12 × bins_per_semitone × n_octaves", _n_bins)},
    "hcqt": {"nb_band": Restated("12 × bins_per_semitone × n_octaves", _n_bins)},
}


def _owner_hint(key: str, feature_type: str) -> str:
    """' (it is lms's win_length)' when ``key`` is a tutorial key of another feature type."""
    owners = [f"{other}'s {names[key]}" for other, names in RENAMES.items() if key in names and other != feature_type]
    return f" (it is {' and '.join(owners)})" if owners else ""


def feature_params(feature_type: str, inline: Mapping[str, Any], params: Mapping[str, Any] | None = None,
                   where: str = "feature") -> dict[str, Any]:
    """Our parameters of ``feature_type`` from a section's inline tutorial keys and its ``params``.

    Parameters
    ----------
    feature_type : str
        The section's ``type`` (a registered feature name).
    inline : mapping
        The section's keys other than :data:`SECTION_KEYS` (``nb_band``, ``L_n``, ``h_l``, ``fmin`` ...).
    params : mapping, optional
        The section's ``params:`` mapping (our names); a parameter may be given once only.
    where : str
        The section's YAML path, for messages.

    Returns
    -------
    dict
        Parameter name → value (raw YAML values; :func:`mirfeat.features.build_feature` coerces them).

    Raises
    ------
    ParameterError
        One line naming ``<where>.<key>``: a key that is no parameter of the feature, one given twice
        (inline and in ``params``), or a restated value that does not match (``nb_band: 72`` with 5
        bins per semitone).
    """
    feature_class = get_feature_class(feature_type)
    known = {item.name for item in dataclasses.fields(feature_class.Params)}
    renames = RENAMES.get(feature_type, {})
    restated = RESTATED.get(feature_type, {})
    out = dict(params or {})
    checks: dict[str, Any] = {}
    for key, value in inline.items():
        key = str(key)
        if key in restated:
            checks[key] = value
            continue
        name = renames.get(key, key)
        if name not in known:
            allowed = sorted(known | set(renames) | set(restated))
            hint = _owner_hint(key, feature_type) or did_you_mean(key, allowed, n=1)
            raise ParameterError(f"{where}.{key}: unknown key{hint}; feature {feature_type!r} takes: "
                                 f"{', '.join(allowed) or 'no parameter'}")
        if name in out:
            spelled = f"{key} ({name})" if name != key else key
            raise ParameterError(f"{where}.{key}: {spelled} is given twice, inline and in {where}.params; keep one")
        out[name] = value
    if checks:
        # imported here: mirfeat.features imports the feature modules before this one is used
        from mirfeat.features import coerce_params

        built = coerce_params(feature_type, feature_class.Params, out)
        for key, value in checks.items():
            expected = restated[key].value(built)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != expected:
                raise ParameterError(f"{where}.{key}: {value!r} does not match {restated[key].what} = {expected} "
                                     f"(remove it, or change the parameters it follows from)")
    return out
