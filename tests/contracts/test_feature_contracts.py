"""Contract of every registered feature (``mirfeat.features``).

Parametrized over the feature registry, so a new feature module is under test once it registers:
at its default parameters it computes on 1 s of synthetic audio a finite float32 (C, F, T) value
with the axes it declares (``time_sec`` one time per frame, ``frequency_hz`` one frequency per bin,
``axes()`` and ``1 + N // hop_length`` frames where the feature has them); its parameters
round-trip through ``build_feature`` and reject an unknown name in one line; a misspelt feature
name gets a suggestion; its ``display`` is one ``mirfeat show`` knows; and where it has a torch
variant, the torch value matches the numpy one.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import torch

from mirfeat import features
from mirfeat.features import build_feature, get_feature_class
from pyjama_tools.core.errors import MirError

SR = 22050
NAMES = sorted(name for name, _ in features.FEATURES.items())
#: relative Frobenius error allowed between the torch and numpy values (tests/mirfeat/test_features_torch.py);
#: a feature not listed gets the loosest one
TORCH_TOLERANCE = {"waveform": 0.0, "stft": 1e-4, "lms": 1e-4, "cqt": 1e-3, "hcqt": 1e-3}
DEFAULT_TORCH_TOLERANCE = 1e-3


def signal(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """Harmonic tones over a little noise, float32, peak 1 (the torch backend's test signal idea)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    y = 0.01 * rng.standard_normal(t.size)
    for f0 in rng.uniform(80.0, 1000.0, 3):
        for k in range(1, 4):
            y += 0.2 / k * np.sin(2 * np.pi * k * f0 * t)
    return (y / np.abs(y).max()).astype(np.float32)


@pytest.fixture(scope="module")
def audio() -> np.ndarray:
    return signal()


@pytest.fixture(scope="module")
def computed(audio):
    """name → (feature at its defaults, its value on ``audio``), computed once per module."""
    cache = {}

    def get(name: str):
        if name not in cache:
            feature = get_feature_class(name)()
            cache[name] = feature, feature.compute(audio, SR)
        return cache[name]

    return get


def relative_error(estimate: np.ndarray, reference: np.ndarray) -> float:
    norm = np.linalg.norm(reference)
    return float(np.linalg.norm(estimate - reference) / norm) if norm else float(np.linalg.norm(estimate))


def test_the_registry_holds_features():
    assert NAMES, "no feature registered"


@pytest.mark.parametrize("name", NAMES)
def test_computes_one_second_with_the_axes_it_declares(name, audio, computed):
    feature, result = computed(name)
    assert feature.name == name
    value = result.value
    assert isinstance(value, np.ndarray) and value.dtype == np.float32, f"{name}: value dtype {value.dtype}"
    assert value.ndim == 3 and min(value.shape) >= 1, f"{name}: value shape {value.shape}, expected (C, F, T)"
    assert np.isfinite(value).all(), f"{name}: non-finite values"
    channels, bins, frames = value.shape
    # time axis: one centre time per frame, increasing, inside the audio (a centred frame may end past it)
    time_sec = np.asarray(result.time_sec)
    assert time_sec.shape == (frames,) and time_sec.dtype == np.float64
    assert np.isfinite(time_sec).all() and time_sec[0] >= 0 and time_sec[-1] <= audio.size / SR
    assert frames == 1 or (np.diff(time_sec) > 0).all()
    hop = getattr(feature.params, "hop_length", None)
    if hop is not None:
        assert frames == 1 + audio.size // hop, f"{name}: {frames} frames for hop_length {hop}"
    # frequency axis: one frequency per bin, increasing, from 0 Hz to Nyquist
    if result.frequency_hz is not None:
        frequency_hz = np.asarray(result.frequency_hz)
        assert frequency_hz.shape == (bins,) and frequency_hz.dtype == np.float64
        assert (frequency_hz >= 0).all() and frequency_hz[-1] <= SR / 2
        assert bins == 1 or (np.diff(frequency_hz) > 0).all()
    if hasattr(feature, "axes"):  # the declared axes, without computing
        declared_time, declared_frequency = feature.axes(audio.size, SR)
        np.testing.assert_array_equal(declared_time, time_sec)
        if declared_frequency is None:
            assert result.frequency_hz is None
        else:
            np.testing.assert_array_equal(declared_frequency, result.frequency_hz)
    assert audio.size >= feature.min_samples() >= 1


@pytest.mark.parametrize("name", NAMES)
def test_params_are_a_frozen_dataclass_that_round_trips(name):
    feature_class = get_feature_class(name)
    params = feature_class.Params()
    assert dataclasses.is_dataclass(params)
    fields = [field.name for field in dataclasses.fields(params)]
    if fields:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(params, fields[0], getattr(params, fields[0]))
    again = build_feature(name, params.to_dict())
    assert again.params == params and again.params.hash() == params.hash()
    # every value also arrives as a string (--param KEY=VALUE on the command line)
    as_text = {key: ",".join(map(str, value)) if isinstance(value, list) else str(value)
               for key, value in params.to_dict().items()}
    assert build_feature(name, as_text).params.hash() == params.hash()


@pytest.mark.parametrize("name", NAMES)
def test_an_unknown_parameter_is_one_line(name):
    with pytest.raises(MirError) as info:
        build_feature(name, {"no_such_parameter": 1})
    message = str(info.value)
    assert "\n" not in message and name in message and "no_such_parameter" in message
    fields = [field.name for field in dataclasses.fields(get_feature_class(name).Params)]
    if fields:  # a slip of one letter is named with the parameter meant
        with pytest.raises(MirError, match=f"did you mean {fields[0]}"):
            build_feature(name, {fields[0] + "x": 1})


@pytest.mark.parametrize("name", NAMES)
def test_a_misspelt_feature_name_gets_a_suggestion(name):
    with pytest.raises(MirError) as info:
        get_feature_class(name + name[-1])
    message = str(info.value)
    assert "\n" not in message and re.search(rf"did you mean [^;]*\b{re.escape(name)}\b", message), message


@pytest.mark.parametrize("name", NAMES)
def test_its_display_is_one_mirfeat_show_knows(name, audio, computed):
    from mirfeat.show import DISPLAYS, display_of

    assert get_feature_class(name).display in DISPLAYS
    _, value = computed(name)
    shown = display_of(name)(value.value[0])
    assert shown.shape == value.value[0].shape and np.isfinite(shown).all()


def _torch_value(feature, batch: np.ndarray):
    """The torch variant's value on ``batch``, or None when the feature has no torch variant."""
    try:
        return feature.compute_torch(torch.as_tensor(batch), SR, device="cpu")
    except MirError as error:
        if "no torch backend" in str(error):
            return None
        raise


@pytest.mark.parametrize("name", NAMES)
def test_the_torch_variant_matches_numpy(name, audio, computed):
    feature, result = computed(name)
    batch = np.stack([audio, signal(seed=1)])
    value = _torch_value(feature, batch)
    if value is None:
        pytest.skip(f"{name} has no torch variant")
    assert isinstance(value, torch.Tensor) and value.dtype == torch.float32
    reference = np.stack([result.value, feature.compute(batch[1], SR).value])
    assert tuple(value.shape) == reference.shape
    tolerance = TORCH_TOLERANCE.get(name, DEFAULT_TORCH_TOLERANCE)
    error = relative_error(value.numpy(), reference)
    assert error <= tolerance, f"{name}: torch vs numpy relative error {error:.2e} > {tolerance:.0e}"
