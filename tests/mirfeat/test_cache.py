"""mirfeat.cache: layout and attributes, values equal to the feature itself, no-op, refusal,
overwrite, extension, float16, bad audio (skipped / strict), bad inputs, and the reader."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from mirfeat.cache import (
    CacheReport,
    FeatureCache,
    build_cache,
    default_cache_path,
    ensure_cache,
    load_feature_config,
)
from mirfeat.cache.journal import journal_dir
from mirfeat.features import build_feature
from pyjama_tools.audio_store import AudioStore
from pyjama_tools.core.errors import MirError, ParameterError
from pyjama_tools.feature_file import chunk_frames

SR = 22050


def tone_mix(seconds: float, pitches_hz: list[float], seed: int) -> np.ndarray:
    """Harmonic tones (4 partials each) plus a little noise, float32, at SR."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = np.zeros_like(t)
    for f0 in pitches_hz:
        for h in range(1, 5):
            y += np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 2 * np.pi)) / (4 * h)
    y += 0.01 * rng.standard_normal(t.size)
    return y.astype(np.float32)


def make_store(path: Path, count: int = 6, seconds: float = 1.5, extra: dict[str, np.ndarray] | None = None) -> Path:
    """An audio store in the true layout: one 1-D float32 dataset per key, attribute sr_hz."""
    with h5py.File(path, "w") as store:
        for index in range(count):
            audio = tone_mix(seconds + 0.1 * index, [110.0 * (1 + index % 4), 196.0], seed=index)
            dataset = store.create_dataset(f"genre{index % 2}+++clip {index:02d}.wav", data=audio)
            dataset.attrs["sr_hz"] = SR
        for key, audio in (extra or {}).items():
            dataset = store.create_dataset(key, data=audio)
            dataset.attrs["sr_hz"] = SR
        store.attrs["sr_hz"] = SR
    return path


def snapshot(path: Path) -> dict:
    """Everything in a cache file: root attrs, and per key its arrays and attrs."""
    out: dict = {}
    with h5py.File(path, "r") as handle:
        out["attrs"] = {k: handle.attrs[k] for k in handle.attrs}
        for key, group in handle.items():
            out[key] = ({name: group[name][()] for name in group}, dict(group.attrs))
    return out


def assert_same_cache(a: Path, b: Path) -> None:
    left, right = snapshot(a), snapshot(b)
    assert sorted(left) == sorted(right)
    assert left["attrs"] == right["attrs"]
    for key in left:
        if key == "attrs":
            continue
        arrays_a, attrs_a = left[key]
        arrays_b, attrs_b = right[key]
        assert attrs_a == attrs_b
        assert sorted(arrays_a) == sorted(arrays_b)
        for name in arrays_a:
            assert arrays_a[name].dtype == arrays_b[name].dtype
            np.testing.assert_array_equal(arrays_a[name], arrays_b[name])


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return make_store(tmp_path / "toy_audio.hdf5")


# ----------------------------------------------------------------------------- layout and values


@pytest.mark.parametrize("feature, params", [
    ("lms", None),
    ("hcqt", {"harmonics": "0.5,1,2", "n_octaves": "4"}),
    ("cqt", {"bins_per_semitone": 1}),
    ("waveform", None),
])
def test_layout_and_values_equal_the_feature(store: Path, tmp_path: Path, feature: str, params) -> None:
    out = tmp_path / f"toy_{feature}.hdf5"
    report = build_cache(store, out, feature, params)
    assert isinstance(report, CacheReport)
    assert report.path == out and report.computed == 6 and report.skipped == [] and not report.noop
    computer = build_feature(feature, params)
    with h5py.File(out, "r") as handle:
        assert handle.attrs["feature"] == feature
        assert json.loads(handle.attrs["params"]) == computer.params.to_dict()
        assert handle.attrs["params_hash"] == computer.params.hash()
        source = json.loads(handle.attrs["source"])
        assert source["file"] == store.name and source["size"] == store.stat().st_size and source["keys"] == 6
        assert handle.attrs["mirfeat_version"]
        assert handle.attrs["dtype"] == "float32"
        assert bool(handle.attrs["complete"])
        audio = AudioStore(store)
        assert sorted(handle) == sorted(audio.keys())
        for key in audio.keys():
            # workers compute with one BLAS thread; so does the reference (bit-identical sums)
            with threadpool_limits(1):
                expected = computer.compute(audio.read(key), audio.sample_rate(key))
            group = handle[key]
            assert bool(group.attrs["complete"])
            value = group["value"]
            assert value.dtype == np.float32 and value.ndim == 3
            np.testing.assert_array_equal(value[()], expected.value)
            np.testing.assert_array_equal(group["time_sec"][()], expected.time_sec)
            if expected.frequency_hz is None:
                assert "frequency_hz" not in group
            else:
                np.testing.assert_array_equal(group["frequency_hz"][()], expected.frequency_hz)
            # chunked along time only, no compression by default
            channels, bins, frames = value.shape
            assert value.chunks == (channels, bins, chunk_frames(channels, bins, frames))
            assert value.compression is None
    assert not journal_dir(out).exists()


def test_chunking_rule() -> None:
    assert chunk_frames(6, 360, 5000) == 64          # HCQT: 64-frame chunks (~550 kB)
    assert chunk_frames(1, 128, 5000) == 64          # LMS: one patch length too
    assert chunk_frames(1, 360, 40) == 40            # never longer than the file
    assert chunk_frames(1, 1, 10 ** 6) == 16384      # waveform: long chunks


def test_reader(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "toy_lms.hdf5"
    build_cache(store, out, "lms")
    cache = FeatureCache(out)
    key = "genre1+++clip 03.wav"
    assert cache.feature == "lms" and cache.params["n_mels"] == 128 and len(cache.params_hash) == 16
    assert len(cache.keys()) == 6 and key in cache and len(cache) == 6
    full = cache.read(key)
    channels, bins, frames = cache.shape(key)
    assert full.shape == (channels, bins, frames) == (1, 128, cache.num_frames(key))
    assert cache.time_sec(key).shape == (frames,) and cache.frequency_hz(key).shape == (128,)
    patch = cache.read(key, 5, 37)
    assert patch.dtype == np.float32 and patch.shape == (1, 128, 32)
    np.testing.assert_array_equal(patch, full[:, :, 5:37])
    assert cache.read(key, 5, 5).shape == (1, 128, 0)
    with pytest.raises(MirError, match=r"frames 0:9999 outside 0:"):
        cache.read(key, 0, 9999)
    with pytest.raises(MirError, match=r"no key 'genre1\+\+\+clip 3.wav'.*did you mean"):
        cache.read("genre1+++clip 3.wav")
    # picklable: the copy reopens its own handle and reads the same data
    clone = pickle.loads(pickle.dumps(cache))
    np.testing.assert_array_equal(clone.read(key, 5, 37), patch)
    cache.close()
    clone.close()


def test_reader_bad_files(tmp_path: Path, store: Path) -> None:
    with pytest.raises(MirError, match="no such file"):
        FeatureCache(tmp_path / "missing.hdf5")
    text = tmp_path / "text.hdf5"
    text.write_text("not hdf5")
    with pytest.raises(MirError, match="not a readable HDF5 file"):
        FeatureCache(text)
    with pytest.raises(MirError, match="not a feature cache"):
        FeatureCache(store)


# ----------------------------------------------------------------------------- rerun behaviour


def test_rerun_is_a_noop_and_leaves_the_file_untouched(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "toy_lms.hdf5"
    build_cache(store, out, "lms")
    before = out.stat()
    report = build_cache(store, out, "lms", {"n_mels": "128"})  # same params, spelled as strings
    assert report.noop and report.computed == 0 and report.reused == 6
    after = out.stat()
    assert (after.st_mtime_ns, after.st_ino, after.st_size) == (before.st_mtime_ns, before.st_ino, before.st_size)


def test_changed_params_are_refused_then_overwritten(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "toy_lms.hdf5"
    build_cache(store, out, "lms")
    before = out.stat().st_mtime_ns
    with pytest.raises(MirError) as error:
        build_cache(store, out, "lms", {"hop_length": 512, "n_mels": 64})
    message = str(error.value)
    assert "\n" not in message and "hop_length 1024 → 512" in message and "n_mels 128 → 64" in message
    assert "--overwrite" in message
    with pytest.raises(MirError, match="feature 'lms' → 'cqt'"):
        build_cache(store, out, "cqt")
    with pytest.raises(MirError, match="dtype 'float32' → 'float16'"):
        build_cache(store, out, "lms", dtype="float16")
    assert out.stat().st_mtime_ns == before
    report = build_cache(store, out, "lms", {"hop_length": 512}, overwrite=True)
    assert report.computed == 6
    cache = FeatureCache(out)
    assert cache.params["hop_length"] == 512
    key = cache.keys()[0]
    assert cache.num_frames(key) == 1 + AudioStore(store).num_samples(key) // 512


def test_changed_audio_source_is_refused(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "toy_lms.hdf5"
    build_cache(store, out, "lms")
    with h5py.File(store, "a") as handle:
        handle.create_dataset("late+++new.wav", data=tone_mix(1.0, [220.0], 9)).attrs["sr_hz"] = SR
    with pytest.raises(MirError, match="audio source 'toy_audio.hdf5'"):
        build_cache(store, out, "lms")



def test_reconverted_audio_with_the_same_layout_is_refused(store: Path, tmp_path: Path) -> None:
    """Same keys, shapes, rates and file size, other samples (a reconversion with another gain or
    resampler): the cache of the old audio is not reused as if it were this audio's."""
    out = tmp_path / "toy_lms.hdf5"
    build_cache(store, out, "lms")
    size = store.stat().st_size
    with h5py.File(store, "a") as handle:
        for key in handle:
            handle[key][...] = np.asarray(handle[key][()]) * 0.5
    assert store.stat().st_size == size
    with pytest.raises(MirError, match=r"audio source 'toy_audio.hdf5' \(size, keys or audio changed\)"):
        build_cache(store, out, "lms")
    assert build_cache(store, out, "lms", overwrite=True).computed == 6
    assert build_cache(store, out, "lms").noop


def test_keys_subset_then_extension(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "toy_lms.hdf5"
    keys = AudioStore(store).keys()
    first = build_cache(store, out, "lms", keys=keys[:2])
    assert first.computed == 2 and FeatureCache(out).keys() == sorted(keys[:2])
    second = build_cache(store, out, "lms")
    assert second.computed == 4 and second.reused == 2
    full = tmp_path / "full_lms.hdf5"
    build_cache(store, full, "lms")
    assert_same_cache(out, full)
    # extending with another compression would leave keys stored unlike the root attribute says
    with pytest.raises(MirError, match=r"compression 'lzf' → 'none'"):
        lzf = tmp_path / "lzf.hdf5"
        build_cache(store, lzf, "lms", keys=keys[:2], compression="lzf")
        assert build_cache(store, lzf, "lms", keys=keys[:2], compression="lzf").noop
        build_cache(store, lzf, "lms")
    with pytest.raises(MirError, match=r"no audio key 'genre0\+\+\+clip 0.wav'.*did you mean"):
        build_cache(store, tmp_path / "x.hdf5", "lms", keys=["genre0+++clip 0.wav"])


def test_float16(store: Path, tmp_path: Path) -> None:
    out32, out16 = tmp_path / "a32.hdf5", tmp_path / "a16.hdf5"
    build_cache(store, out32, "lms")
    build_cache(store, out16, "lms", dtype="float16", compression="lzf")
    c32, c16 = FeatureCache(out32), FeatureCache(out16)
    assert c16.dtype == "float16"
    for key in c32.keys():
        with h5py.File(out16, "r") as handle:
            assert handle[key]["value"].dtype == np.float16
            assert handle[key]["value"].compression == "lzf"
        half = c16.read(key, 0, 20)
        assert half.dtype == np.float32  # reads are always float32
        np.testing.assert_allclose(half, c32.read(key, 0, 20), rtol=1e-3, atol=1e-3)
    assert out16.stat().st_size < out32.stat().st_size


def test_float16_overflow_is_an_error(tmp_path: Path) -> None:
    loud = make_store(tmp_path / "loud_audio.hdf5", count=1)
    with h5py.File(loud, "a") as handle:
        handle.create_dataset("loud+++x.wav", data=np.full(SR, 1e6, np.float32)).attrs["sr_hz"] = SR
    with pytest.raises(MirError, match=r"key 'loud\+\+\+x.wav'.*overflow dtype float16"):
        build_cache(loud, tmp_path / "w16.hdf5", "waveform", dtype="float16")
    assert not (tmp_path / "w16.hdf5").exists()


# ----------------------------------------------------------------------------- bad audio


def bad_store(tmp_path: Path) -> Path:
    nan = tone_mix(1.0, [220.0], 1)
    nan[100:110] = np.nan
    return make_store(tmp_path / "bad_audio.hdf5", count=3, extra={
        "bad+++nan.wav": nan,
        "bad+++empty.wav": np.zeros(0, np.float32),
        "bad+++short.wav": np.zeros(100, np.float32),  # shorter than one LMS frame (n_fft 2048)
    })


def test_bad_audio_is_skipped_and_reported(tmp_path: Path) -> None:
    store = bad_store(tmp_path)
    out = tmp_path / "bad_lms.hdf5"
    report = build_cache(store, out, "lms")
    assert report.computed == 3
    skipped = dict(report.skipped)
    assert sorted(skipped) == ["bad+++empty.wav", "bad+++nan.wav", "bad+++short.wav"]
    assert "NaN" in skipped["bad+++nan.wav"] and "empty" in skipped["bad+++empty.wav"]
    cache = FeatureCache(out)
    assert sorted(cache.skipped) == sorted(report.skipped)
    assert len(cache.keys()) == 3 and "bad+++nan.wav" not in cache
    with pytest.raises(MirError, match=r"key 'bad\+\+\+nan.wav' was skipped when the cache was built \(.*NaN"):
        cache.read("bad+++nan.wav")
    # the skipped keys count as done: a rerun is a no-op
    assert build_cache(store, out, "lms").noop


def test_bad_audio_with_strict_fails(tmp_path: Path) -> None:
    store = bad_store(tmp_path)
    out = tmp_path / "bad_lms.hdf5"
    with pytest.raises(MirError, match=r"key 'bad\+\+\+.*\(--strict\)"):
        build_cache(store, out, "lms", strict=True)
    assert not out.exists()


def test_strict_on_a_finished_cache_with_skipped_keys_fails(tmp_path: Path) -> None:
    """A cache that left bad files out is not 'already complete' to a --strict run."""
    store = bad_store(tmp_path)
    out = tmp_path / "bad_lms.hdf5"
    build_cache(store, out, "lms")
    before = out.stat().st_mtime_ns
    with pytest.raises(MirError, match=r"key 'bad\+\+\+.*\(--strict\)"):
        build_cache(store, out, "lms", strict=True)
    assert out.stat().st_mtime_ns == before
    good = [key for key in AudioStore(store).keys() if not key.startswith("bad")]
    assert build_cache(store, out, "lms", strict=True, keys=good).noop  # the good keys alone are fine


# ----------------------------------------------------------------------------- bad inputs


def test_bad_inputs(tmp_path: Path, store: Path) -> None:
    out = tmp_path / "out.hdf5"
    with pytest.raises(MirError, match="missing_audio.hdf5: no such file"):
        build_cache(tmp_path / "missing_audio.hdf5", out, "lms")
    text = tmp_path / "text_audio.hdf5"
    text.write_text("hello")
    with pytest.raises(MirError, match="not a readable HDF5 file"):
        build_cache(text, out, "lms")
    with pytest.raises(MirError, match="unknown feature 'lmss'.*did you mean lms"):
        build_cache(store, out, "lmss")
    with pytest.raises(ParameterError, match="unknown parameter 'hop'"):
        build_cache(store, out, "lms", {"hop": 3})
    with pytest.raises(ParameterError, match="hop_length"):
        build_cache(store, out, "lms", {"hop_length": "abc"})
    with pytest.raises(ParameterError, match="jobs=0"):
        build_cache(store, out, "lms", jobs=0)
    with pytest.raises(ParameterError, match="dtype='float64'"):
        build_cache(store, out, "lms", dtype="float64")
    with pytest.raises(ParameterError, match="backend='spark'"):
        build_cache(store, out, "lms", backend="spark")
    with pytest.raises(ParameterError, match="needs backend 'dask'"):
        build_cache(store, out, "lms", scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ParameterError, match="compression='zstd'"):
        build_cache(store, out, "lms", compression="zstd")
    empty = tmp_path / "empty_audio.hdf5"
    h5py.File(empty, "w").close()
    with pytest.raises(MirError, match="no audio datasets"):
        build_cache(empty, out, "lms")
    # a sample rate the parameters cannot handle fails before any work, naming key and rate
    low = tmp_path / "low_audio.hdf5"
    with h5py.File(low, "w") as handle:
        handle.create_dataset("slow+++a.wav", data=np.zeros(8000, np.float32)).attrs["sr_hz"] = 8000
    with pytest.raises(ParameterError, match=r"key 'slow\+\+\+a.wav' at 8000 Hz"):
        build_cache(low, out, "hcqt")
    assert not journal_dir(out).exists()  # failed before any work: no journal left behind
    with pytest.raises(MirError, match="no such folder"):
        build_cache(store, tmp_path / "missing" / "out.hdf5", "lms")
    assert not (tmp_path / "missing").exists()
    with pytest.raises(MirError, match="cannot be written over its own audio store"):
        build_cache(store, store, "lms", overwrite=True)
    assert AudioStore(store).keys()
    # an existing output that is not a cache is not silently replaced
    text_out = tmp_path / "notacache.hdf5"
    text_out.write_text("x")
    with pytest.raises(MirError, match="use --overwrite"):
        build_cache(store, text_out, "lms")
    assert not out.exists()


# ----------------------------------------------------------------------------- helpers


def test_default_cache_path_and_ensure(store: Path, tmp_path: Path) -> None:
    digest = build_feature("lms").params.hash()
    expected = tmp_path / f"toy_lms-{digest[:8]}_feat.hdf5"
    assert default_cache_path(store, "lms", digest) == expected
    assert default_cache_path(tmp_path / "other.hdf5", "cqt", "abcdef0123") == tmp_path / "other_cqt-abcdef01_feat.hdf5"
    path = ensure_cache(store, None, "lms")
    assert path == expected and len(FeatureCache(path).keys()) == 6
    mtime = path.stat().st_mtime_ns
    assert ensure_cache(store, None, "lms") == path and path.stat().st_mtime_ns == mtime
    with pytest.raises(MirError, match="n_mels 128 → 64"):
        ensure_cache(store, path, "lms", {"n_mels": 64})


def test_load_feature_config(tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("feature: hcqt\nparams:\n  harmonics: [0.5, 1, 2]\n  hop_length: 256\n")
    assert load_feature_config(plain) == ("hcqt", {"harmonics": [0.5, 1, 2], "hop_length": 256})
    tutorial = tmp_path / "tutorial.yaml"
    tutorial.write_text("dataset: {base: x}\nfeature:\n  type: lms\n  patch_L_frame: 64\n  patch_STEP_frame: 32\n"
                        "  params: {n_mels: 96}\n")
    assert load_feature_config(tutorial) == ("lms", {"n_mels": 96})
    broken = tmp_path / "broken.yaml"
    broken.write_text("feature: [lms\n")
    with pytest.raises(MirError, match=r"broken.yaml: invalid YAML at line"):
        load_feature_config(broken)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("feature: {type: lms, params: [1, 2]}\n")
    with pytest.raises(MirError, match=r"wrong.yaml: feature.params must be a mapping"):
        load_feature_config(wrong)
    number = tmp_path / "number.yaml"
    number.write_text("feature: 3\n")
    with pytest.raises(MirError, match=r"number.yaml: feature must be a feature name"):
        load_feature_config(number)
    with pytest.raises(MirError, match="no such file"):
        load_feature_config(tmp_path / "absent.yaml")


# ----------------------------------------------------------------------------- real audio


def test_real_clips_gtzan_and_bach10(tmp_path: Path) -> None:
    """A real GTZAN clip (22050 Hz) and a real Bach10 mix (44.1 kHz, resampled) through the store and the cache."""
    from conftest import fixture_path
    from pyjama_tools.audio_store import AudioSource, write_audio_store

    gtzan = fixture_path("gtzan_genre", "gtzan_genre", "genres", "country", "country.00000.wav")
    bach = fixture_path("bach10", "Bach10_v1.1", "01-AchGottundHerr", "01-AchGottundHerr.wav")
    store = tmp_path / "real_audio.hdf5"
    failures = write_audio_store(store, [("country+++country.00000.wav", AudioSource(gtzan)),
                                         ("01-AchGottundHerr+++01-AchGottundHerr.wav", AudioSource(bach))])
    assert failures == []
    out = tmp_path / "real_hcqt.hdf5"
    report = build_cache(store, out, "hcqt")
    assert report.computed == 2 and report.skipped == []
    cache, audio, hcqt = FeatureCache(out), AudioStore(store), build_feature("hcqt")
    for key in audio.keys():
        samples = audio.num_samples(key)
        assert cache.shape(key) == (6, 360, 1 + samples // 512)
        with threadpool_limits(1):
            expected = hcqt.compute(audio.read(key), audio.sample_rate(key)).value
        np.testing.assert_array_equal(cache.read(key, 100, 164), expected[:, :, 100:164])
    assert audio.duration("country+++country.00000.wav") == pytest.approx(30.0, abs=0.1)


def test_torch_backend_on_a_device(tmp_path):
    """--device computes with the torch backend: same layout, values within the backends' 1e-3 agreement."""
    from click.testing import CliRunner

    from mirfeat.cli import main

    rng = np.random.default_rng(0)
    audio = tmp_path / "t_audio.hdf5"
    with h5py.File(audio, "w") as f:
        for i in range(2):
            f.create_dataset(f"k{i}.wav", data=rng.standard_normal(22050).astype("float32")).attrs["sr_hz"] = 22050
    build_cache(audio, tmp_path / "ref.hdf5", "cqt", {"n_octaves": 4}, jobs=1)
    result = CliRunner().invoke(main, ["cache", str(audio), str(tmp_path / "dev.hdf5"), "--feature", "cqt",
                                       "--param", "n_octaves=4", "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    ref, dev = FeatureCache(tmp_path / "ref.hdf5"), FeatureCache(tmp_path / "dev.hdf5")
    assert dev.keys() == ref.keys() and dev.params_hash == ref.params_hash
    for key in ref.keys():
        np.testing.assert_array_equal(dev.time_sec(key), ref.time_sec(key))
        a, b = ref.read(key), dev.read(key)
        assert a.shape == b.shape
        assert np.linalg.norm(a - b) / np.linalg.norm(a) < 5e-3
    for device, message in (("meta", "not supported"), ("banana", "not a torch device")):
        bad = CliRunner().invoke(main, ["cache", str(audio), str(tmp_path / "bad.hdf5"), "--feature", "cqt",
                                        "--device", device, "--quiet"])
        assert bad.exit_code == 1 and message in bad.output and "Traceback" not in bad.output
    chroma = CliRunner().invoke(main, ["cache", str(audio), str(tmp_path / "bad.hdf5"), "--feature", "chroma",
                                       "--device", "cpu", "--quiet"])
    assert chroma.exit_code == 1 and "no torch backend" in chroma.output
    assert not (tmp_path / "bad.hdf5").exists()


def test_a_cache_of_an_older_feature_engine_is_refused(store: Path, tmp_path: Path) -> None:
    """The HCQT engine changed its values (revision 1): a cache computed before, with the same
    parameters, is refused by name instead of being reused as if current."""
    import hashlib

    out = tmp_path / "toy_cqt.hdf5"
    build_cache(store, out, "cqt")
    params = build_feature("cqt").params
    assert params.REVISION == 1
    old_hash = hashlib.sha256(params.to_json().encode()).hexdigest()[:16]  # what revision 0 wrote
    with h5py.File(out, "a") as handle:
        handle.attrs["params_hash"] = old_hash
    with pytest.raises(MirError) as error:
        build_cache(store, out, "cqt")
    message = str(error.value)
    assert "\n" not in message and "computed by an older version of the feature's code" in message
    assert "--overwrite" in message
    assert build_cache(store, out, "cqt", overwrite=True).computed == 6
