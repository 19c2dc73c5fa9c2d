"""mirfeat.features: shapes, axes, equality with the tutorial's librosa recipes, bad params and bad audio."""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np
import pytest

from conftest import fixture_path
from mirfeat.features import (
    BadAudioError,
    FeatureParams,
    build_feature,
    coerce_params,
    feature_names,
)
from pyjama_tools.core.errors import MirError, ParameterError

SR = 22050
HARMONICS = (0.5, 1, 2, 3, 4, 5)


def relative_error(estimate: np.ndarray, reference: np.ndarray) -> float:
    return float(np.linalg.norm(estimate - reference) / np.linalg.norm(reference))


def tone(frequency: float, seconds: float = 2.0, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def polyphony(seconds: float = 4.0, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Harmonic notes at random pitches/onsets plus noise, length a multiple of 4096 samples."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr) // 4096 * 4096
    t = np.arange(n) / sr
    y = 0.01 * rng.standard_normal(n)
    for _ in range(12):
        f0 = 40.0 * 2 ** (rng.integers(0, 60) / 12)
        start = int(rng.integers(0, n - sr // 2))
        length = min(n - start, int(rng.uniform(0.3, 1.5) * sr))
        for k in range(1, 8):
            if k * f0 < 0.45 * sr:
                envelope = np.exp(-np.arange(length) / (0.4 * sr))
                y[start : start + length] += 0.2 / k * envelope * np.sin(2 * np.pi * k * f0 * t[:length])
    return (y / np.abs(y).max()).astype(np.float32)


def recipe_hcqt(y: np.ndarray, sr: int, harmonics=HARMONICS, bins_per_octave: int = 60, n_bins: int = 360) -> np.ndarray:
    """The tutorial's HCQT: one librosa.cqt per harmonic, stacked."""
    return np.stack([
        np.abs(librosa.cqt(y=y, sr=sr, hop_length=512, fmin=h * 32.7, n_bins=n_bins, bins_per_octave=bins_per_octave))
        for h in harmonics
    ])


def recipe_lms(y: np.ndarray, sr: int) -> np.ndarray:
    """The tutorial's log-mel spectrogram."""
    return np.log(1 + 10000 * librosa.feature.melspectrogram(y=y, sr=sr, n_fft=2048, hop_length=1024, n_mels=128))[None]


@pytest.fixture(scope="module")
def music() -> np.ndarray:
    path = fixture_path("gtzan_genre", "gtzan_genre", "genres", "country", "country.00000.wav")
    y, sr = librosa.load(path, sr=None, mono=True, duration=10.0)
    assert sr == SR
    return y[: len(y) // 4096 * 4096].astype(np.float32)


def test_registry_lists_every_feature():
    assert {"waveform", "lms", "cqt", "hcqt", "stft", "chroma"} <= set(feature_names())


# --- shapes and axes ---------------------------------------------------------------------------------

def test_waveform_is_the_samples_with_sample_times():
    y = tone(440.0, 0.5)
    out = build_feature("waveform").compute(y, SR)
    assert out.value.shape == (1, 1, y.size) and out.value.dtype == np.float32
    np.testing.assert_array_equal(out.value[0, 0], y)
    np.testing.assert_allclose(out.time_sec[[0, 1, -1]], [0.0, 1 / SR, (y.size - 1) / SR])
    assert out.frequency_hz is None


def test_lms_shape_and_axes():
    y = tone(440.0, 3.0)
    out = build_feature("lms").compute(y, SR)
    n_frames = 1 + y.size // 1024
    assert out.value.shape == (1, 128, n_frames) and out.value.dtype == np.float32
    np.testing.assert_allclose(out.time_sec, np.arange(n_frames) * 1024 / SR)
    assert out.frequency_hz.shape == (128,) and np.all(np.diff(out.frequency_hz) > 0)
    assert 0 < out.frequency_hz[0] < out.frequency_hz[-1] < SR / 2
    # the loudest band is the one around 440 Hz
    peak = out.frequency_hz[out.value[0, :, 5:-5].mean(axis=1).argmax()]
    assert 380 < peak < 500


def test_cqt_axes_and_tone_lands_on_its_bin():
    y = tone(440.0, 2.0)
    out = build_feature("cqt").compute(y, SR)
    assert out.value.shape == (1, 360, 1 + y.size // 512)
    np.testing.assert_allclose(out.frequency_hz[0], 32.7)
    np.testing.assert_allclose(out.frequency_hz[1:] / out.frequency_hz[:-1], 2 ** (1 / 60))
    np.testing.assert_allclose(out.time_sec[:3], np.array([0, 512, 1024]) / SR)
    assert out.value[0, :, 10:-10].mean(axis=1).argmax() == round(60 * np.log2(440 / 32.7))


def test_hcqt_channel_h_peaks_where_h_times_the_bin_is_the_tone():
    y = tone(440.0, 2.0)
    out = build_feature("hcqt").compute(y, SR)
    assert out.value.shape == (6, 360, 1 + y.size // 512)
    np.testing.assert_allclose(out.frequency_hz, librosa.cqt_frequencies(n_bins=360, fmin=32.7, bins_per_octave=60))
    for channel, harmonic in enumerate(HARMONICS):
        expected = round(60 * np.log2(440 / (harmonic * 32.7)))
        assert abs(int(out.value[channel, :, 10:-10].mean(axis=1).argmax()) - expected) <= 1, harmonic


def test_chord_cqt_is_cqt_with_one_bin_per_semitone():
    y = polyphony(3.0)
    out = build_feature("cqt", {"bins_per_semitone": 1}).compute(y, SR)
    assert out.value.shape == (1, 72, 1 + y.size // 512)
    reference = recipe_hcqt(y, SR, harmonics=(1,), bins_per_octave=12, n_bins=72)
    assert relative_error(out.value, reference) <= 0.02


def test_stft_shape_axes_and_values():
    y = polyphony(2.0)
    out = build_feature("stft").compute(y, SR)
    assert out.value.shape == (1, 1025, 1 + y.size // 1024)
    np.testing.assert_allclose(out.frequency_hz, librosa.fft_frequencies(sr=SR, n_fft=2048))
    reference = np.abs(librosa.stft(y, n_fft=2048, hop_length=1024))
    assert relative_error(out.value[0], reference) <= 1e-5


def test_chroma_of_an_a_is_pitch_class_9():
    out = build_feature("chroma").compute(tone(440.0, 2.0), SR)
    assert out.value.shape == (1, 12, 1 + int(2.0 * SR) // 512) and out.frequency_hz is None
    assert np.bincount(out.value[0, :, 5:-5].argmax(axis=0)).argmax() == 9


# --- equality with the tutorial's recipes ------------------------------------------------------------

def test_hcqt_equals_per_harmonic_librosa_recipe_on_tones():
    y = polyphony(4.0)
    ours = build_feature("hcqt").compute(y, SR).value
    reference = recipe_hcqt(y, SR)
    assert ours.shape == reference.shape
    for channel, harmonic in enumerate(HARMONICS):
        assert relative_error(ours[channel], reference[channel]) <= 0.02, harmonic


def test_lms_equals_librosa_recipe_on_tones():
    y = polyphony(4.0, seed=3)
    ours = build_feature("lms").compute(y, SR).value
    reference = recipe_lms(y, SR)
    assert ours.shape == reference.shape
    assert relative_error(ours, reference) <= 1e-3


def test_hcqt_and_lms_equal_the_recipes_on_real_music(music):
    hcqt = build_feature("hcqt").compute(music, SR).value
    reference = recipe_hcqt(music, SR)
    assert hcqt.shape == reference.shape
    for channel, harmonic in enumerate(HARMONICS):
        assert relative_error(hcqt[channel], reference[channel]) <= 0.02, harmonic
    lms = build_feature("lms").compute(music, SR).value
    assert relative_error(lms, recipe_lms(music, SR)) <= 1e-3


def test_other_sample_rates_and_hops_match_librosa():
    sr = 16000
    y = librosa.resample(polyphony(3.0), orig_sr=SR, target_sr=sr)
    params = {"harmonics": "1,2,3", "hop_length": "256", "n_octaves": "5", "bins_per_semitone": "3"}
    ours = build_feature("hcqt", params).compute(y, sr).value
    reference = np.stack([
        np.abs(librosa.cqt(y=y, sr=sr, hop_length=256, fmin=h * 32.7, n_bins=180, bins_per_octave=36))
        for h in (1, 2, 3)
    ])
    assert ours.shape == reference.shape
    assert relative_error(ours, reference) <= 0.02


# --- parameters --------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "name, params, named",
    [
        ("hcqt", {"harmonics": "0,1"}, "harmonics"),
        ("hcqt", {"harmonics": "1,1"}, "harmonics"),
        ("hcqt", {"harmonics": "a,b"}, "harmonics"),
        ("hcqt", {"harmonics": ""}, "harmonics"),
        ("cqt", {"fmin": -3}, "fmin"),
        ("cqt", {"fmin": "nan"}, "fmin"),
        ("cqt", {"bins_per_semitone": 0}, "bins_per_semitone"),
        ("cqt", {"n_octaves": "2.5"}, "n_octaves"),
        ("cqt", {"hop_length": True}, "hop_length"),
        ("lms", {"n_mels": -1}, "n_mels"),
        ("lms", {"n_fft": "big"}, "n_fft"),
        ("lms", {"compression": -1.0}, "compression"),
        ("stft", {"window": "triangle-ish"}, "window"),
        ("stft", {"hop_length": 0}, "hop_length"),
        ("chroma", {"bins_per_octave": 40}, "bins_per_octave"),
        ("hcqt", {"hop": 256}, "hop"),
    ],
)
def test_bad_parameters_name_the_parameter(name, params, named):
    with pytest.raises(ParameterError) as error:
        build_feature(name, params)
    message = str(error.value)
    assert name in message and named in message and "\n" not in message


def test_unknown_parameter_suggests_the_right_one():
    with pytest.raises(ParameterError, match="did you mean hop_length"):
        build_feature("lms", {"hop": "512"})


@pytest.mark.parametrize("params", [["n_mels", 64], "n_mels=64"])
def test_parameters_that_are_not_a_mapping_are_named(params):
    """A YAML list or a KEY=VALUE string where a mapping belongs (a config mistake): one line, no ValueError."""
    with pytest.raises(ParameterError, match=r"^lms: parameters must be a mapping of name: value, got (list|str)"):
        build_feature("lms", params)


def test_unknown_feature_name():
    with pytest.raises(ParameterError, match=r"unknown feature 'hcq'.*did you mean.*hcqt"):
        build_feature("hcq")


def test_string_parameters_are_coerced_to_field_types():
    from_strings = build_feature("hcqt", {"harmonics": "0.5,1,2", "hop_length": "256", "fmin": "30"})
    from_objects = build_feature("hcqt", {"harmonics": [0.5, 1, 2], "hop_length": 256, "fmin": 30})
    assert from_strings.params.harmonics == (0.5, 1.0, 2.0)
    assert from_strings.params.hop_length == 256 and isinstance(from_strings.params.hop_length, int)
    assert from_strings.params.fmin == 30.0 and isinstance(from_strings.params.fmin, float)
    assert from_strings.params == from_objects.params
    assert from_strings.params.hash() == from_objects.params.hash()
    assert from_strings.params.hash() != build_feature("hcqt").params.hash()
    assert build_feature("lms", {"compression": "100"}).params.compression == 100.0
    assert build_feature("hcqt").params.to_dict()["harmonics"] == [0.5, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_bool_and_str_coercion():
    @dataclass(frozen=True)
    class Demo(FeatureParams):
        flag: bool = False
        label: str = "x"

    assert coerce_params("demo", Demo, {"flag": "yes", "label": "y"}) == Demo(True, "y")
    assert coerce_params("demo", Demo, {"flag": "0"}).flag is False
    with pytest.raises(ParameterError, match="demo: parameter flag='maybe'"):
        coerce_params("demo", Demo, {"flag": "maybe"})


def test_compression_factor_is_a_parameter():
    y = polyphony(2.0)
    mild = build_feature("lms", {"compression": 10}).compute(y, SR).value
    linear = build_feature("lms", {"compression": 0}).compute(y, SR).value
    np.testing.assert_allclose(mild, np.log1p(10 * linear), rtol=1e-4, atol=1e-6)


# --- sample rate and audio checks ---------------------------------------------------------------------

def test_nyquist_check_names_harmonic_frequency_and_sample_rate():
    feature = build_feature("hcqt")
    feature.check_sample_rate(22050)
    with pytest.raises(ParameterError) as error:
        feature.check_sample_rate(16000)
    message = str(error.value)
    assert "harmonic 4" in message and "8275.0 Hz" in message and "16000" in message
    with pytest.raises(ParameterError, match="harmonic 4"):
        feature.compute(tone(440.0, 1.0, sr=16000), 16000)
    with pytest.raises(ParameterError, match="chroma"):
        build_feature("chroma", {"n_octaves": 9}).check_sample_rate(22050)
    with pytest.raises(ParameterError, match="sample rate"):
        build_feature("lms").compute(tone(440.0), -1)


def test_too_many_mel_bands_for_the_fft_is_reported():
    with pytest.raises(ParameterError, match="n_mels=512"):
        build_feature("lms", {"n_mels": 512, "n_fft": 256}).check_sample_rate(SR)


@pytest.mark.parametrize("name", ["waveform", "lms", "cqt", "hcqt", "stft", "chroma"])
@pytest.mark.parametrize(
    "audio, reason",
    [
        (np.zeros(0, dtype=np.float32), "empty"),
        (np.full(SR, np.nan, dtype=np.float32), "NaN"),
        (np.zeros((2, SR), dtype=np.float32), "1-D"),
        (np.zeros(SR, dtype=np.int16), "floating point"),
    ],
)
def test_bad_audio_raises_bad_audio_error(name, audio, reason):
    with pytest.raises(BadAudioError, match=reason) as error:
        build_feature(name).compute(audio, SR)
    assert isinstance(error.value, MirError) and str(error.value).startswith(name)


@pytest.mark.parametrize("name, n_samples", [("lms", 2047), ("stft", 100), ("cqt", 511), ("hcqt", 10), ("chroma", 300)])
def test_audio_shorter_than_one_frame(name, n_samples):
    with pytest.raises(BadAudioError, match="shorter than one frame"):
        build_feature(name).compute(np.zeros(n_samples, dtype=np.float32), SR)


@pytest.mark.parametrize("name", ["lms", "cqt", "hcqt", "stft", "chroma"])
def test_exactly_one_frame_of_audio_works(name):
    feature = build_feature(name)
    out = feature.compute(tone(440.0, 1.0)[: feature.min_samples()], SR)
    assert out.value.shape[-1] == out.time_sec.size >= 1 and np.isfinite(out.value).all()
