"""The audio store: decoding, mix-down, resampling (against librosa.load), windows, parallel and atomic writes."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile

from conftest import fixture_path
from pyjama_tools import audio_store
from pyjama_tools.audio_store import (AudioDecodeError, AudioSource, AudioStore, decode, key_from_relative_path,
                                      relative_path_from_key, write_audio_store)
from pyjama_tools.core.errors import MirError


def _tone(seconds: float, rate: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """(samples, channels) float32: a different sine per channel plus a little noise."""
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    columns = [0.4 * np.sin(2 * np.pi * (220 * (c + 1)) * t) + 0.01 * rng.standard_normal(t.size)
               for c in range(channels)]
    return np.stack(columns, axis=1).astype(np.float32)


@pytest.fixture
def stereo_wav(tmp_path) -> Path:
    path = tmp_path / "stereo.wav"
    soundfile.write(path, _tone(1.0, 44100, channels=2), 44100, subtype="FLOAT")
    return path


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3"])
def test_decode_every_format_to_22050_mono(tmp_path, suffix):
    path = tmp_path / f"tone{suffix}"
    soundfile.write(path, _tone(0.5, 44100, channels=2), 44100)
    audio, rate = decode(path)
    assert rate == 22050 and audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.size - 0.5 * 22050) <= 1200  # MP3/OGG add encoder padding, never a different rate
    assert np.abs(audio).max() > 0.1


def test_native_rate_is_kept(stereo_wav):
    audio, rate = decode(stereo_wav, sample_rate=None)
    assert rate == 44100 and audio.shape == (44100,)


def test_stereo_mixdown_is_the_channel_mean(stereo_wav):
    audio, _ = decode(stereo_wav, sample_rate=None)
    both, _ = decode(stereo_wav, sample_rate=None, mono=False)
    source = soundfile.read(stereo_wav, dtype="float32")[0]
    assert both.shape == (2, 44100)
    np.testing.assert_allclose(audio, source.mean(axis=1), atol=1e-7)
    np.testing.assert_allclose(both, source.T, atol=1e-7)


def test_mixdown_of_more_channels(tmp_path):
    path = tmp_path / "six.wav"
    source = _tone(0.2, 16000, channels=6)
    soundfile.write(path, source, 16000, subtype="FLOAT")
    audio, _ = decode(path, sample_rate=None)
    np.testing.assert_allclose(audio, source.mean(axis=1), atol=1e-7)
    mono = tmp_path / "mono.wav"
    soundfile.write(mono, source[:, :1], 16000, subtype="FLOAT")
    np.testing.assert_array_equal(decode(mono, sample_rate=None)[0], source[:, 0])


def test_resampling_equals_librosa_load(stereo_wav):
    librosa = pytest.importorskip("librosa")
    expected, rate = librosa.load(stereo_wav, sr=22050)
    audio, ours = decode(stereo_wav)
    assert ours == rate == 22050
    assert audio.shape == expected.shape
    np.testing.assert_allclose(audio, expected, atol=1e-5)


def test_real_mtt_mp3_decodes_like_librosa():
    path = fixture_path("magnatagatune", "e", "joram-moments_of_clarity-08-solipsism-59-88.mp3")
    librosa = pytest.importorskip("librosa")
    audio, rate = decode(path)
    expected, _ = librosa.load(path, sr=22050)
    assert rate == 22050 and audio.shape == expected.shape
    assert 29.0 < audio.size / rate < 29.5
    np.testing.assert_allclose(audio, expected, atol=1e-4)


@pytest.mark.parametrize("content, message", [
    (b"", "cannot decode"),
    (b"this is not audio at all" * 10, "cannot decode"),
])
def test_decode_bad_files_raise_one_line(tmp_path, content, message):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioDecodeError, match=message) as info:
        decode(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_decode_zero_samples_and_missing(tmp_path):
    path = tmp_path / "empty.wav"
    soundfile.write(path, np.zeros((0, 1), dtype=np.float32), 22050)
    with pytest.raises(AudioDecodeError, match="empty audio"):
        decode(path)
    with pytest.raises(AudioDecodeError, match="no such file"):
        decode(tmp_path / "absent.wav")


def test_keys_from_relative_paths():
    assert key_from_relative_path("blues/blues.00000.wav") == "blues+++blues.00000.wav"
    assert relative_path_from_key("a+++b+++c.mp3") == "a/b/c.mp3"
    for bad in ("../x.wav", "/abs/x.wav", "a/../../x.wav"):
        with pytest.raises(MirError, match="escapes the corpus root"):
            key_from_relative_path(bad)


# ----------------------------------------------------------------------------- writing and reading


def _sources(tmp_path: Path, count: int) -> list[tuple[str, AudioSource]]:
    items = []
    for index in range(count):
        path = tmp_path / "src" / f"d{index % 2}" / f"f{index}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, _tone(0.2 + 0.05 * index, 32000, channels=2, seed=index), 32000)
        items.append((key_from_relative_path(path.relative_to(tmp_path / "src")), AudioSource(path)))
    return items


def test_write_then_read_windows(tmp_path):
    items = _sources(tmp_path, 3)
    out = tmp_path / "x_audio.hdf5"
    assert write_audio_store(out, items) == []
    with AudioStore(out) as store:
        assert sorted(store.keys()) == sorted(k for k, _ in items)
        key = items[2][0]
        full, _ = decode(items[2][1])
        assert store.sample_rate(key) == 22050
        assert store.num_samples(key) == full.size
        assert store.duration(key) == pytest.approx(0.3, abs=1e-3)
        np.testing.assert_array_equal(store.read(key), full)
        np.testing.assert_array_equal(store.read(key, 100, 600), full[100:600])
        assert store.read(key, 100, 600).dtype == np.float32
        with pytest.raises(MirError, match="no audio key 'nope'"):
            store.read("nope")
    with h5py.File(out, "r") as handle:
        assert handle.attrs["sr_hz"] == 22050
        assert handle[key].ndim == 1


def test_parallel_write_matches_sequential_and_keeps_order(tmp_path):
    items = _sources(tmp_path, 6)
    for index, suffix in enumerate((".mp3", ".flac", ".ogg", ".mp3")):
        path = tmp_path / "src" / f"coded{index}{suffix}"
        soundfile.write(path, _tone(0.3, 44100, channels=2, seed=10 + index), 44100)
        items.append((path.name, AudioSource(path)))
    broken = tmp_path / "src" / "broken.wav"
    broken.write_bytes(b"RIFF garbage")
    items.insert(2, ("broken.wav", AudioSource(broken)))
    items.append(("missing.wav", AudioSource(tmp_path / "src" / "missing.wav")))
    sequential = write_audio_store(tmp_path / "one_audio.hdf5", items, jobs=1)
    parallel = write_audio_store(tmp_path / "two_audio.hdf5", items, jobs=2)
    assert [f.key for f in parallel] == [f.key for f in sequential] == ["broken.wav", "missing.wav"]
    with AudioStore(tmp_path / "one_audio.hdf5") as one, AudioStore(tmp_path / "two_audio.hdf5") as two:
        assert one.keys() == two.keys() and len(one) == 10
        for key in one.keys():
            np.testing.assert_array_equal(one.read(key), two.read(key))


def test_strict_write_stops_at_the_first_bad_source(tmp_path, monkeypatch):
    items = _sources(tmp_path, 3)
    broken = tmp_path / "src" / "broken.wav"
    broken.write_bytes(b"")
    items.insert(1, ("broken.wav", AudioSource(broken)))
    calls = []
    real_decode = audio_store.decode

    def counting(source, *args, **kwargs):
        calls.append(source)
        return real_decode(source, *args, **kwargs)

    monkeypatch.setattr(audio_store, "decode", counting)
    out = tmp_path / "out" / "s_audio.hdf5"
    out.parent.mkdir()
    with pytest.raises(AudioDecodeError, match=r"^broken.wav: .*broken.wav: cannot decode"):
        write_audio_store(out, items, strict=True)
    assert len(calls) == 2  # the sources after the bad one were never decoded
    assert list(out.parent.iterdir()) == []
    assert [f.key for f in write_audio_store(out, items)] == ["broken.wav"]  # default: skipped, listed


def test_native_rates_are_stored_per_key(tmp_path):
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    soundfile.write(a, _tone(0.1, 16000), 16000)
    soundfile.write(b, _tone(0.1, 44100), 44100)
    out = tmp_path / "n_audio.hdf5"
    write_audio_store(out, [("a.wav", AudioSource(a)), ("b.wav", AudioSource(b))], sample_rate=None)
    with AudioStore(out) as store:
        assert store.sample_rate("a.wav") == 16000 and store.sample_rate("b.wav") == 44100
        assert store.num_samples("b.wav") == 4410
        assert "sr_hz" not in store.file.attrs  # rates differ: no single root rate


def test_unexpected_error_leaves_no_output(tmp_path, monkeypatch):
    items = _sources(tmp_path, 3)
    real_decode = audio_store.decode

    def exploding(source, *args, **kwargs):
        if Path(source.path).name == "f1.wav":
            raise RuntimeError("disk on fire")
        return real_decode(source, *args, **kwargs)

    monkeypatch.setattr(audio_store, "decode", exploding)
    out = tmp_path / "out" / "x_audio.hdf5"
    out.parent.mkdir()
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_audio_store(out, items)
    assert list(out.parent.iterdir()) == []


def test_store_is_lazy_and_picklable(tmp_path):
    import pickle

    items = _sources(tmp_path, 1)
    out = tmp_path / "p_audio.hdf5"
    write_audio_store(out, items)
    store = AudioStore(out)
    assert store._file is None  # nothing opened before first use
    store.keys()
    clone = pickle.loads(pickle.dumps(store))
    assert clone._file is None and clone.keys() == store.keys()
    store.close()
    clone.close()


def test_store_bad_paths(tmp_path):
    with pytest.raises(MirError, match="no such file"):
        AudioStore(tmp_path / "absent.hdf5")
    junk = tmp_path / "junk.hdf5"
    junk.write_text("not hdf5")
    with pytest.raises(MirError, match="not a readable HDF5 file"):
        AudioStore(junk).keys()


def test_a_feature_file_given_as_audio_is_one_line(tmp_path):
    """A feature cache (one group per key) where an audio store belongs: every reader names the file and key."""
    import h5py

    path = tmp_path / "set_lms_feat.hdf5"
    with h5py.File(path, "w") as out:
        out.create_group("a+++b.wav").create_dataset("value", data=np.zeros((1, 4, 8), dtype=np.float32))
    store = AudioStore(path)
    assert "a+++b.wav" in store and store.keys() == []
    for read in (store.read, store.sample_rate, store.num_samples, store.duration):
        with pytest.raises(MirError, match=r"set_lms_feat.hdf5: 'a\+\+\+b.wav' is a group, not an audio waveform"):
            read("a+++b.wav")
    store.close()
