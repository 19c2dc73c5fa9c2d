"""The tutorial's five config files (``../shared/fixtures/tutorial/``), unchanged: each loads with the
book's training settings for its problem, and ``mirmodels fit`` trains one batch on a small pair of
the layout it names (``pyjama-convert synth`` pairs named mtt / rwc-pop_chord / maps, the Bach10
fixture converted, a tutorial-layout feature pair for cover). Their networks have the tutorial's
parameter counts. Issue 9 items 1, 3, 4, 6.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from conftest import fixture_path
from pyjama_tools import pyjama

#: --set items that make a fit one small batch of one epoch on the CPU (the config file stays as it is)
ONE_BATCH = ("train.max_epochs=1", "train.limit_train_batches=1", "train.limit_val_batches=1",
             "train.accelerator=cpu", "train.log_every_n_steps=1")
#: Trainable parameters of the tutorial's own factory for each file's network (issue 9, acceptance)
PARAMETERS = {"autotagging": 167_355, "bittner": 406_253, "chord": 6_959_721, "cover": 1_869_094,
              "doras": 7_093_591}


def tutorial_config(name: str) -> Path:
    return fixture_path("tutorial", f"config_{name}.yaml")


def fit_cli(config: Path, data_root: Path, out: Path, *overrides: str):
    """``mirmodels fit CONFIG --data-root ... --out ... --set ...`` (one batch), and its result."""
    from mirmodels.cli import main

    args = ["fit", str(config), "--data-root", str(data_root), "--out", str(out), "--quiet"]
    for item in ONE_BATCH + overrides:
        args += ["--set", item]
    return CliRunner().invoke(main, args)


def trained_parameters(run_dir: Path) -> int:
    from mirmodels.experiment import load_network

    return sum(p.numel() for p in load_network(run_dir).parameters() if p.requires_grad)


def synth_pair(root: Path, name: str, files: int, seconds: float) -> Path:
    """The synthetic corpus as the pair ``root/<name>_audio.hdf5`` + ``root/<name>.pyjama`` (22050 Hz)."""
    from pyjama_tools.synth import SynthParams, generate

    generate(root, SynthParams(files=files, seconds_per_file=seconds, sample_rate=22050, seed=3), name=name)
    return root


# ----------------------------------------------------------------------------- load (item 6)


@pytest.mark.parametrize("name, problem, expected", [
    # the book's settings (docs BOOK.md): tagging Adam 0.01, batch 128, patience 10, last batch dropped
    ("autotagging", "multilabel", {"optimizer": "adam", "lr": 0.01, "batch_size": 128, "patience": 10,
                                   "drop_last": True}),
    ("chord", "framelabel", {"optimizer": "adam", "lr": 0.01, "batch_size": 32, "patience": 10, "drop_last": True}),
    ("bittner", "multipitch", {"optimizer": "adam", "lr": 0.001, "batch_size": 32, "patience": 10,
                               "drop_last": False}),
    ("doras", "multipitch", {"optimizer": "adam", "lr": 0.001, "batch_size": 32, "patience": 10, "drop_last": False}),
    ("cover", "metric", {"optimizer": "sgd", "lr": 0.1, "momentum": 0.0, "patience": 50, "works_per_batch": 16,
                         "performances_per_work": 4}),
])
def test_each_tutorial_file_loads_with_the_books_settings(name, problem, expected):
    from mirmodels.config import load_config

    config = load_config(tutorial_config(name))
    assert config.dataset.problem == problem
    assert {key: getattr(config.train, key) for key in expected} == expected


@pytest.mark.parametrize("name, shape", [("autotagging", "1,128,64"), ("bittner", "6,360,64"), ("chord", "1,72,1024"),
                                         ("cover", "1,23,1800"), ("doras", "6,360,64")])
def test_summary_of_each_tutorial_file_counts_the_tutorials_parameters(name, shape):
    """``mirmodels summary`` sizes the last layer from dataset.n_out as fit does (autotagging: 50 tags)."""
    from mirmodels.cli import main

    result = CliRunner().invoke(main, ["summary", str(tutorial_config(name)), "--input-shape", shape])
    assert result.exit_code == 0, result.output
    assert f"trainable parameters: {PARAMETERS[name]:,}" in result.output
    resized = "n_out=50: model.block_l[2].sequential_l[0].layer_l[0] (Linear) out_features 10 -> 50"
    assert (resized in result.output) == (name == "autotagging")


def test_settings_a_config_writes_win_over_the_books(tmp_path):
    from mirmodels.config import load_config

    data = yaml.safe_load(tutorial_config("autotagging").read_text())
    data["train"] = {"lr": 0.5, "drop_last": False}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    train = load_config(path).train
    assert (train.lr, train.drop_last, train.batch_size) == (0.5, False, 128)
    assert load_config(path, ["train.batch_size=7"]).train.batch_size == 7


def test_cover_config_reads_its_pair_and_implies_metric_learning():
    from mirmodels.config import load_config

    config = load_config(tutorial_config("cover"))  # no feature section, no problem, no annot_key
    assert (config.dataset.problem, config.dataset.annot_key, config.dataset.group_field) == \
        ("metric", "work-id", "work-id")  # works, not performances, are split (as the notebook does)
    assert config.feature.type == "crema" and config.feature.cache == "cover1000_feat.hdf5"
    assert config.feature.patch_length == 1800  # crop or zero-pad to 1800 frames


def test_a_config_without_feature_section_for_another_problem_is_refused(tmp_path):
    from mirmodels.config import ConfigError, load_config

    data = yaml.safe_load(tutorial_config("autotagging").read_text())
    del data["feature"]
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"c.yaml: feature: missing section$"):
        load_config(path)


# ----------------------------------------------------------------------------- autotagging (item 1)


def mtt_pair(root: Path, tags: int = 60) -> Path:
    """MagnaTagATune's layout: several global ``tag`` atoms per clip, ``tags`` distinct tags."""
    synth_pair(root, "mtt", files=10, seconds=4.0)
    doc = pyjama.load(root / "mtt.pyjama")
    doc.define("tag", "global", "text")
    for index, entry in enumerate(doc.entries):
        # every tag on some clip; the first ten tags on more clips than the others
        chosen = {f"tag{(index * 6 + j) % tags:02d}" for j in range(6)} | {f"tag{index:02d}"}
        entry["tag"] = [pyjama.atom(tag) for tag in sorted(chosen)]
    pyjama.save(doc, root / "mtt.pyjama")
    return root


@pytest.mark.slow
def test_autotagging_file_trains_with_its_last_layer_sized_from_the_dataset(tmp_path):
    """config_autotagging.yaml ends with Linear 10 (GTZAN); on MTT (n_out 50) the notebooks set it
    to 50: so do we, with one info line. The field holds 60 tags: n_out 50 keeps the 50 most frequent."""
    root = mtt_pair(tmp_path / "data")
    result = fit_cli(tutorial_config("autotagging"), root, tmp_path / "run", "train.batch_size=4")
    assert result.exit_code == 0, result.output
    info = [line for line in result.output.splitlines() if line.startswith("info: ")]
    assert ("info: model.block_l[2].sequential_l[0].layer_l[0] (Linear): out_features 10 -> 50, the dataset's "
            "number of classes") in "\n".join(info)
    assert any("the 50 most frequent of the 60 'tag' tags" in line for line in info)
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["n_out"] == 50 and len(meta["vocabulary"]) == 50 and meta["input_shape"] == [1, 128, 64]
    assert meta["num_outputs"] == 50
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["model"]["block_l"][2]["sequential_l"][0]["layer_l"][0][1]["out_features"] == 50
    assert trained_parameters(tmp_path / "run") == PARAMETERS["autotagging"]


def _prepared_tiny(tmp_path: Path, model: dict, problem: str = "multiclass"):
    """A prepared multi-class run on a small synth pair (style: 4 classes) and its config."""
    import dataclasses

    from mirmodels.config import config_from_dict
    from mirmodels.data import prepare_data

    root = tmp_path / "data"
    if not (root / "tiny.pyjama").exists():
        synth_pair(root, "tiny", files=5, seconds=2.0)
    config = config_from_dict({
        "dataset": {"base": "tiny", "root": str(root), "problem": problem, "annot_key": "style"},
        "feature": {"type": "lms", "patch_L_frame": 16, "patch_STEP_frame": 8,
                    "params": {"n_mels": 16, "n_fft": 512, "hop_length": 256}},
        "model": model})
    prepared = prepare_data(config)
    return dataclasses.replace(prepared, config=config), config


def _dense(*layers) -> dict:
    return {"name": "m", "block_l": [{"sequential_l": [{"layer_l": [list(layer) for layer in layers]}]}]}


def test_last_layer_rule_resizes_a_number_and_says_so(tmp_path, caplog):
    from mirmodels.experiment import build_network
    from mirmodels.outputs import fit_last_layer

    model = _dense(["Mean", {"dim": [2, 3]}], ["Linear", {"in_features": -1, "out_features": 10}])
    prepared, config = _prepared_tiny(tmp_path, model)
    network = build_network(config, prepared.input_shape, prepared.n_out)
    with caplog.at_level(logging.INFO, logger="mirmodels"):
        resized, rebuilt = fit_last_layer(config, prepared, network)
    assert tuple(rebuilt.output_shape) == (prepared.target.num_outputs,) == (4,)
    assert resized.model["block_l"][0]["sequential_l"][0]["layer_l"][1][1]["out_features"] == 4
    assert config.model["block_l"][0]["sequential_l"][0]["layer_l"][1][1]["out_features"] == 10  # a copy
    assert [r.getMessage() for r in caplog.records] == [
        "model.block_l[0].sequential_l[0].layer_l[1] (Linear): out_features 10 -> 4, the dataset's number of "
        "classes (the last layer is sized from the dataset, as the tutorial's notebooks do)"]


@pytest.mark.slow
def test_a_run_with_a_resized_last_layer_resumes_evaluates_and_refuses_other_changes(tmp_path):
    from mirmodels.evaluate import evaluate
    from mirmodels.experiment import fit
    from pyjama_tools.core.errors import MirError

    model = _dense(["Mean", {"dim": [2, 3]}], ["Linear", {"in_features": -1, "out_features": 10}])
    _prepared, config = _prepared_tiny(tmp_path, model)
    path = tmp_path / "c.yaml"
    data = config.to_dict()
    data["train"] = {"max_epochs": 1, "batch_size": 8, "accelerator": "cpu", "patience": 0}
    data["model"] = model  # the number 10, as the tutorial writes it
    path.write_text(yaml.safe_dump(data))
    first = fit(path, out=tmp_path / "run")
    assert first.metadata["n_out"] == 4 and first.metadata["num_outputs"] == 4
    again = fit(path, out=tmp_path / "run", resume=True, overrides=["train.max_epochs=2"])
    assert again.epochs == 2
    assert evaluate(tmp_path / "run", quiet=True).data["num_files"] == 1
    with pytest.raises(MirError, match=r"train.lr: 0.5, but the run .* was trained with 0.01"):
        fit(path, out=tmp_path / "run", resume=True, overrides=["train.max_epochs=3", "train.lr=0.5"])


@pytest.mark.parametrize("model, shape", [
    # $n_out is the user's own choice: the output (3,) stays refused
    (_dense(["Mean", {"dim": [2, 3]}], ["Linear", {"in_features": -1, "out_features": "$n_out"}]), "(3,)"),
    # resizing the last Linear would still give (4, 16): no rule fixes a per-frame output for one label
    (_dense(["Mean", {"dim": [2]}], ["Permute", {"shape": [0, 2, 1]}],
            ["Linear", {"in_features": -1, "out_features": 10}], ["Permute", {"shape": [0, 2, 1]}]), "(10, 16)"),
])
def test_an_output_no_rule_fixes_is_still_refused(tmp_path, model, shape):
    from mirmodels.experiment import build_network
    from mirmodels.outputs import fit_last_layer
    from pyjama_tools.core.errors import MirError

    prepared, config = _prepared_tiny(tmp_path, model)
    prepared.n_out = 3
    network = build_network(config, prepared.input_shape, prepared.n_out)
    with pytest.raises(MirError, match=rf"model: output shape {re.escape(shape)} .* expected \(4,\)"):
        fit_last_layer(config, prepared, network)


# ----------------------------------------------------------------------------- chord (items 4, 6)


@pytest.mark.slow
def test_chord_file_trains_on_a_corpus_missing_classes(tmp_path):
    """RWC-Pop's layout (Harte chord segments); the synthetic corpus plays a few of the 24 chords:
    n_out 25 means the tutorial's 25 maj/min/N classes whatever labels occur."""
    root = synth_pair(tmp_path / "data", "rwc-pop_chord", files=3, seconds=25.0)  # a patch is 1024 frames
    doc = pyjama.load(root / "rwc-pop_chord.pyjama")
    used = {str(v) for key in doc.keys() for v in doc.values(key, "chord")}
    assert 0 < len(used) < 24
    result = fit_cli(tutorial_config("chord"), root, tmp_path / "run", "train.batch_size=2")
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    from mirfeat.chords import MAJMIN_CLASSES

    assert meta["vocabulary"] == list(MAJMIN_CLASSES) and meta["n_out"] == 25
    assert meta["input_shape"] == [1, 72, 1024]
    assert trained_parameters(tmp_path / "run") == PARAMETERS["chord"]


def test_tagging_batches_drop_the_incomplete_last_one(tmp_path):
    """The book's tagging and chord loaders drop the last incomplete training batch; a split with
    fewer patches than one batch is one line naming train.batch_size."""
    from mirmodels.data import ExperimentDataModule
    from pyjama_tools.core.errors import MirError

    model = _dense(["Mean", {"dim": [2, 3]}], ["Linear", {"in_features": -1, "out_features": 4}])
    prepared, config = _prepared_tiny(tmp_path, model)
    patches = len(ExperimentDataModule(prepared)._loader("train", shuffle=False).dataset)
    batch = patches // 2 + 1  # one whole batch and an incomplete one
    module = ExperimentDataModule(prepared, batch_size=batch)
    module.setup()
    assert config.train.drop_last and len(module.datasets["train"]) == patches
    assert [len(b["key"]) for b in module.train_dataloader()] == [batch]
    assert sum(len(b["key"]) for b in module.val_dataloader()) == len(module.datasets["valid"])  # all kept
    with pytest.raises(MirError, match=r"train.batch_size: 500 is more than the \d+ patches of the 'train' split"):
        ExperimentDataModule(prepared, batch_size=500).train_dataloader()


# ----------------------------------------------------------------------------- multi-pitch


@pytest.mark.slow
def test_bittner_file_trains_on_the_bach10_fixture(tmp_path):
    from pyjama_tools.cli import main as convert

    source = fixture_path("bach10", "Bach10_v1.1")
    root = tmp_path / "data"
    result = CliRunner().invoke(convert, ["bach10", str(source), str(root), "--quiet"])
    assert result.exit_code == 0, result.output
    # the fixture holds one piece: a second mix (the same audio under another key) gives a train
    # and a valid file, split explicitly
    doc = pyjama.load(root / "bach10.pyjama")
    mix = next(k for k in doc.keys() if doc.atoms(k, "f0multi"))
    with h5py.File(root / "bach10_audio.hdf5", "r+") as handle:
        handle.copy(handle[mix], "copy+++mix.wav")
    entry = json.loads(json.dumps(doc.entries[doc.keys().index(mix)]))
    entry["filepath"] = [{"value": "copy+++mix.wav"}]
    doc.entries.append(entry)
    pyjama.save(doc, root / "bach10.pyjama")
    (root / "train.txt").write_text("copy+++mix.wav\n")
    (root / "valid.txt").write_text(mix + "\n")
    result = fit_cli(tutorial_config("bittner"), root, tmp_path / "run", "train.batch_size=2",
                     "dataset.split=list", "dataset.split_lists={train: train.txt, valid: valid.txt}")
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["annot_key"] == "f0multi" and meta["input_shape"] == [6, 360, 64]
    assert trained_parameters(tmp_path / "run") == PARAMETERS["bittner"]


@pytest.mark.slow
def test_doras_file_trains_on_a_maps_layout_pair(tmp_path):
    """MAPS' layout: note segments ``pitchmidi`` (no f0 breakpoints)."""
    root = synth_pair(tmp_path / "data", "maps", files=6, seconds=3.0)
    doc = pyjama.load(root / "maps.pyjama")
    del doc.definitions["f0multi"]
    for entry in doc.entries:
        del entry["f0multi"]
    pyjama.save(doc, root / "maps.pyjama")
    result = fit_cli(tutorial_config("doras"), root, tmp_path / "run", "train.batch_size=2")
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["annot_key"] == "pitchmidi" and meta["input_shape"] == [6, 360, 64]
    assert trained_parameters(tmp_path / "run") == PARAMETERS["doras"]


# ----------------------------------------------------------------------------- cover (item 3)


def cover_pair(root: Path, works: int = 20, performances: int = 2, seed: int = 0) -> Path:
    """The tutorial's feature-only pair: ``cover1000_feat.hdf5`` with one (T, 12) CREMA dataset per
    entry at ``/<filepath value>/``, and ``cover1000.pyjama`` with integer work-id / performance-id
    and empty lists (``"info": []``), as the cover notebook reads them."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    entries = []
    with h5py.File(root / "cover1000_feat.hdf5", "w") as handle:
        for work in range(1, works + 1):
            for number in range(performances):
                performance = 1000 * work + number
                frames = int(rng.integers(150, 2200))  # shorter and longer than 1800
                handle.create_dataset(str(performance), data=rng.random((frames, 12)).astype(np.float32))
                entries.append({"filepath": [{"value": str(performance)}], "work-id": [{"value": work}],
                                "performance-id": [{"value": performance}], "info": [],
                                "title": [{"value": f"work {work}"}]})
    definitions = {name: {"type_extent": "global", "type_content": content, "type_constraint": constraint}
                   for name, content, constraint in [("filepath", "text", "filepath"), ("work-id", "numeric", "free"),
                                                     ("performance-id", "numeric", "free"),
                                                     ("info", "text", "free"), ("title", "text", "free")]}
    document = {"schemaversion": 1.31, "collection": {"descriptiondefinition": definitions, "entry": entries}}
    (root / "cover1000.pyjama").write_text(json.dumps(document), encoding="utf-8")
    return root


def test_tutorial_feature_file_reads_as_the_notebook_does(tmp_path):
    from mirfeat.feature_pair import TutorialFeatureFile, is_tutorial_feature_file, open_feature_file
    from mirfeat.patches import FileDataset

    root = cover_pair(tmp_path / "data", works=2)
    path = root / "cover1000_feat.hdf5"
    assert is_tutorial_feature_file(path) and isinstance(open_feature_file(path), TutorialFeatureFile)
    with h5py.File(path, "r") as handle:
        raw = handle["/1000/"][:]  # (T, 12), the notebook's f['/' + key + '/']
    features = TutorialFeatureFile(path)
    x = features.read("1000")
    assert x.shape == (1, 23, raw.shape[0]) == features.shape("1000")
    np.testing.assert_array_equal(x[0, :12], raw.T)
    np.testing.assert_array_equal(x[0, 12:], raw.T[:11])  # 12 rows stacked to 23
    long_key = max(features.keys(), key=features.num_frames)
    short_key = min(features.keys(), key=features.num_frames)
    items = FileDataset(path, [long_key, short_key], None, crop_or_pad=1800)
    long_item, short_item = items[0], items[1]
    assert long_item["X"].shape == short_item["X"].shape == (1, 23, 1800)
    np.testing.assert_array_equal(long_item["X"].numpy(), features.read(long_key, 0, 1800))  # cropped
    kept = features.num_frames(short_key)
    assert short_item["num_frames"] == kept and not short_item["X"][:, :, kept:].any()  # zero-padded
    with pytest.raises(Exception, match="no dataset /999/ for key '999'"):
        features.read("999")


@pytest.mark.slow
def test_cover_file_trains_on_a_tutorial_feature_pair(tmp_path):
    root = cover_pair(tmp_path / "data")
    result = fit_cli(tutorial_config("cover"), root, tmp_path / "run", "train.works_per_batch=2",
                     "train.performances_per_work=2")
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["problem"] == "metric" and meta["annot_key"] == "work-id"
    assert meta["input_shape"] == [1, 23, 1800] and meta["feature"] == "crema"
    assert meta["splits"] == {"train": 32, "valid": 8}  # works 1, 6, 11, 16 (ordinal % 5 == 0) whole in valid
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["train"]
    assert (saved["optimizer"], saved["lr"], saved["momentum"], saved["patience"]) == ("sgd", 0.1, 0.0, 50)
    assert trained_parameters(tmp_path / "run") == PARAMETERS["cover"]
    from mirmodels.evaluate import evaluate

    assert evaluate(tmp_path / "run", quiet=True).data["num_files"] == 8
