"""Source separation on MUSDB18-shaped data: bricks, stem windows, chunked inference, BSSEval, fit/evaluate/predict."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile
import torch
from click.testing import CliRunner
from conftest import fixture_path

from mirmodels import bsseval
from mirmodels.config import ConfigError, config_from_dict
from mirmodels.separate import separate, separate_blocks
from pyjama_tools.convert import convert
from pyjama_tools.core.errors import MirError

RATE = 8000
STEMS = ("drums", "bass", "other", "vocals")


def synthetic_stems(samples: int, seed: int, channels: int = 1) -> dict[str, np.ndarray]:
    """Four (channels, samples) stems that a mask can tell apart (noise bursts, low / mid / high
    tones) and their sum as the mixture."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / RATE
    bursts = (np.sin(2 * np.pi * 2.0 * t) > 0.6).astype(np.float32)
    base = {"drums": 0.3 * rng.standard_normal(samples) * bursts,
            "bass": 0.3 * np.sin(2 * np.pi * (80 + 10 * seed) * t),
            "other": 0.2 * np.sin(2 * np.pi * (700 + 30 * seed) * t),
            "vocals": 0.25 * np.sin(2 * np.pi * (1500 + 40 * seed) * t + 3 * np.sin(2 * np.pi * 5 * t))}
    stems = {s: np.stack([v * (1.0 - 0.3 * c) for c in range(channels)]).astype(np.float32) for s, v in base.items()}
    stems["mixture"] = np.sum([stems[s] for s in STEMS], axis=0).astype(np.float32)
    return stems


def make_hq_corpus(root: Path, tracks: dict[str, list[str]], seconds: float = 3.0, channels: int = 1) -> Path:
    """MUSDB18-HQ layout ``<split>/<track>/<stem>.wav`` with synthetic stems."""
    seed = 0
    for split, names in tracks.items():
        for name in names:
            folder = root / split / name
            folder.mkdir(parents=True)
            for stem, signal in synthetic_stems(int(RATE * seconds), seed, channels).items():
                soundfile.write(folder / f"{stem}.wav", signal.T, RATE)
            seed += 1
    return root


#: a small U-Net of the same bricks as examples/models/separation_unet.yaml (2 levels, n_fft 256)
def tiny_unet(sources: int | str = "$n_out", conditioned: bool = False, n_fft: int = 256) -> dict:
    first = [["ConditionChannels", {"count": "$n_out", "key": "condition"}]] if conditioned else []
    bottleneck = [["FiLM", {"key": "condition"}]] if conditioned else []
    return {"name": "tiny", "block_l": [
        {"sequential_l": [{"layer_l": first + [["StoreAs", "mixture"], ["STFT", {"n_fft": n_fft, "hop_length": n_fft // 2}],
                                               ["StoreAs", "spectrum"]]}]},
        {"sequential_l": [
            {"layer_l": [["Conv2d", {"out_channels": 8, "kernel_size": 3, "stride": 2}], ["BatchNorm2d", {}],
                         ["Activation", "ReLU"], ["StoreAs", "E1"]]},
            {"layer_l": [["Conv2d", {"out_channels": 16, "kernel_size": 3, "stride": 2}], ["BatchNorm2d", {}],
                         ["Activation", "ReLU"]] + bottleneck}]},
        {"sequential_l": [
            {"layer_l": [["ResizeLike", "E1"], ["Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": "same"}],
                         ["Activation", "ReLU"], ["CatWith", "E1"]]},
            {"layer_l": [["ResizeLike", "spectrum"], ["Mask", {"key": "spectrum", "sources": 1 if conditioned else sources}],
                         ["ISTFT", {"key": "mixture", "n_fft": n_fft, "hop_length": n_fft // 2}]]}]}]}


def separation_config(root: Path, sources=("bass", "vocals"), conditioned: bool = False, split: str = "field",
                      **train) -> dict:
    return {"dataset": {"base": "musdb18", "problem": "separation", "annot_key": "stem", "root": str(root),
                        "split": split},
            "feature": {"type": "waveform", "patch_L_frame": RATE, "patch_STEP_frame": RATE // 2},
            "model": tiny_unet(conditioned=conditioned),
            "train": {"batch_size": 4, "max_epochs": 1, "patience": 0, "lr": 0.01, "accelerator": "cpu",
                      "devices": 1, "logger": "none", "task": {"sources": list(sources), "conditioned": conditioned,
                                                               "remix": 0.5}, **train},
            "eval": {"split": "valid", "batch_size": 4}}


def _corpus(tmp_path: Path, channels: int) -> Path:
    src = make_hq_corpus(tmp_path / "musdb18hq", {"train": ["A - One", "B - Two", "C - Three"], "test": ["D - Four"]},
                         channels=channels)
    data = tmp_path / "data"
    convert("musdb18", src, data, sample_rate=None, stereo=channels == 2)
    return data


@pytest.fixture
def corpus(tmp_path) -> Path:
    """Three train tracks and one test track (mono, 8 kHz, 3 s), converted to DATA."""
    return _corpus(tmp_path, 1)


@pytest.fixture
def stereo_corpus(tmp_path) -> Path:
    """The same tracks in stereo (``pyjama-convert musdb18 --stereo``)."""
    return _corpus(tmp_path, 2)


# ----------------------------------------------------------------------------- bricks


def test_stft_then_istft_gives_the_waveform_back():
    from mirmodels.layers.spectral import ISTFT, STFT

    x = torch.randn(3, 2, 5000)
    spectrum = STFT(256, 64)(x)
    assert spectrum.shape == (3, 4, 1 + 5000 // 64, 129)  # (B, 2C, T, F)
    back = ISTFT("mixture", 256, 64)(spectrum, {"mixture": x})
    assert back.shape == (3, 1, 2, 5000)
    assert torch.allclose(back[:, 0], x, atol=1e-4)


def test_mask_of_ones_multiplies_the_spectrum_by_tanh_and_condition_channels_split_the_input():
    from mirmodels.layers.spectral import ConditionChannels, Mask

    spectrum = torch.randn(2, 4, 10, 33)
    mask = Mask("spectrum", sources=3, in_channels=5, spectrum_channels=4)
    torch.nn.init.zeros_(mask.conv.weight)
    torch.nn.init.constant_(mask.conv.bias, 1.0)
    out = mask(torch.randn(2, 5, 10, 33), {"spectrum": spectrum})
    assert out.shape == (2, 12, 10, 33)
    assert torch.allclose(out[:, 8:], torch.tanh(torch.tensor(1.0)) * spectrum, atol=1e-6)
    store: dict = {}
    x = torch.cat([torch.randn(2, 2, 50), torch.eye(4)[[1, 3]][:, :, None].expand(-1, -1, 50)], dim=1)
    audio = ConditionChannels(4)(x, store)
    assert audio.shape == (2, 2, 50) and store["condition"].tolist() == [[0, 1, 0, 0], [0, 0, 0, 1]]


def test_the_book_unet_yaml_builds_with_its_shapes():
    from mirmodels.factory import build_model

    examples = Path(__file__).resolve().parents[2] / "examples" / "models"
    network = build_model(examples / "separation_unet.yaml", (2, 131072), {"n_out": 4})
    assert network.output_shape == (4, 2, 131072)
    widths = [r.output_shape[0] for r in network.records if r.name == "Conv2d"][:6]
    assert widths == [16, 32, 64, 128, 256, 512]
    stft = next(r for r in network.records if r.name == "STFT")
    assert stft.output_shape == (4, 1 + 131072 // 1024, 1025)  # stereo real + imaginary, n_fft 2048, hop 1024


# ----------------------------------------------------------------------------- windows


def _prepared(corpus: Path, **options):
    from mirmodels.data import prepare_data

    return prepare_data(config_from_dict(separation_config(corpus, **options)))


def test_tracks_split_by_track_with_a_validation_track_taken_from_train(corpus):
    prepared = _prepared(corpus)
    names = {name: [k.split("+++")[1] for k in keys] for name, keys in prepared.splits.items()}
    assert names == {"train": ["B - Two", "C - Three"], "valid": ["A - One"], "test": ["D - Four"]}
    assert prepared.input_shape == (1, RATE) and prepared.n_out == 2
    assert prepared.metadata()["vocabulary"] == ["bass", "vocals"]


def test_lazy_windows_equal_in_memory_windows_and_stems_sum_to_the_mixture(corpus):
    from mirmodels.data import make_dataset

    prepared = _prepared(corpus)
    lazy = make_dataset(prepared, prepared.splits["train"], train=False)
    import dataclasses

    memory_config = prepared.config.replace(feature=dataclasses.replace(prepared.config.feature, in_memory=True))
    prepared.config = memory_config
    memory = make_dataset(prepared, prepared.splits["train"], train=True)
    assert memory._arrays is not None and lazy._arrays is None
    memory.train = False
    assert len(lazy) == len(memory) == 2 * 5  # 3 s tracks, 1 s windows every 0.5 s
    for item in (0, 4, 9):
        a, b = lazy[item], memory[item]
        assert torch.equal(a["X"], b["X"]) and torch.equal(a["y"], b["y"]) and a["start"] == b["start"]
    item = lazy[3]
    assert item["X"].shape == (1, RATE) and item["y"].shape == (2, 1, RATE)
    start, key = item["start"], item["key"]
    full = synthetic_stems(3 * RATE, 0 if "One" in key else 1 if "Two" in key else 2)  # seeds in corpus order
    assert np.allclose(item["y"][1].numpy(), full["vocals"][:, start:start + RATE], atol=1e-4)


def test_remixed_windows_are_sums_of_stems_and_conditioned_windows_carry_a_one_hot(corpus):
    from mirmodels.data import make_dataset

    prepared = _prepared(corpus, sources=("drums", "bass", "other", "vocals"))
    dataset = make_dataset(prepared, prepared.splits["train"], train=True)
    dataset.remix = 1.0
    torch.manual_seed(0)
    item = dataset[0]
    assert torch.allclose(item["X"], item["y"].sum(dim=0), atol=1e-5)  # every stem is a source here
    conditioned = make_dataset(_prepared(corpus, conditioned=True), prepared.splits["valid"], train=False)
    assert conditioned.input_shape == (1 + 2, RATE) and len(conditioned) == 2 * 5
    first, last = conditioned[0], conditioned[len(conditioned) - 1]
    assert first["X"].shape == (3, RATE) and first["y"].shape == (1, 1, RATE)
    assert first["X"][1:, 0].tolist() == [1.0, 0.0] and last["X"][1:, 0].tolist() == [0.0, 1.0]


@pytest.mark.parametrize("layout", ["mono", "stereo"])
@pytest.mark.parametrize("mode", ["plain", "remix", "conditioned"])
def test_direct_window_reads_equal_h5py_slices_and_in_memory_windows(tmp_path, layout, mode):
    """The lazy path reads contiguous float32 stems with one preadv per channel; what it gives is what
    h5py's slice and the in-memory arrays give, example by example under the same seed."""
    import dataclasses

    from mirmodels.data import make_dataset

    data = _corpus(tmp_path, 1 if layout == "mono" else 2)
    prepared = _prepared(data, sources=("drums", "bass", "other", "vocals"), conditioned=mode == "conditioned")
    keys = prepared.splits["train"]
    lazy = make_dataset(prepared, keys, train=True)
    key = lazy.tracks[0].stems["vocals"]
    assert lazy.store._offset(key) is not None  # the converter's stems take the direct path
    window = np.empty((lazy.channels, 777), dtype=np.float32)
    lazy.store.read_window(key, 1234, window)
    with h5py.File(data / "musdb18_audio.hdf5", "r") as store:
        expected = store[key][..., 1234:1234 + 777]
    assert np.array_equal(window, expected.reshape(window.shape))
    prepared.config = prepared.config.replace(feature=dataclasses.replace(prepared.config.feature, in_memory=True))
    memory = make_dataset(prepared, keys, train=True)
    lazy.remix = memory.remix = 1.0 if mode == "remix" else 0.0
    for item in range(4):
        torch.manual_seed(item)
        a = lazy[item]
        torch.manual_seed(item)
        b = memory[item]
        assert torch.equal(a["X"], b["X"]) and torch.equal(a["y"], b["y"]) and a["source"] == b["source"]


def test_a_forked_worker_reads_the_windows_its_parent_read(tmp_path):
    """DataLoader workers are forked from a process that may have read windows already: the worker must
    open its own handle and descriptor, read the same samples, and leave no inherited descriptor open."""
    import os

    from mirmodels.data import make_dataset

    prepared = _prepared(_corpus(tmp_path, 2), sources=("drums", "bass", "other", "vocals"))
    dataset = make_dataset(prepared, prepared.splits["train"], train=False)
    parent = dataset[3]
    store = dataset.store.path.resolve()
    out = tmp_path / "child.npz"
    pid = os.fork()
    if pid == 0:  # the worker
        code = 1
        try:
            child = dataset[3]
            dataset.store.close()
            dataset[3]  # reopens once more in the same process
            dataset.store.close()
            fds = [f for f in os.listdir("/proc/self/fd") if os.path.realpath(f"/proc/self/fd/{f}") == str(store)]
            np.savez(out, X=child["X"].numpy(), y=child["y"].numpy(), open_fds=len(fds))
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    saved = np.load(out)
    assert np.array_equal(saved["X"], parent["X"].numpy()) and np.array_equal(saved["y"], parent["y"].numpy())
    assert int(saved["open_fds"]) == 0  # neither the inherited descriptor nor the worker's own stays open


# ----------------------------------------------------------------------------- chunked inference


class _Echo(torch.nn.Module):
    """(B, C, L) → (B, S, C, L): source s = (s + 1) × the input."""

    def __init__(self, sources: int):
        super().__init__()
        self.sources = sources

    def forward(self, x):
        return torch.stack([(s + 1) * x for s in range(self.sources)], dim=1)


@pytest.mark.parametrize("samples", [700, 1000, 4321])
def test_overlapping_chunks_give_every_sample_once_in_bounded_blocks(samples):
    mixture = np.random.default_rng(0).standard_normal((2, samples)).astype(np.float32)
    blocks = list(separate_blocks(_Echo(3), mixture, window=1000, hop=300, batch_size=2))
    out = np.concatenate(blocks, axis=-1)
    assert out.shape == (3, 2, samples)
    assert np.allclose(out, np.stack([mixture, 2 * mixture, 3 * mixture]), atol=1e-5)
    assert max(b.shape[-1] for b in blocks) <= 2 * 300 + 1000  # never the whole song at once


def test_a_conditioned_network_is_run_once_per_source():
    class Conditioned(torch.nn.Module):
        def forward(self, x):  # (B, C + S, L): the source index + 1 times the audio
            index = x[:, 1:, 0].argmax(dim=1).float() + 1
            return (index[:, None, None] * x[:, :1])[:, None]

    mixture = np.random.default_rng(1).standard_normal((1, 2500)).astype(np.float32)
    out = separate(Conditioned(), mixture, window=1000, conditions=2, batch_size=3)
    assert np.allclose(out, np.stack([mixture, 2 * mixture]), atol=1e-5)


@pytest.mark.parametrize("out_rate", [RATE, 11025, 44100])
def test_streamed_wavs_have_the_song_rate_and_length(tmp_path, out_rate):
    from mirmodels.separate import write_sources

    samples = 3 * RATE + 17
    mixture = np.random.default_rng(2).standard_normal((2, samples)).astype(np.float32) * 0.1
    length = int(round(samples * out_rate / RATE)) + 3  # the song's own length (rounding of its decode)
    blocks = separate_blocks(_Echo(2), mixture, window=2000, batch_size=2)
    paths = write_sources(blocks, [tmp_path / "a.wav", tmp_path / "b.wav"], RATE, out_rate, length)
    for index, path in enumerate(paths):
        data, rate = soundfile.read(path, always_2d=True)
        assert rate == out_rate and data.shape == (length, 2)
        if out_rate == RATE:
            assert np.allclose(data[:samples].T, (index + 1) * mixture, atol=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "b.wav"]


def test_a_failed_write_leaves_no_wav(tmp_path):
    from mirmodels.separate import write_sources

    def broken():
        yield np.zeros((2, 1, 100), dtype=np.float32)
        raise RuntimeError("network failed")

    with pytest.raises(RuntimeError):
        write_sources(broken(), [tmp_path / "a.wav", tmp_path / "b.wav"], RATE, RATE, 200)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- BSSEval


def test_our_sdr_equals_museval_on_the_same_signals():
    try:  # the package import needs ffmpeg (stempeg raises RuntimeError without it)
        import museval
    except Exception as error:
        pytest.skip(f"museval cannot be imported here: {error}")
    from types import SimpleNamespace

    rng = np.random.default_rng(3)
    stems = synthetic_stems(3 * RATE, 0, channels=2)
    references = np.stack([stems["bass"], stems["vocals"]])
    estimates = references + 0.05 * rng.standard_normal(references.shape).astype(np.float32)
    ours = bsseval.track_scores(references, estimates, RATE, ["bass", "vocals"])
    track = SimpleNamespace(name="t", rate=RATE, subset="test",
                            targets={s: SimpleNamespace(audio=references[i].T) for i, s in enumerate(["bass", "vocals"])})
    store = museval.eval_mus_track(track, {"bass": estimates[0].T, "vocals": estimates[1].T})
    for target in store.scores["targets"]:
        for metric in bsseval.METRICS:
            theirs = float(np.nanmedian([float(f["metrics"][metric]) for f in target["frames"]]))
            assert ours[target["name"]][metric] == pytest.approx(theirs, abs=1e-3)
    assert 5 < ours["vocals"]["SDR"] < 30  # noise 0.05 against tones of 0.1-0.25


def test_museval_metrics_load_without_ffmpeg(monkeypatch):
    """museval's package import runs stempeg, which raises RuntimeError without ffmpeg: the metrics
    file is loaded on its own then."""
    import importlib

    import importlib.util

    if importlib.util.find_spec("museval") is None:
        pytest.skip("museval is not installed")
    real = importlib.import_module

    def without_ffmpeg(name, *args, **kwargs):
        if name.startswith("museval"):
            raise RuntimeError("ffmpeg or ffprobe could not be found!")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(bsseval, "_MODULE", None)
    monkeypatch.setattr(importlib, "import_module", without_ffmpeg)
    module = bsseval.bss_eval_module()
    assert module.__name__ == "_museval_metrics" and callable(module.bss_eval)


def test_the_oracle_beats_the_mixture_baseline():
    stems = synthetic_stems(3 * RATE, 0)
    chosen = np.stack([stems["bass"], stems["vocals"]])
    rest = stems["drums"] + stems["other"]
    scores = bsseval.baselines(stems["mixture"], np.concatenate([chosen, rest[None]]), RATE,
                               ["bass", "vocals", "rest"], n_fft=256, hop_length=128)
    for source in ("bass", "vocals"):
        assert scores["oracle_irm"][source]["SDR"] > scores["mixture"][source]["SDR"] + 5


# ----------------------------------------------------------------------------- mistakes


def test_a_feature_other_than_the_waveform_and_an_unknown_source_are_one_line(corpus):
    from mirmodels.data import prepare_data

    config = separation_config(corpus)
    config["feature"]["type"] = "lms"
    with pytest.raises(ConfigError, match=r"feature.type: separation reads the waveform"):
        prepare_data(config_from_dict(config))
    with pytest.raises(ConfigError, match=r"train.task.sources: 'voice' is not a stem .*stems: drums, bass, other, vocals"):
        prepare_data(config_from_dict(separation_config(corpus, sources=("voice",))))
    config = separation_config(corpus)
    config["train"]["task"]["remixx"] = 1
    with pytest.raises(ConfigError, match=r"train.task.remixx: unknown separation option"):
        prepare_data(config_from_dict(config))


def test_the_command_line_says_a_wrong_source_in_one_line(corpus, tmp_path):
    import yaml

    from mirmodels.cli import main

    path = tmp_path / "sep.yaml"
    path.write_text(yaml.safe_dump(separation_config(corpus, sources=("bass", "voice"))), encoding="utf-8")
    result = CliRunner().invoke(main, ["fit", str(path), "--out", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.count("\n") == 1 and result.output.startswith("error: ")
    assert "train.task.sources: 'voice' is not a stem" in result.output
    assert not (tmp_path / "run").exists()


def test_a_model_whose_output_is_not_one_waveform_per_source_is_refused(corpus):
    from mirmodels.experiment import fit

    config = separation_config(corpus)
    config["model"]["block_l"][-1]["sequential_l"][-1]["layer_l"][-2][1]["sources"] = 3
    with pytest.raises(MirError, match=r"output shape \(3, 1, 8000\) .* expected \(2, 1, 8000\)"):
        fit(config_from_dict(config), out=corpus.parent / "run")


# ----------------------------------------------------------------------------- end to end


def _fit_evaluate_predict(data: Path, tmp_path: Path, config: dict) -> dict:
    from mirmodels.cli import main

    config_path = tmp_path / "sep.yaml"
    import yaml

    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    run = tmp_path / "run"
    runner = CliRunner()
    result = runner.invoke(main, ["fit", str(config_path), "--out", str(run), "--quiet"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["evaluate", str(run), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "oracle IRM" in result.output and "vocals_SDR" in result.output
    metrics = json.loads((run / "metrics.json").read_text())
    return {"run": run, "metrics": metrics, "runner": runner, "main": main}


@pytest.mark.slow
def test_separation_end_to_end_on_synthetic_hq_tracks(stereo_corpus, tmp_path):
    done = _fit_evaluate_predict(stereo_corpus, tmp_path, separation_config(stereo_corpus))
    metrics = done["metrics"]
    assert metrics["problem"] == "separation" and metrics["num_files"] == 1
    for source in ("bass", "vocals"):
        for name in bsseval.METRICS:
            assert np.isfinite(metrics["metrics"][f"{source}_{name}"])
        assert metrics["baselines"]["oracle_irm"][f"{source}_SDR"] > metrics["baselines"]["mixture"][f"{source}_SDR"]
    # a song at another rate and length than the training data: stems at the song's rate and length
    song = tmp_path / "song.wav"
    signal = synthetic_stems(int(2.3 * 11025), 5, channels=2)["mixture"]
    soundfile.write(song, signal.T, 11025)
    result = done["runner"].invoke(done["main"], ["predict", str(done["run"]), str(song), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    for source in ("bass", "vocals"):
        info = soundfile.info(tmp_path / "out" / f"song_{source}.wav")
        assert (info.samplerate, info.frames, info.channels) == (11025, signal.shape[-1], 2)
    assert not list((tmp_path / "out").glob("*.partial*"))


@pytest.mark.slow
def test_conditioned_separation_fits_and_evaluates(corpus, tmp_path):
    done = _fit_evaluate_predict(corpus, tmp_path, separation_config(corpus, conditioned=True))
    assert set(done["metrics"]["metrics"]) >= {"bass_SDR", "vocals_SDR"}


@pytest.mark.slow
def test_separation_on_the_real_musdb18_sample(tmp_path):
    sample = fixture_path("musdb18", "MUSDB18-7-SAMPLE", "train", "Music Delta - 80s Rock.stem.mp4")
    src = tmp_path / "musdb18" / "train"
    src.mkdir(parents=True)
    for name in ("Music Delta - 80s Rock", "Music Delta - 80s Rock (copy)"):  # two tracks: train and valid
        (src / f"{name}.stem.mp4").symlink_to(sample)
    data = tmp_path / "data"
    convert("musdb18", tmp_path / "musdb18", data, sample_rate=RATE)
    config = separation_config(data, split="index_mod5")
    done = _fit_evaluate_predict(data, tmp_path, config)
    metrics = done["metrics"]
    for source in ("bass", "vocals"):
        assert metrics["baselines"]["oracle_irm"][f"{source}_SDR"] > metrics["baselines"]["mixture"][f"{source}_SDR"]
    # predict on the .stem.mp4 itself: its mixture stream, at its own rate (44.1 kHz) and length
    result = done["runner"].invoke(done["main"], ["predict", str(done["run"]), str(sample), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    from pyjama_tools.audio_store import decode

    mixture, rate = decode(sample, sample_rate=None, mono=False)
    info = soundfile.info(tmp_path / "out" / "Music Delta - 80s Rock_vocals.wav")
    assert (info.samplerate, info.frames) == (rate, mixture.shape[-1])
