"""The torch backend of mirfeat.features: equal to the librosa backend on CPU (and CUDA when present)."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from conftest import fixture_path
from mirfeat.features import BadAudioError, build_feature
from mirfeat.features import torch_backend, torch_check
from pyjama_tools.core.errors import ParameterError

SR = 22050
# the tolerances reached (relative Frobenius error to the librosa backend); measured 2-3e-4 for CQT/HCQT
TOLERANCE = {"waveform": 0.0, "stft": 1e-4, "lms": 1e-4, "cqt": 1e-3, "hcqt": 1e-3}


def relative_error(estimate: np.ndarray, reference: np.ndarray) -> float:
    return float(np.linalg.norm(estimate - reference) / np.linalg.norm(reference))


@pytest.fixture(scope="module")
def batch() -> np.ndarray:
    return np.stack([torch_check.test_signal(SR, 3.0, seed) for seed in range(2)])


@pytest.mark.parametrize("name, params", [
    ("waveform", {}), ("stft", {}), ("lms", {}), ("cqt", {}), ("hcqt", {}), ("cqt", {"bins_per_semitone": 1}),
    ("hcqt", {"harmonics": "1,2", "hop_length": 256}), ("stft", {"window": "hamming", "n_fft": 1024}),
])
def test_torch_cpu_matches_librosa_backend(batch, name, params):
    feature = build_feature(name, params)
    reference = np.stack([feature.compute(row, SR).value for row in batch])
    value = feature.compute_torch(torch.as_tensor(batch), SR, device="cpu")
    assert isinstance(value, torch.Tensor) and value.dtype == torch.float32
    assert tuple(value.shape) == reference.shape
    assert relative_error(value.numpy(), reference) <= TOLERANCE[name]


def test_torch_hcqt_matches_the_per_harmonic_recipe_on_real_music():
    path = fixture_path("gtzan_genre", "gtzan_genre", "genres", "country", "country.00000.wav")
    y, _ = librosa.load(path, sr=None, duration=6.0)
    y = y[: len(y) // 4096 * 4096]
    reference = np.stack([
        np.abs(librosa.cqt(y=y, sr=SR, hop_length=512, fmin=h * 32.7, n_bins=360, bins_per_octave=60))
        for h in (0.5, 1, 2, 3, 4, 5)
    ])
    value = torch_backend.compute_batch(build_feature("hcqt"), y, SR)[0].numpy()
    assert value.shape == reference.shape
    for channel in range(6):
        assert relative_error(value[channel], reference[channel]) <= 0.02


def test_single_waveform_becomes_a_batch_of_one():
    y = torch_check.test_signal(SR, 1.0)
    assert tuple(torch_backend.compute_batch(build_feature("lms"), y, SR).shape) == (1, 1, 128, 1 + y.size // 1024)


def test_decimation_keeps_the_passband_and_scales_like_librosa():
    t = np.arange(8192) / SR
    y = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    halves = torch_backend.decimate(torch.as_tensor(y)[None], {0, 1, 2})
    reference = y
    for k in (1, 2):
        reference = librosa.resample(reference, orig_sr=2, target_sr=1, res_type="soxr_hq", scale=True)
        ours = halves[k][0].numpy()
        assert ours.shape == reference.shape
        middle = slice(200, -200)
        assert relative_error(ours[middle], reference[middle]) <= 1e-3


def test_chroma_has_no_torch_backend():
    with pytest.raises(ParameterError, match="chroma: no torch backend"):
        torch_backend.compute_batch(build_feature("chroma"), np.zeros(SR, dtype=np.float32), SR)


@pytest.mark.parametrize("audio, reason", [
    (np.zeros((1, 2, SR), dtype=np.float32), "shape"),
    (np.full((2, SR), np.nan, dtype=np.float32), "NaN"),
    (np.zeros((2, 100), dtype=np.float32), "shorter than one frame"),
    (np.zeros((2, 0), dtype=np.float32), "empty"),
    (np.zeros((2, SR), dtype=np.int32), "floating point"),
])
def test_bad_batches(audio, reason):
    with pytest.raises(BadAudioError, match=reason):
        torch_backend.compute_batch(build_feature("hcqt"), audio, SR)


def test_nyquist_is_checked_before_torch_work():
    with pytest.raises(ParameterError, match="harmonic 4"):
        torch_backend.compute_batch(build_feature("hcqt"), np.zeros(16000, dtype=np.float32), 16000)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present")
def test_cuda_request_without_cuda_is_a_clear_error():
    with pytest.raises(ParameterError, match="CUDA is not available"):
        torch_backend.compute_batch(build_feature("lms"), np.zeros(SR, dtype=np.float32), SR, device="cuda")


@pytest.mark.parametrize("device, reason", [
    ("tpu", r"device 'tpu' is not a torch device; use cpu, cuda or cuda:N"),
    ("meta", r"device 'meta' not supported; use cpu, cuda or cuda:N"),
    ("cuda:99", r"device 'cuda:99' requested but (CUDA is not available|only \d+ CUDA device)"),
])
def test_bad_device_names_are_one_line(device, reason):
    with pytest.raises(ParameterError, match=rf"^lms: {reason}"):
        torch_backend.compute_batch(build_feature("lms"), np.zeros(SR, dtype=np.float32), SR, device=device)


def test_check_command_on_cpu(capsys):
    assert torch_check.main(["--check", "--device", "cpu", "--seconds", "2"]) == 0
    out = capsys.readouterr().out
    assert "hcqt" in out and "FAIL" not in out


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", ["stft", "lms", "cqt", "hcqt"])
def test_cuda_matches_librosa_backend(batch, name):
    feature = build_feature(name)
    reference = np.stack([feature.compute(row, SR).value for row in batch])
    value = feature.compute_torch(batch, SR, device="cuda")
    assert value.device.type == "cuda" and tuple(value.shape) == reference.shape
    assert relative_error(value.cpu().numpy(), reference) <= max(TOLERANCE[name], 1e-3)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_check_command_on_cuda():
    assert torch_check.main(["--check", "--device", "cuda", "--seconds", "5"]) == 0
