"""musdb18 converter: HQ wav layout and .stem.mp4 layout (synthesized with PyAV), the real 7 s preview, bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner
from conftest import fixture_path

from pyjama_tools import pyjama
from pyjama_tools.audio_store import AudioStore
from pyjama_tools.cli import main
from pyjama_tools.convert import convert
from pyjama_tools.converters.musdb18 import STEMS
from pyjama_tools.core.errors import MirError

RATE = 44100


def stem_signals(samples: int, seed: int) -> dict[str, np.ndarray]:
    """Four stereo stems (2, samples) of sines with different pitches, and their sum as the mixture."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / RATE
    stems = {}
    for index, stem in enumerate(STEMS[1:]):
        frequency = 110.0 * (index + 1) + rng.uniform(0, 20)
        stems[stem] = np.stack([0.1 * np.sin(2 * np.pi * frequency * t), 0.05 * np.sin(2 * np.pi * frequency * t)])
    stems["mixture"] = sum(stems.values())
    return {s: stems[s].astype(np.float32) for s in STEMS}


def make_hq_track(root: Path, split: str, track: str, seconds: float = 0.25, seed: int = 0) -> dict[str, np.ndarray]:
    """``<split>/<track>/{mixture,drums,bass,other,vocals}.wav`` (stereo 44.1 kHz)."""
    folder = root / split / track
    folder.mkdir(parents=True)
    signals = stem_signals(int(RATE * seconds), seed)
    for stem, signal in signals.items():
        soundfile.write(folder / f"{stem}.wav", signal.T, RATE)
    return signals


def make_stem_mp4(path: Path, seconds: float = 0.25, streams: int = 5, seed: int = 0) -> dict[str, np.ndarray]:
    """A .stem.mp4 as MUSDB18 ships it: one stereo AAC stream per stem, in STEMS order."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    signals = stem_signals(int(RATE * seconds), seed)
    with av.open(str(path), "w", format="mp4") as container:
        # every stream must exist before the first packet is muxed (the header is written then)
        outputs = [container.add_stream("aac", rate=RATE, layout="stereo") for _ in STEMS[:streams]]
        for stream in outputs:
            stream.bit_rate = 256_000
        for stem, stream in zip(STEMS, outputs):
            signal = signals[stem]
            for start in range(0, signal.shape[1], 1024):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(signal[:, start:start + 1024]),
                                                   format="fltp", layout="stereo")
                frame.sample_rate, frame.pts = RATE, start
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
    return signals


def test_hq_layout(tmp_path):
    root = tmp_path / "musdb18hq"
    written = {("train", "A - One"): make_hq_track(root, "train", "A - One", seed=1),
               ("test", "Untitled"): make_hq_track(root, "test", "Untitled", seed=2)}
    report = convert("musdb18", root, tmp_path / "out", sample_rate=None)
    assert report.entries == 10 and report.problems == []
    doc = pyjama.load(report.pyjama_path)
    store = AudioStore(report.payload_path)
    assert pyjama.validate(doc, store.keys()) == []
    assert doc.keys()[5:] == [f"test+++Untitled+++{stem}" for stem in STEMS]  # train first, then test
    for (split, track), signals in written.items():
        for stem in STEMS:
            key = f"{split}+++{track}+++{stem}"
            assert doc.values(key, "stem") == [stem]
            assert doc.values(key, "track") == [track]
            assert doc.values(key, "split") == [split]
            audio = store.read(key)
            assert audio.ndim == 1 and store.sample_rate(key) == RATE  # mono mix-down by default
            np.testing.assert_allclose(audio, signals[stem].mean(axis=0), atol=1e-4)  # 16-bit wav
    assert doc.values("train+++A - One+++bass", "artist") == ["A"]
    assert doc.values("train+++A - One+++bass", "title") == ["One"]
    assert doc.atoms("test+++Untitled+++bass", "artist") == []  # no "Artist - Title" in the name


def test_stereo_option(tmp_path):
    root = tmp_path / "musdb18hq"
    signals = make_hq_track(root, "train", "A - One")
    result = CliRunner().invoke(main, ["musdb18", str(root), str(tmp_path / "out"), "--stereo", "--sr", "native",
                                       "--quiet"])
    assert result.exit_code == 0, result.output
    with AudioStore(tmp_path / "out" / "musdb18_audio.hdf5") as store:
        vocals = store.read("train+++A - One+++vocals")
        assert vocals.shape == signals["vocals"].shape
        np.testing.assert_allclose(vocals, signals["vocals"], atol=1e-4)


def test_stem_mp4_layout(tmp_path):
    root = tmp_path / "musdb18"
    signals = make_stem_mp4(root / "train" / "B - Two.stem.mp4", seed=3)
    report = convert("musdb18", root, tmp_path / "out", sample_rate=None)
    assert report.entries == 5 and report.problems == []
    doc = pyjama.load(report.pyjama_path)
    assert doc.keys() == [f"train+++B - Two+++{stem}" for stem in STEMS]
    with AudioStore(report.payload_path) as store:
        decoded = {stem: store.read(f"train+++B - Two+++{stem}") for stem in STEMS}
    samples = signals["mixture"].shape[1]
    for stem in STEMS:
        # AAC adds priming samples and coding noise; each stream holds its own stem (correlation) ...
        audio = decoded[stem]
        assert samples <= audio.shape[0] <= samples + 4096
        spectrum = np.abs(np.fft.rfft(audio))
        expected = np.abs(np.fft.rfft(signals[stem].mean(axis=0), n=audio.shape[0]))
        assert np.corrcoef(spectrum, expected)[0, 1] > 0.95
    # ... and the stems add up to the mixture
    total = sum(decoded[s] for s in STEMS[1:])
    assert np.sqrt(np.mean((total - decoded["mixture"]) ** 2)) < 0.05 * np.sqrt(np.mean(decoded["mixture"] ** 2))


def test_real_stem_mp4(tmp_path):
    sample = fixture_path("musdb18", "MUSDB18-7-SAMPLE", "train", "Music Delta - 80s Rock.stem.mp4")
    root = sample.parent.parent
    report = convert("musdb18", root, tmp_path / "out", sample_rate=None)
    assert report.entries == 5 and report.problems == []
    doc = pyjama.load(report.pyjama_path)
    assert [labels[0] for labels in doc.labels("stem")] == list(STEMS)
    assert {labels[0] for labels in doc.labels("track")} == {"Music Delta - 80s Rock"}
    with AudioStore(report.payload_path) as store:
        audio = {stem: store.read(f"train+++Music Delta - 80s Rock+++{stem}") for stem in STEMS}
        for key in store.keys():
            assert store.sample_rate(key) == 44100
            assert store.duration(key) == pytest.approx(6.8, abs=0.1)
    mixture = audio["mixture"]
    total = sum(audio[s] for s in STEMS[1:])
    rms = np.sqrt(np.mean(mixture ** 2))
    assert rms > 0.01
    assert np.sqrt(np.mean((total - mixture) ** 2)) < 0.05 * rms
    result = CliRunner().invoke(main, ["validate", str(report.pyjama_path), "--audio", str(report.payload_path)])
    assert result.exit_code == 0 and "valid (5 entries)" in result.output


# ----------------------------------------------------------------------------- bad inputs


def test_missing_stem_and_bad_files(tmp_path):
    root = tmp_path / "musdb18"
    make_hq_track(root, "train", "A - One")
    (root / "train" / "A - One" / "drums.wav").unlink()
    make_hq_track(root, "train", "C - Three")
    soundfile.write(root / "train" / "C - Three" / "bass.wav", np.zeros((0, 2), np.float32), RATE)  # empty
    make_stem_mp4(root / "test" / "D - Four.stem.mp4", streams=2)  # too few streams
    (root / "test" / "E - Five.stem.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really an mp4")
    (root / "test" / "notes.txt").write_text("stray file")
    report = convert("musdb18", root, tmp_path / "out")
    assert report.entries == 4 + 4
    messages = [str(p) for p in report.problems]
    assert any("drums.wav" in m and "drums stem missing" in m for m in messages)
    assert any(m.startswith("train+++C - Three+++bass:") and "empty audio" in m for m in messages)
    assert any("D - Four.stem.mp4" in m and "has 2 audio stream(s), expected 5" in m for m in messages)
    assert any("E - Five.stem.mp4" in m and "cannot open as MP4" in m for m in messages)
    assert any("notes.txt" in m for m in messages)
    assert len(messages) == 5


def test_no_split_folders(tmp_path):
    (tmp_path / "src").mkdir()
    with pytest.raises(MirError, match="no 'train' or 'test' folder"):
        convert("musdb18", tmp_path / "src", tmp_path / "out")
    result = CliRunner().invoke(main, ["musdb18", str(tmp_path / "src"), str(tmp_path / "out")])
    assert result.exit_code == 1 and result.output.count("\n") == 1 and "Traceback" not in result.output


def test_strict_cli_one_line_no_output(tmp_path):
    root = tmp_path / "musdb18"
    make_hq_track(root, "train", "A - One")
    (root / "train" / "A - One" / "other.wav").write_bytes(b"garbage")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["musdb18", str(root), str(out), "--strict", "--quiet"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: train+++A - One+++other: ")
    assert "other.wav: cannot decode" in lines[0]
    # neither the audio file nor a .partial is left
    assert not out.exists() or [p for p in out.iterdir() if not p.name.endswith(".lock")] == []
