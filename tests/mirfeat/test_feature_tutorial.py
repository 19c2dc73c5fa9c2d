"""The tutorial's feature keys (issue 9 item 5): every key of its config files' ``feature:`` sections
is honoured as the tutorial's feature.py reads it, or refused by name; none is ignored."""

from __future__ import annotations

import re
from pathlib import Path

import librosa
import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner
from conftest import fixture_path
from test_cache import SR, make_store, tone_mix

from mirfeat.cache import FeatureCache, load_feature_config
from mirfeat.cli import main
from mirfeat.features import build_feature
from mirfeat.features.tutorial import RENAMES, RESTATED, SECTION_KEYS, feature_params
from mirmodels.config import ConfigError, config_from_dict, load_config
from pyjama_tools.core.errors import MirError

CONFIGS = ("config_autotagging.yaml", "config_bittner.yaml", "config_chord.yaml", "config_cover.yaml",
           "config_doras.yaml")


def tutorial_file(name: str) -> Path:
    return fixture_path("tutorial", name)


def feature_variants(path: Path) -> list[dict]:
    """Every ``{'type': ...}`` of the file's feature section, the active one and the commented ones."""
    text = path.read_text(encoding="utf-8")
    section = text.split("\nfeature:", 1)[1].split("\nmodel:", 1)[0] if "\nfeature:" in text else ""
    return [yaml.safe_load(line) for line in re.findall(r"\{'type'.*\}", section)]


def tutorial_lms(y: np.ndarray, nb_band: int, L_n: int, STEP_n: int) -> np.ndarray:
    """The tutorial's f_get_lms: melspectrogram(n_mels=nb_band, win_length=L_n, hop_length=STEP_n), log(1+10000x)."""
    mel = librosa.feature.melspectrogram(y=y, sr=SR, n_mels=nb_band, win_length=L_n, hop_length=STEP_n)
    return np.log(1 + 10000 * mel)


def relative_error(estimate: np.ndarray, reference: np.ndarray) -> float:
    return float(np.linalg.norm(estimate - reference) / np.linalg.norm(reference))


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


# ----------------------------------------------------------------------------- the five files


@pytest.mark.parametrize("name", CONFIGS)
def test_every_feature_key_of_the_tutorial_files_reaches_a_parameter(name: str) -> None:
    path = tutorial_file(name)
    variants = feature_variants(path)
    if name == "config_cover.yaml":
        assert variants == [] and load_feature_config(path) == (None, {})  # feature-only pair, no section
        return
    assert variants, "every other tutorial file has a feature section"
    for section in variants:  # the active variant and the commented ones (I1/I2)
        feature_type = section["type"]
        inline = {k: v for k, v in section.items() if k not in SECTION_KEYS}
        params = feature_params(feature_type, inline)
        restated = RESTATED.get(feature_type, {})
        for key, value in inline.items():
            if key not in restated:  # restated keys are checked, see the refusals below
                assert params[RENAMES.get(feature_type, {}).get(key, key)] == value, (name, key)
        assert len(params) == len(set(inline) - set(restated))
        build_feature(feature_type, params)  # every value is allowed


@pytest.mark.parametrize("name", ["config_autotagging.yaml", "config_bittner.yaml", "config_chord.yaml",
                                  "config_doras.yaml"])
def test_mirfeat_and_mirmodels_read_the_same_parameters(name: str) -> None:
    path = tutorial_file(name)
    feature_type, params = load_feature_config(path)
    config = load_config(path)
    assert (config.feature.type, dict(config.feature.params)) == (feature_type, params)
    assert config.feature.patch_L_frame == feature_variants(path)[0]["patch_L_frame"]


def test_chord_config_caches_the_72_bin_single_harmonic_cqt(tmp_path: Path) -> None:
    store = make_store(tmp_path / "toy_audio.hdf5", count=2, seconds=2.0)
    out = tmp_path / "chord_feat.hdf5"
    result = run("cache", store, out, "--config", tutorial_file("config_chord.yaml"), "--quiet")
    assert result.exit_code == 0, result.output
    cache = FeatureCache(out)
    key = cache.keys()[0]
    value = cache.read(key)
    assert value.shape[:2] == (1, 72)  # h_l: [1], bins_per_semitone: 1 (was the 6 x 360 default)
    assert cache.params["harmonics"] == [1.0] and cache.params["bins_per_semitone"] == 1
    frequency_hz = cache.frequency_hz(key)
    assert frequency_hz[0] == pytest.approx(32.7) and frequency_hz[12] == pytest.approx(65.4)


def test_chord_cqt_equals_the_tutorial_recipe() -> None:
    y = tone_mix(3.0, [130.8, 164.8, 196.0], seed=1)
    section = feature_variants(tutorial_file("config_chord.yaml"))[0]
    params = feature_params("hcqt", {k: v for k, v in section.items() if k not in SECTION_KEYS})
    value = build_feature("hcqt", params).compute(y, SR).value
    reference = np.abs(librosa.cqt(y=y, sr=SR, hop_length=512, fmin=32.7, n_bins=72, bins_per_octave=12))
    assert value.shape == (1,) + reference.shape
    assert relative_error(value[0], reference) < 0.01


@pytest.mark.parametrize("L_n", [1024, 2048])
def test_L_n_is_the_window_length_of_a_2048_point_fft(tmp_path: Path, L_n: int) -> None:
    config = tmp_path / "lms.yaml"
    config.write_text(f"feature: {{'type': lms, 'nb_band': 128, 'L_n': {L_n}, 'STEP_n': 512, 'patch_L_frame': 64}}\n")
    name, params = load_feature_config(config)
    y = tone_mix(2.0, [220.0, 330.0], seed=2)
    value = build_feature(name, params).compute(y, SR).value[0]
    reference = tutorial_lms(y, 128, L_n, 512)
    assert value.shape == reference.shape
    assert relative_error(value, reference) < 1e-5  # n_fft=L_n was 8-10 % off at L_n 1024
    torch_value = build_feature(name, params).compute_torch(torch.as_tensor(y), SR, device="cpu")[0, 0].numpy()
    assert relative_error(torch_value, reference) < 1e-4


def test_a_window_as_long_as_the_fft_is_the_default_analysis() -> None:
    assert build_feature("lms", {"win_length": 2048}).params.hash() == build_feature("lms").params.hash()
    with pytest.raises(MirError, match=r"lms: parameter win_length=4096 is not allowed; expected an integer <= n_fft=2048"):
        build_feature("lms", {"win_length": 4096})


# ----------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("section, fragment", [
    ("{type: hcqt, L_n: 1024}", "feature.L_n: unknown key (it is lms's win_length); feature 'hcqt' takes: bins_per_semitone,"),
    ("{type: lms, h_l: [1, 2]}",
     "feature.h_l: unknown key (it is cqt's harmonics and hcqt's harmonics); feature 'lms' takes: L_n, STEP_n,"),
    ("{type: hcqt, nb_band: 72}", "feature.nb_band: 72 does not match 12 × bins_per_semitone × n_octaves = 360"),
    ("{type: lms, nb_band: 96, params: {n_mels: 64}}", "feature.nb_band: nb_band (n_mels) is given twice"),
    ("{type: hcqt, bins_per_semi: 1}", "feature.bins_per_semi: unknown key (did you mean bins_per_semitone?)"),
    ("{type: waveform, fmin: 30}", "feature.fmin: unknown key; feature 'waveform' takes: no parameter"),
])
def test_a_key_that_cannot_be_honoured_is_refused_by_name(tmp_path: Path, section: str, fragment: str) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(f"feature: {section}\n")
    with pytest.raises(MirError) as raised:
        load_feature_config(config)
    assert str(raised.value).startswith(f"{config}: ") and fragment in str(raised.value)
    with pytest.raises(ConfigError) as raised:
        config_from_dict({"dataset": {"base": "x", "problem": "multipitch", "annot_key": "f0"},
                          "feature": yaml.safe_load(section),
                          "model": {"block_l": []}}, source=config)
    assert fragment in str(raised.value)
    store = make_store(tmp_path / "toy_audio.hdf5", count=1, seconds=1.0)
    result = run("cache", store, tmp_path / "out.hdf5", "--config", config, "--quiet")
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0], result.output
    assert not (tmp_path / "out.hdf5").exists()
