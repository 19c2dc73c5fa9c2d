"""pyjama_tools.feature_file: the one definition of the feature file, written by mirfeat's cache and
the Da-TACOS converter, read by one reader (FeatureCache, the patch reader, open_feature_file)."""

from __future__ import annotations

import json
import multiprocessing
import pickle

import h5py
import numpy as np
import pytest

from pyjama_tools.core.errors import MirError
from pyjama_tools.feature_file import (
    COMPLETE,
    FREQUENCY,
    ROOT_ATTRS,
    TIME,
    VALUE,
    FeatureFile,
    write_key,
    write_root_attrs,
)

HOP = 512 / 22050


def write_file(path, arrays, dtype="float16", skipped=()):
    """A feature file written with the module's writers."""
    with h5py.File(path, "w") as out:
        for key, value in arrays.items():
            write_key(out, key, value.astype(dtype), np.arange(value.shape[2]) * HOP, 100.0 * np.arange(1, 7))
        write_root_attrs(out, "cqt", {"n_bins": 6, "hop": 512}, "abc123", {"file": "x_audio.hdf5"},
                         "9.9", dtype=dtype, skipped=skipped)
    return path


def test_writer_and_reader_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"a+++one.wav": rng.standard_normal((2, 6, 90)).astype(np.float32),
              "b+++two.wav": rng.standard_normal((2, 6, 20)).astype(np.float32)}
    path = write_file(tmp_path / "f.hdf5", arrays, skipped=[("c+++bad.wav", "holds NaN")])
    with h5py.File(path, "r") as handle:
        assert set(handle.attrs) == set(ROOT_ATTRS)
        group = handle["a+++one.wav"]
        assert group.attrs[COMPLETE] and group[VALUE].chunks == (2, 6, 64)
        assert group[TIME].dtype == np.float64 and group[FREQUENCY].dtype == np.float64
    with FeatureFile(path) as reader:
        assert reader.feature == "cqt" and reader.params == {"n_bins": 6, "hop": 512}
        assert reader.params_hash == "abc123" and reader.dtype == "float16"
        assert reader.source == {"file": "x_audio.hdf5"} and reader.attrs["mirfeat_version"] == "9.9"
        assert reader.skipped == [("c+++bad.wav", "holds NaN")]
        assert reader.keys() == ["a+++one.wav", "b+++two.wav"] and len(reader) == 2
        assert reader.shape("a+++one.wav") == (2, 6, 90) and reader.num_frames("b+++two.wav") == 20
        block = reader.read("a+++one.wav", 10, 74)
        assert block.dtype == np.float32
        np.testing.assert_array_equal(block, arrays["a+++one.wav"][:, :, 10:74].astype(np.float16))
        np.testing.assert_allclose(reader.time_sec("b+++two.wav"), np.arange(20) * HOP)
        np.testing.assert_allclose(reader.frequency_hz("b+++two.wav"), 100.0 * np.arange(1, 7))
        with pytest.raises(MirError, match=r"no key 'a\+\+\+onw.wav' in the cache \(did you mean 'a\+\+\+one.wav'"):
            reader.read("a+++onw.wav")
        with pytest.raises(MirError, match="key 'c[+]{3}bad.wav' was skipped when the cache was built"):
            reader.read("c+++bad.wav")
        with pytest.raises(MirError, match=r"frames 0:99 outside 0:90"):
            reader.read("a+++one.wav", 0, 99)


def test_an_audio_store_is_not_a_feature_file(tmp_path):
    path = tmp_path / "x_audio.hdf5"
    with h5py.File(path, "w") as out:
        out.create_dataset("k", data=np.zeros(10, np.float32))
    with pytest.raises(MirError, match="not a feature cache"):
        FeatureFile(path)


def test_one_open_helper_names_a_folder_for_every_hdf5_reader(tmp_path):
    from pyjama_tools.core.hdf5 import open_hdf5

    folder = tmp_path / "features.hdf5"
    folder.mkdir()
    with pytest.raises(MirError) as caught:
        open_hdf5(folder)
    assert str(caught.value) == f"{folder}: is a folder, not an HDF5 file"
    with pytest.raises(MirError) as caught:
        FeatureFile(folder)  # open_feature_hdf5 through open_hdf5
    assert str(caught.value) == f"{folder}: is a folder, not a feature cache file"
    with pytest.raises(MirError, match=r"missing.hdf5: no such file$"):
        open_hdf5(tmp_path / "missing.hdf5")


def _da_tacos_corpus(root):
    """One Da-TACOS crema performance file (deepdish layout: (12, T)) and its metadata."""
    folder = root / "da-tacos_benchmark_subset_crema" / "W_1_crema"
    folder.mkdir(parents=True)
    array = np.random.default_rng(4).random((12, 70), dtype=np.float32)
    with h5py.File(folder / "P_1_crema.h5", "w") as handle:
        handle.attrs["label"] = np.bytes_(b"W_1")
        handle.attrs["track_id"] = np.bytes_(b"P_1")
        handle.create_dataset("crema", data=array)
    meta = root / "da-tacos_metadata"
    meta.mkdir()
    (meta / "da-tacos_benchmark_subset_metadata.json").write_text(json.dumps({"W_1": {"P_1": {}}}))
    return array


def _tone_store(tmp_path):
    import soundfile

    from pyjama_tools.audio_store import AudioSource, write_audio_store

    sr = 22050
    t = np.arange(sr) / sr
    soundfile.write(tmp_path / "x.wav", 0.3 * np.sin(2 * np.pi * 220.0 * t), sr)
    audio = tmp_path / "tones_audio.hdf5"
    write_audio_store(audio, [("x.wav", AudioSource(tmp_path / "x.wav"))], sample_rate=sr)
    return audio


def test_da_tacos_file_and_mirfeat_cache_are_read_by_the_same_reader(tmp_path):
    from mirfeat.cache import FeatureCache, build_cache
    from mirfeat.feature_pair import open_feature_file
    from mirfeat.patches import PatchDataset
    from pyjama_tools.convert import convert

    array = _da_tacos_corpus(tmp_path / "da-tacos")
    da_tacos = convert("da-tacos", tmp_path / "da-tacos", tmp_path / "out").payload_path
    cache = build_cache(_tone_store(tmp_path), tmp_path / "tones_lms_feat.hdf5", "lms").path
    assert FeatureCache is FeatureFile
    for path, key, feature in ((da_tacos, "W_1+++P_1", "crema"), (cache, "x.wav", "lms")):
        with h5py.File(path, "r") as handle:  # both writers wrote every root attribute of the layout
            assert set(handle.attrs) == set(ROOT_ATTRS)
        reader = open_feature_file(path)
        assert type(reader) is FeatureFile and reader.feature == feature and reader.keys() == [key]
        patches = PatchDataset(path, [key], None, 8, 8)
        window = reader.read(key, 8, 16)  # X is (C * F, L) without frequency_hz (the chroma), else (C, F, L)
        np.testing.assert_array_equal(patches[1]["X"].numpy().reshape(window.shape), window)
        reader.close()
    with FeatureFile(da_tacos) as reader:
        np.testing.assert_array_equal(reader.read("W_1+++P_1")[0], array)
        assert reader.frequency_hz("W_1+++P_1") is None
        np.testing.assert_allclose(reader.time_sec("W_1+++P_1"), np.arange(70) * 512 / 44100)


def test_a_file_in_the_old_writers_layout_still_reads(tmp_path):
    """Built by hand as the old mirfeat.cache_format.write_key and mirfeat.cache._write_root_attrs wrote it
    (before the compression attribute and the content hash were recorded)."""
    value = np.random.default_rng(1).standard_normal((1, 4, 300)).astype(np.float32)
    path = tmp_path / "old_lms_feat.hdf5"
    with h5py.File(path, "w") as out:
        group = out.create_group("k+++a.wav")
        group.create_dataset("value", data=value, chunks=(1, 4, 256))
        group.create_dataset("time_sec", data=np.arange(300) * HOP)
        group.create_dataset("frequency_hz", data=np.array([100.0, 200.0, 300.0, 400.0]))
        group.attrs["complete"] = True
        out.create_group("k+++half.wav").create_dataset("value", data=value)  # never completed
        out.attrs["feature"] = "lms"
        out.attrs["params"] = json.dumps({"n_mels": 4}, sort_keys=True)
        out.attrs["params_hash"] = "0123456789abcdef"
        out.attrs["source"] = json.dumps({"file": "k_audio.hdf5", "size": 1, "layout_sha1": "x", "keys": 1})
        out.attrs["dtype"] = "float32"
        out.attrs["mirfeat_version"] = "0.0.1"
        out.attrs["skipped"] = json.dumps([])
        out.attrs["complete"] = True
    from mirfeat.cache import FeatureCache
    from mirfeat.patches import PatchDataset

    with FeatureCache(path) as reader:
        assert reader.keys() == ["k+++a.wav"] and reader.params == {"n_mels": 4} and reader.skipped == []
        np.testing.assert_array_equal(reader.read("k+++a.wav", 250, 300), value[:, :, 250:])
        np.testing.assert_allclose(reader.frequency_hz("k+++a.wav"), [100.0, 200.0, 300.0, 400.0])
    item = PatchDataset(path, ["k+++a.wav"], None, 64, 32)[7]
    np.testing.assert_array_equal(item["X"].numpy(), value[:, :, 224:288])


def _in_child(reader, inherited, queue):
    """Runs in a forked child: the inherited handle is not used; reading opens this process's own."""
    before = reader.owns_handle
    block = reader.read("a", 0, 5)
    queue.put((before, reader.owns_handle, reader.file is not inherited, float(block.sum())))


def test_pickled_or_forked_reader_opens_a_fresh_handle(tmp_path):
    arrays = {"a": np.arange(2 * 6 * 30, dtype=np.float32).reshape(2, 6, 30)}
    path = write_file(tmp_path / "f.hdf5", arrays, dtype="float32")
    reader = FeatureFile(path)
    expected = float(reader.read("a", 0, 5).sum())
    assert reader.owns_handle
    clone = pickle.loads(pickle.dumps(reader))
    assert clone._file is None and not clone._datasets  # no h5py object crossed
    assert float(clone.read("a", 0, 5).sum()) == expected and clone.file is not reader.file
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_in_child, args=(reader, reader.file, queue))
    child.start()
    before, after, fresh, total = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0
    assert (before, after, fresh, total) == (False, True, True, expected)
    assert float(reader.read("a", 0, 5).sum()) == expected  # the parent's handle still works
    reader.close()
    clone.close()


def test_the_patch_reader_pickles_without_handle_or_descriptor(tmp_path):
    from mirfeat.patches import PatchDataset

    arrays = {"a": np.arange(2 * 6 * 64, dtype=np.float32).reshape(2, 6, 64)}
    path = write_file(tmp_path / "f.hdf5", arrays, dtype="float32")
    dataset = PatchDataset(path, ["a"], None, 16, 16)
    first = dataset[2]["X"].numpy()  # opens the file and its raw descriptor in this process
    assert isinstance(dataset._source, FeatureFile) and dataset._source.owns_handle
    assert dataset._source._fd is not None
    clone = pickle.loads(pickle.dumps(dataset))
    assert clone._source._file is None and clone._source._fd is None and not clone._source._raw
    np.testing.assert_array_equal(clone[2]["X"].numpy(), first)
    dataset.close()
    assert dataset._source._fd is None and not dataset._source.owns_handle
    np.testing.assert_array_equal(dataset[2]["X"].numpy(), first)  # reopens
    dataset.close()
    clone.close()


def test_layout_and_chunks_describe_a_key_and_the_patch_reader_keeps_unflagged_groups(tmp_path):
    from mirfeat.patches.sources import FeatureSource

    arrays = {"a": np.ones((2, 6, 90), np.float32)}
    path = write_file(tmp_path / "f.hdf5", arrays, dtype="float16")
    with h5py.File(path, "a") as out:  # a hand-made group without the complete flag, and an unfinished one
        out.create_group("bare").create_dataset(VALUE, data=np.zeros((1, 6, 10), np.float32))
        out.create_group("half").create_dataset(VALUE, data=np.zeros((1, 6, 10), np.float32))
        out["half"].attrs[COMPLETE] = False
    with FeatureFile(path) as reader:
        layout = reader.layout("a")
        assert layout.shape == (2, 6, 90) and layout.chunks == (2, 6, 64) == reader.chunks("a")
        assert layout.itemsize == 2
        np.testing.assert_allclose(layout.time_sec, np.arange(90) * HOP)
        np.testing.assert_allclose(layout.frequency_hz, 100.0 * np.arange(1, 7))
        assert reader.keys() == ["a"] and "bare" not in reader  # the strict reader wants the flag
        with pytest.raises(MirError, match=r"f.hdf5: feature of key 'bare' is incomplete"):
            reader.layout("bare")
    source = FeatureSource(path, 16)
    assert source.keys() == ["a", "bare"] and "half" not in source  # the patch reader: unflagged = complete
    bare = source.layout("bare")
    assert bare.shape == (1, 6, 10) and bare.time_sec is None and bare.frequency_hz is None
    with pytest.raises(MirError, match=r"feature of key 'half' is incomplete \(resume the cache\)$"):
        source.describe(["a", "half"])
    with pytest.raises(MirError, match=r"no feature for key 'zzz'$"):
        source.describe(["zzz"])
    source.close()
