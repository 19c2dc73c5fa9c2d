"""Patch index, lazy / in-memory patch datasets, waveform patches, whole files, the K×P work sampler."""

from __future__ import annotations

import os
import pickle

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from mirfeat.patches import FileDataset, PatchBatch, PatchDataset, WorkBatchSampler, collate, patch_starts
from mirfeat.targets import IGNORE_INDEX, TargetSpec, build_target
from pyjama_tools.core.errors import MirError, ParameterError
from pyjama_tools.pyjama import PyjamaDoc, global_atoms, segment_atoms

HOP = 512 / 22050


def write_cache(path, arrays: dict, frequency=True, dtype="float32", chunk_frames=16, complete=True):
    """A feature cache in the documented layout: /<key>/value (C, F, T) chunked along time, time_sec, frequency_hz."""
    with h5py.File(path, "w") as out:
        out.attrs["feature"] = "cqt"
        out.attrs["params"] = "{}"
        for key, value in arrays.items():
            group = out.create_group(key)
            c, f, t = value.shape
            group.create_dataset("value", data=value.astype(dtype), chunks=(c, f, min(chunk_frames, t)))
            group.create_dataset("time_sec", data=np.arange(t) * HOP)
            if frequency:
                group.create_dataset("frequency_hz", data=32.7 * 2 ** (np.arange(f) / 12))
            group.attrs["complete"] = complete
    return path


def make_doc(keys, rng):
    doc = PyjamaDoc()
    doc.define("genre", "global")
    doc.define("chord", "segment")
    doc.define("notes", "segment", "numeric")
    doc.define("work-id", "global")
    for i, key in enumerate(keys):
        bounds = np.sort(rng.uniform(0, 3, 8))
        doc.add_entry(key, {
            "genre": global_atoms([["rock", "jazz", "pop"][i % 3]]),
            "chord": segment_atoms(bounds[:-1], np.diff(bounds), rng.choice(["C:maj", "A:min", "G:7"], 7)),
            "notes": segment_atoms(rng.uniform(0, 3, 10), rng.uniform(0.1, 1, 10), rng.integers(30, 60, 10)),
            "work-id": global_atoms([str(i // 2)]),
        })
    return doc


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(0)
    lengths = {"a+++one.wav": 130, "b+++two.wav": 64, "c+++three.wav": 40, "d+++four.wav": 97}
    arrays = {k: rng.standard_normal((2, 24, t)).astype(np.float32) for k, t in lengths.items()}
    path = write_cache(tmp_path / "set_cqt_feat.hdf5", arrays)
    return path, arrays, make_doc(list(arrays), rng)


# ----------------------------------------------------------------------------- index


def test_patch_starts_rule():
    for num_frames in range(0, 60):
        for length in (1, 5, 16):
            for hop in (1, 3, 16, 20):
                expected = [s for s in range(0, num_frames) if s + length <= num_frames][::hop]
                assert patch_starts(num_frames, length, hop).tolist() == expected
                count = (num_frames - length) // hop + 1 if num_frames >= length else 0
                assert len(expected) == count


@pytest.mark.parametrize("args, match", [((10, 0, 1), "patch_length 0"), ((10, 4, -2), "patch_hop -2"),
                                         ((-1, 4, 2), "num_frames -1"), ((10, 2.5, 1), "patch_length 2.5")])
def test_patch_starts_bad(args, match):
    with pytest.raises(ParameterError, match=match):
        patch_starts(*args)


# ----------------------------------------------------------------------------- PatchDataset


def test_items_are_the_cache_windows_and_targets(data):
    path, arrays, doc = data
    target = build_target(TargetSpec("framelabel", "chord", chord_vocabulary="majmin"), doc)
    dataset = PatchDataset(path, list(arrays), target, patch_length=64, patch_hop=16)
    assert dataset.input_shape == (2, 24, 64)
    assert dataset.short_keys == ["c+++three.wav"]
    expected_index = [(f, s) for f, k in enumerate(arrays) for s in patch_starts(arrays[k].shape[2], 64, 16)]
    assert dataset.index.tolist() == [list(x) for x in expected_index]
    assert len(dataset) == 5 + 1 + 0 + 3
    time_sec = {k: np.arange(a.shape[2]) * HOP for k, a in arrays.items()}
    for i in range(len(dataset)):
        item = dataset[i]
        key, start = item["key"], item["start"]
        assert item["X"].dtype == torch.float32 and tuple(item["X"].shape) == (2, 24, 64)
        np.testing.assert_array_equal(item["X"].numpy(), arrays[key][:, :, start:start + 64])
        np.testing.assert_array_equal(item["y"].numpy(), target.for_file(key, time_sec[key])[start:start + 64])
        assert item["y"].dtype == torch.int64
    with pytest.raises(IndexError):
        dataset[len(dataset)]
    np.testing.assert_array_equal(dataset[-1]["X"].numpy(), dataset[len(dataset) - 1]["X"].numpy())


def test_pitch_patches_and_global_targets(data):
    path, arrays, doc = data
    pitch = build_target(TargetSpec("pitch", "notes"), doc)
    dataset = PatchDataset(path, ["a+++one.wav"], pitch, 32, 32)
    assert pitch.num_outputs == 24
    item = dataset[2]
    assert tuple(item["y"].shape) == (24, 32) and item["y"].dtype == torch.float32
    frequency = 32.7 * 2 ** (np.arange(24) / 12)
    full = pitch.for_file("a+++one.wav", np.arange(130) * HOP, frequency)
    np.testing.assert_array_equal(item["y"].numpy(), full[:, 64:96])
    genre = build_target(TargetSpec("multiclass", "genre"), doc)
    batch = next(iter(DataLoader(PatchDataset(path, list(arrays), genre, 64, 64), batch_size=4)))
    assert batch["y"].tolist() == [genre.vocabulary.index(g) for g in ["rock", "rock", "jazz", "rock"]]
    assert batch["key"] == ["a+++one.wav", "a+++one.wav", "b+++two.wav", "d+++four.wav"]
    assert batch["start"].tolist() == [0, 64, 0, 0]


def test_in_memory_equals_lazy(data):
    path, arrays, doc = data
    target = build_target(TargetSpec("multilabel", "genre"), doc)
    lazy = PatchDataset(path, list(arrays), target, 20, 7)
    memory = PatchDataset(path, list(arrays), target, 20, 7, in_memory=True)
    assert len(lazy) == len(memory)
    for i in range(len(lazy)):
        a, b = lazy[i], memory[i]
        assert torch.equal(a["X"], b["X"]) and torch.equal(a["y"], b["y"]) and a["key"] == b["key"]


def test_getitems_reads_sorted_returns_in_order(data):
    path, arrays, doc = data
    dataset = PatchDataset(path, list(arrays), None, 16, 8)
    order = [7, 0, 30, 3, 7, 12]
    items = dataset.__getitems__(order)
    for i, item in zip(order, items):
        assert item["start"] == dataset[i]["start"] and torch.equal(item["X"], dataset[i]["X"])
        assert "y" not in item


def _same_batch(a, b):
    assert set(a) == set(b)
    for name in a:
        if isinstance(a[name], torch.Tensor):
            assert a[name].dtype == b[name].dtype and torch.equal(a[name], b[name]), name
        else:
            assert a[name] == b[name], name


@pytest.mark.parametrize("kind", ["framelabel", "multiclass", "pitch", None])
def test_batch_is_read_into_one_tensor_and_collates_without_copy(data, kind):
    path, arrays, doc = data
    field = {"framelabel": "chord", "multiclass": "genre", "pitch": "notes"}.get(kind)
    target = None if kind is None else build_target(TargetSpec(kind, field), doc)
    dataset = PatchDataset(path, list(arrays), target, 16, 8)
    order = [7, 0, 30, 3, 7, -1, 12]
    batch = dataset.__getitems__(order)
    assert isinstance(batch, PatchBatch) and isinstance(batch, list) and len(batch) == len(order)
    x = batch.collated["X"]
    assert tuple(x.shape) == (len(order), 2, 24, 16) and x.is_contiguous()
    for j, (i, item) in enumerate(zip(order, batch)):  # each item is dataset[i], its X a row of the batch
        _same_batch(item, dataset[i])
        assert item["X"].data_ptr() == x[j].data_ptr()
    fast, slow = collate(batch), torch.utils.data.default_collate(batch)
    _same_batch(fast, slow)  # what torch's collate builds from the items, without its copy
    _same_batch(fast, torch.utils.data.default_collate([dataset[i] for i in order]))
    assert fast["X"].data_ptr() == x.data_ptr() and slow["X"].data_ptr() != x.data_ptr()
    assert fast["start"].dtype == torch.int64 and isinstance(fast["key"], list)
    del batch[0]  # an edited list is no longer its batch: collate falls back to torch's
    assert collate(batch)["X"].shape[0] == len(order) - 1 and collate([dataset[0]])["key"] == [dataset[0]["key"]]


def test_getitems_bad_indices(data):
    path, arrays, doc = data
    dataset = PatchDataset(path, list(arrays), None, 16, 8)
    with pytest.raises(IndexError, match=f"patch {len(dataset)} out of range"):
        dataset.__getitems__([0, len(dataset)])
    with pytest.raises(IndexError, match="out of range"):
        dataset.__getitems__([-len(dataset) - 1])
    with pytest.raises(IndexError, match="empty batch"):
        dataset.__getitems__([])


def test_in_memory_and_waveform_batches(data, tmp_path):
    path, arrays, doc = data
    lazy = PatchDataset(path, list(arrays), None, 20, 7)
    memory = PatchDataset(path, list(arrays), None, 20, 7, in_memory=True)
    order = list(range(len(lazy)))[::-1]
    _same_batch(collate(lazy.__getitems__(order)), collate(memory.__getitems__(order)))
    wave = write_cache(tmp_path / "wave.hdf5", {"k": np.arange(100, dtype=np.float32).reshape(1, 1, 100)},
                       frequency=False)
    batch = collate(PatchDataset(wave, ["k"], None, 30, 25).__getitems__([2, 0]))
    assert batch["X"].tolist() == [[list(range(50, 80))], [list(range(0, 30))]]


def test_pin_memory_option(data):
    path, arrays, doc = data
    with pytest.raises(ParameterError, match="pin_memory 'yes' must be true, false or None"):
        PatchDataset(path, list(arrays), None, 16, 8, pin_memory="yes")
    pinned = PatchDataset(path, list(arrays), None, 16, 8, pin_memory=True)
    x = collate(pinned.__getitems__([0, 1]))["X"]  # pinned where an accelerator allows it, else plain memory
    assert x.is_pinned() == torch.cuda.is_available()
    torch.testing.assert_close(x, collate(PatchDataset(path, list(arrays), None, 16, 8).__getitems__([0, 1]))["X"])


def test_whole_chunk_windows_are_read_straight_into_the_batch(tmp_path, monkeypatch):
    """With chunk_frames == patch_length, aligned windows are one preadv into the batch row itself."""
    import mirfeat.patches.raw as raw

    value = np.random.default_rng(3).standard_normal((2, 5, 64)).astype(np.float32)
    path = write_cache(tmp_path / "aligned.hdf5", {"k": value}, chunk_frames=16)
    dataset = PatchDataset(path, ["k"], None, 16, 8)  # starts 0, 8, ..., 48: even ones are whole chunks
    targets = []
    real = os.preadv

    def spy(fd, buffers, offset):
        targets.append(np.asarray(buffers[0]).__array_interface__["data"][0])
        return real(fd, buffers, offset)

    monkeypatch.setattr(raw.os, "preadv", spy)
    order = [6, 0, 3, 2]  # starts 48, 0, 24, 16: read as 0, 16, 24 (chunks 1-2, via the buffer), 48
    batch = dataset.__getitems__(order)
    x = batch.collated["X"]
    for j, i in enumerate(order):
        start = dataset.index[i][1]
        np.testing.assert_array_equal(x[j].numpy(), value[:, :, start:start + 16])
    rows = {x[j].data_ptr() for j, i in enumerate(order) if dataset.index[i][1] % 16 == 0}
    assert rows and rows <= set(targets)  # whole-chunk windows landed in their batch rows directly


def _batches(dataset, num_workers, epochs=2, collate_fn=None):
    sampler = torch.utils.data.RandomSampler(dataset, generator=torch.Generator().manual_seed(7))
    loader = DataLoader(dataset, batch_size=5, sampler=sampler, num_workers=num_workers,
                        persistent_workers=num_workers > 0, collate_fn=collate_fn)
    return [batch for _ in range(epochs) for batch in loader]


def test_workers_give_identical_batches_in_order(data):
    path, arrays, doc = data
    target = build_target(TargetSpec("framelabel", "chord"), doc)
    dataset = PatchDataset(path, list(arrays), target, 16, 5)
    dataset[0]  # the main process opens the file before the workers fork: they must reopen it
    serial = _batches(dataset, 0)
    parallel = _batches(dataset, 2)
    assert len(serial) == len(parallel) == 2 * ((len(dataset) + 4) // 5)
    for a, b in zip(serial, parallel):
        assert torch.equal(a["X"], b["X"]) and torch.equal(a["y"], b["y"])
        assert a["key"] == b["key"] and isinstance(a["key"], list) and isinstance(a["key"][0], str)
    assert not torch.equal(serial[0]["X"], serial[len(serial) // 2]["X"])  # the second epoch is reshuffled
    fast = _batches(dataset, 2, collate_fn=collate)  # batches made in the workers' shared memory, not copied
    assert len(fast) == len(serial)
    for a, b in zip(serial, fast):
        _same_batch(a, b)
        assert b["X"].is_shared()


def test_pickles_without_handle(data):
    path, arrays, doc = data
    dataset = PatchDataset(path, list(arrays), None, 16, 16)
    first = dataset[3]
    clone = pickle.loads(pickle.dumps(dataset))
    assert torch.equal(clone[3]["X"], first["X"])
    dataset.close()
    assert torch.equal(dataset[3]["X"], first["X"])  # reopens


def test_float16_cache_reads_float32(tmp_path):
    arrays = {"k": np.random.default_rng(1).standard_normal((1, 8, 50)).astype(np.float32)}
    path = write_cache(tmp_path / "half.hdf5", arrays, dtype="float16")
    item = PatchDataset(path, ["k"], None, 10, 10)[2]
    assert item["X"].dtype == torch.float32
    np.testing.assert_array_equal(item["X"].numpy(), arrays["k"][:, :, 20:30].astype(np.float16).astype(np.float32))


def test_waveform_cache_without_frequency_gives_channels_by_length(tmp_path):
    arrays = {"k": np.arange(100, dtype=np.float32).reshape(1, 1, 100)}
    path = write_cache(tmp_path / "wave.hdf5", arrays, frequency=False)
    dataset = PatchDataset(path, ["k"], None, 30, 25)
    assert dataset.input_shape == (1, 30) and len(dataset) == 3
    assert dataset[1]["X"].tolist() == [list(range(25, 55))]


def test_with_a_cache_built_by_mirfeat_cache(tmp_path):
    cache = pytest.importorskip("mirfeat.cache")
    import soundfile

    from pyjama_tools.audio_store import AudioSource, write_audio_store

    sr = 22050
    t = np.arange(int(1.5 * sr)) / sr
    for name, freq in (("x.wav", 220.0), ("y.wav", 330.0)):
        soundfile.write(tmp_path / name, 0.3 * np.sin(2 * np.pi * freq * t), sr)
    audio = tmp_path / "tones_audio.hdf5"
    write_audio_store(audio, [(n, AudioSource(tmp_path / n)) for n in ("x.wav", "y.wav")], sample_rate=sr)
    out = tmp_path / "tones_lms_feat.hdf5"
    cache.build_cache(audio, out, "lms")
    reader = cache.FeatureCache(out)
    dataset = PatchDataset(out, ["x.wav", "y.wav"], None, 8, 4)
    assert dataset.input_shape == (1, 128, 8)
    assert len(dataset) == 2 * len(patch_starts(reader.num_frames("x.wav"), 8, 4))
    item = dataset[len(dataset) - 1]
    np.testing.assert_array_equal(item["X"].numpy(), reader.read(item["key"], item["start"], item["start"] + 8))
    # waveform patches straight from the audio store
    doc = PyjamaDoc()
    doc.define("genre", "global")
    doc.add_entry("x.wav", {"genre": global_atoms(["low"])})
    doc.add_entry("y.wav", {"genre": global_atoms(["high"])})
    target = build_target(TargetSpec("multiclass", "genre"), doc)
    wave = PatchDataset.from_audio(audio, ["x.wav", "y.wav"], target, 3200, 1000)
    assert wave.input_shape == (1, 3200)
    assert len(wave) == 2 * ((len(t) - 3200) // 1000 + 1)
    item = wave[len(wave) - 1]
    from pyjama_tools.audio_store import AudioStore

    expected = AudioStore(audio).read("y.wav", item["start"], item["start"] + 3200)
    np.testing.assert_array_equal(item["X"].numpy(), expected[None, :])
    assert target.vocabulary[int(item["y"])] == "high"
    frames = PatchDataset.from_audio(audio, ["x.wav"], None, 3200, 1000, in_memory=True)
    assert torch.equal(frames[5]["X"], wave[5]["X"])
    batch = collate(wave.__getitems__([len(wave) - 1, 5]))  # a batch of waveform patches: (B, 1, L)
    assert tuple(batch["X"].shape) == (2, 1, 3200) and torch.equal(batch["X"][0], item["X"])
    assert torch.equal(batch["X"][1], wave[5]["X"]) and batch["y"].tolist() == [int(item["y"]), int(wave[5]["y"])]


# ----------------------------------------------------------------------------- FileDataset


def test_file_dataset_crop_or_pad(data):
    path, arrays, doc = data
    target = build_target(TargetSpec("framelabel", "chord"), doc)
    dataset = FileDataset(path, list(arrays), target, crop_or_pad=100)
    assert dataset.input_shape == (2, 24, 100) and len(dataset) == 4
    long, short = dataset[0], dataset[2]  # 130 frames cropped, 40 frames padded
    np.testing.assert_array_equal(long["X"].numpy(), arrays["a+++one.wav"][:, :, :100])
    np.testing.assert_array_equal(short["X"].numpy()[:, :, :40], arrays["c+++three.wav"])
    assert not short["X"][:, :, 40:].any() and short["num_frames"] == 40 and long["num_frames"] == 100
    full_y = target.for_file("c+++three.wav", np.arange(40) * HOP)
    np.testing.assert_array_equal(short["y"].numpy()[:40], full_y)
    assert (short["y"][40:] == IGNORE_INDEX).all()
    batch = next(iter(DataLoader(dataset, batch_size=4)))
    assert tuple(batch["X"].shape) == (4, 2, 24, 100) and tuple(batch["y"].shape) == (4, 100)
    pitch = build_target(TargetSpec("pitch", "notes"), doc)
    padded = FileDataset(path, ["c+++three.wav"], pitch, crop_or_pad=64)[0]
    assert tuple(padded["y"].shape) == (24, 64) and not padded["y"][:, 40:].any()
    whole = FileDataset(path, ["d+++four.wav"], None)[0]
    assert tuple(whole["X"].shape) == (2, 24, 97) and dataset.__class__(path, ["b+++two.wav"], None).input_shape is None


def test_file_dataset_global_targets_are_0d_like_patch_dataset(data):
    """Whole-file items keep the contract's y shapes: multiclass / clique 0-d, batched to (B,), as patches do."""
    path, arrays, doc = data
    for kind, field in (("multiclass", "genre"), ("clique", "work-id")):
        target = build_target(TargetSpec(kind, field), doc)
        item = FileDataset(path, list(arrays), target, crop_or_pad=32)[1]
        assert item["y"].shape == () and item["y"].dtype == torch.int64
        assert int(item["y"]) == int(target.for_file("b+++two.wav"))
        patch = PatchDataset(path, list(arrays), target, patch_length=32, patch_hop=32)[0]
        assert item["y"].shape == patch["y"].shape
        batch = next(iter(DataLoader(FileDataset(path, list(arrays), target, crop_or_pad=32), batch_size=4)))
        assert tuple(batch["y"].shape) == (4,)


# ----------------------------------------------------------------------------- WorkBatchSampler


def test_work_batch_sampler():
    work_ids = [0] * 6 + [1] * 2 + [2] * 5 + [3] * 1 + [4] * 4 + [5] * 3
    sampler = WorkBatchSampler(work_ids, works_per_batch=2, performances_per_work=4, seed=3)
    assert len(sampler) == 3
    first = list(sampler)
    assert len(first) == 3
    seen_works = []
    for batch in first:
        assert len(batch) == 8
        works = [work_ids[i] for i in batch]
        groups = [works[j:j + 4] for j in (0, 4)]
        for group, indices in zip(groups, (batch[:4], batch[4:])):
            assert len(set(group)) == 1  # P items of one work, consecutive
            work = group[0]
            members = work_ids.count(work)
            if members >= 4:
                assert len(set(indices)) == 4  # without replacement
            seen_works.append(work)
        assert len({g[0] for g in groups}) == 2  # K different works
    assert sorted(seen_works) == list(range(6))  # every work once per epoch
    second = list(sampler)
    assert first != second  # a new epoch draws again
    sampler.set_epoch(0)
    assert list(sampler) == first  # reproducible
    assert list(WorkBatchSampler(work_ids, 2, 4, seed=3)) == first
    strict = WorkBatchSampler(work_ids, 5, 2, min_performances=2)
    assert len(strict) == 1 and 13 not in sum(list(strict), [])  # the single-performance work is left out


def test_work_batch_sampler_with_dataloader(data):
    path, arrays, doc = data
    target = build_target(TargetSpec("clique", "work-id"), doc)
    dataset = FileDataset(path, list(arrays), target, crop_or_pad=50)
    sampler = WorkBatchSampler(target.work_ids(dataset.keys), works_per_batch=2, performances_per_work=2)
    batches = list(DataLoader(dataset, batch_sampler=sampler))
    assert len(batches) == 1
    assert tuple(batches[0]["X"].shape) == (4, 2, 24, 50)
    y = batches[0]["y"].tolist()
    assert y[0] == y[1] and y[2] == y[3] and y[0] != y[2]


@pytest.mark.parametrize("kwargs, match", [(dict(work_ids=[]), "non-empty"),
                                           (dict(work_ids=[0, 1], works_per_batch=3), "works_per_batch 3 is more"),
                                           (dict(work_ids=[0, 1], performances_per_work=0), "performances_per_work 0")])
def test_work_batch_sampler_bad(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        WorkBatchSampler(**kwargs)


# ----------------------------------------------------------------------------- bad input


def test_bad_inputs(tmp_path, data):
    path, arrays, doc = data
    with pytest.raises(MirError, match="nothere.hdf5: no such file"):
        PatchDataset(tmp_path / "nothere.hdf5", ["k"], None, 4, 4)
    (tmp_path / "text.hdf5").write_text("not hdf5")
    with pytest.raises(MirError, match="text.hdf5: not a readable HDF5 file"):
        PatchDataset(tmp_path / "text.hdf5", ["k"], None, 4, 4)
    with pytest.raises(MirError, match="no feature for key 'zzz'"):
        PatchDataset(path, ["a+++one.wav", "zzz"], None, 4, 4)
    with pytest.raises(MirError, match="no patch: every file is shorter than patch_length=200"):
        PatchDataset(path, list(arrays), None, 200, 4)
    with pytest.raises(MirError, match="no keys to read"):
        PatchDataset(path, [], None, 4, 4)
    with pytest.raises(ParameterError, match="patch_hop 0"):
        PatchDataset(path, ["a+++one.wav"], None, 4, 0)
    incomplete = write_cache(tmp_path / "partial.hdf5", {"k": np.zeros((1, 4, 10), np.float32)}, complete=False)
    with pytest.raises(MirError, match="feature of key 'k' is incomplete"):
        PatchDataset(incomplete, ["k"], None, 4, 4)
    mixed = write_cache(tmp_path / "mixed.hdf5", {"k": np.zeros((1, 4, 10), np.float32),
                                                 "j": np.zeros((1, 5, 10), np.float32)})
    with pytest.raises(MirError, match=r"different \(C, F\) shapes"):
        PatchDataset(mixed, ["k", "j"], None, 4, 4)
    wave = write_cache(tmp_path / "wave.hdf5", {"k": np.zeros((1, 1, 10), np.float32)}, frequency=False)
    pitch_doc = PyjamaDoc()
    pitch_doc.define("notes", "segment", "numeric")
    pitch_doc.add_entry("k", {"notes": segment_atoms([0.0], [1.0], [60])})
    with pytest.raises(ParameterError, match="features without a frequency axis cannot hold pitch"):
        PatchDataset(wave, ["k"], build_target(TargetSpec("pitch", "notes"), pitch_doc), 4, 4)
    bad_doc = make_doc(["a+++one.wav"], np.random.default_rng(0))
    bad_doc.entries[0]["genre"] = []
    with pytest.raises(MirError, match=r"entry 0 \('a\+\+\+one.wav'\), field 'genre': multiclass needs exactly one"):
        PatchDataset(path, ["a+++one.wav"], build_target(TargetSpec("multiclass", "genre"), bad_doc), 4, 4)
    with pytest.raises(MirError, match="no audio key 'nope'"):
        from pyjama_tools.audio_store import AudioSource  # noqa: F401

        audio = tmp_path / "a_audio.hdf5"
        with h5py.File(audio, "w") as out:
            out.create_dataset("x", data=np.zeros(100, np.float32)).attrs["sr_hz"] = 22050
        PatchDataset.from_audio(audio, ["nope"], None, 10, 10)
    # a feature cache given where the audio store belongs
    with pytest.raises(MirError, match=r"'a\+\+\+one.wav' is a group, not an audio waveform"):
        PatchDataset.from_audio(path, ["a+++one.wav"], None, 10, 10)


@pytest.mark.parametrize("layout", ["raw", "float16", "big_endian", "lzf", "chunked_on_bins", "unallocated"])
def test_every_window_for_every_layout(tmp_path, layout):
    """Every window, one by one and as one batch, equals the stored values (float16 read as float32)."""
    from mirfeat.patches.raw import RawChunks

    value = np.random.default_rng(2).standard_normal((2, 6, 77)).astype(np.float32)
    stored = {"float16": "<f2", "big_endian": ">f4"}.get(layout, "<f4")
    path = tmp_path / f"{layout}.hdf5"
    with h5py.File(path, "w") as out:
        group = out.create_group("k")
        chunks = (2, 3, 16) if layout == "chunked_on_bins" else (2, 6, 16)
        dataset = group.create_dataset("value", shape=value.shape, dtype=stored, chunks=chunks,
                                       compression="lzf" if layout == "lzf" else None)
        if layout == "unallocated":
            value[:, :, 32:48] = 0.0  # this chunk is never written: HDF5 returns the fill value
            dataset[:, :, :32] = value[:, :, :32]
            dataset[:, :, 48:] = value[:, :, 48:]
        else:
            dataset[...] = value
        group.create_dataset("time_sec", data=np.arange(77) * HOP)
        group.create_dataset("frequency_hz", data=100.0 * np.arange(1, 7))
    value = value.astype(stored).astype(np.float32)
    with h5py.File(path, "r") as handle:
        assert RawChunks.eligible(handle["k"]["value"]) == (layout in ("raw", "float16", "unallocated"))
    for length in (1, 5, 16, 33, 77):
        dataset = PatchDataset(path, ["k"], None, length, 1)
        for i in range(len(dataset)):
            item = dataset[i]
            assert item["X"].dtype == torch.float32
            np.testing.assert_array_equal(item["X"].numpy(), value[:, :, item["start"]:item["start"] + length])
        order = np.random.default_rng(length).permutation(len(dataset))
        batch = collate(PatchDataset(path, ["k"], None, length, 1).__getitems__(order.tolist()))
        want = np.stack([value[:, :, s:s + length] for s in order])
        np.testing.assert_array_equal(batch["X"].numpy(), want)


def _descriptors(path) -> int:
    """How many descriptors of this process are open on ``path``."""
    target = os.path.realpath(path)
    links = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            links.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue
    return sum(link == target for link in links)


def _reopen_in_child(source, queue):
    """In a forked worker: read (reopening the inherited source), then close and reopen it a few times."""
    before = _descriptors(source.path)
    out = np.empty((1, 4, 8), np.float32)
    source.read_into("k", 0, out)
    first = _descriptors(source.path)
    for _ in range(5):
        source.close()
        source.read_into("k", 0, out)
    queue.put((before, first, _descriptors(source.path)))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd") or not hasattr(os, "fork"), reason="needs /proc and fork")
def test_a_worker_that_reopens_the_feature_file_does_not_grow_its_descriptors(tmp_path):
    import multiprocessing

    from mirfeat.patches.sources import FeatureSource

    path = write_cache(tmp_path / "c.hdf5", {"k": np.arange(4 * 40, dtype=np.float32).reshape(1, 4, 40)})
    source = FeatureSource(path, 8)
    source.describe(["k"])
    out = np.empty((1, 4, 8), np.float32)
    source.read_into("k", 0, out)  # the parent opens the file and its raw descriptor
    assert source._fd is not None
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_reopen_in_child, args=(source, queue))
    child.start()
    before, first, last = queue.get(timeout=60)
    child.join(60)
    # the child's copy of the parent's raw descriptor is closed when it opens its own (HDF5 shares the
    # file it already has open), and closing then reopening in the same process adds nothing
    assert before >= 2 and first == before and last == first
    source.read_into("k", 0, out)  # the parent's descriptor is untouched
    np.testing.assert_array_equal(out, np.arange(4 * 40, dtype=np.float32).reshape(1, 4, 40)[:, :, :8])
    source.close()
