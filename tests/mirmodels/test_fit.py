"""``mirmodels fit``: every problem type trains on a tiny synthetic dataset pair; run directory,
resume, and the bad inputs (another run in the way, empty split, NaN input, model/target mismatch).

The dataset pair is the embedded synthetic corpus (:mod:`pyjama_tools.synth`: notes, f0, chords,
instruments, style) at 16 kHz, 10 files × 3 s, plus a ``work-id`` field for metric learning.
Helpers here (``make_pair``, ``write_config``) are shared with test_evaluate.py and test_ddp.py.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner

from pyjama_tools import pyjama
from pyjama_tools.core.errors import MirError

SAMPLE_RATE = 16000
LMS = {"type": "lms", "patch_L_frame": 16, "patch_STEP_frame": 8,
       "params": {"n_mels": 32, "n_fft": 512, "hop_length": 256}}
CQT_CHORD = {"type": "cqt", "patch_L_frame": 32, "patch_STEP_frame": 16,
             "params": {"bins_per_semitone": 1, "n_octaves": 4, "fmin": 65.4, "hop_length": 256}}
CQT_PITCH = {"type": "cqt", "patch_L_frame": 32, "patch_STEP_frame": 16,
             "params": {"bins_per_semitone": 3, "n_octaves": 4, "fmin": 65.4, "hop_length": 256}}
CQT_COVER = {"type": "cqt", "patch_L_frame": 64, "patch_STEP_frame": 64,
             "params": {"bins_per_semitone": 1, "n_octaves": 4, "fmin": 65.4, "hop_length": 256}}


def _layers(*layers):
    return {"name": "tiny", "block_l": [{"sequential_l": [{"layer_l": [list(layer) for layer in layers]}]}]}


TAGGER = _layers(["BatchNorm2d", {"num_features": -1}],
                 ["Conv2d", {"in_channels": -1, "out_channels": 8, "kernel_size": [3, 3], "padding": "same"}],
                 ["Activation", "ReLU"], ["Mean", {"dim": [2, 3]}],
                 ["Linear", {"in_features": -1, "out_features": "$n_out"}])
CHORDS = _layers(["BatchNorm2d", {"num_features": -1}],
                 ["Conv2d", {"in_channels": -1, "out_channels": 8, "kernel_size": [48, 1]}],
                 ["Squeeze", {"dim": 2}], ["Activation", "ReLU"],
                 ["Conv1d", {"in_channels": -1, "out_channels": "$n_out", "kernel_size": 3, "padding": "same"}])
PITCH = _layers(["BatchNorm2d", {"num_features": -1}],
                ["Conv2d", {"in_channels": -1, "out_channels": 8, "kernel_size": [5, 3], "padding": "same"}],
                ["Activation", "ReLU"],
                ["Conv2d", {"in_channels": -1, "out_channels": 1, "kernel_size": [1, 1], "padding": "same"}])
COVER = _layers(["BatchNorm2d", {"num_features": -1}],
                ["Conv2d", {"in_channels": -1, "out_channels": 4, "kernel_size": [12, 5], "stride": [4, 4]}],
                ["Activation", "ReLU"], ["Flatten", {}],
                ["Linear", {"in_features": -1, "out_features": 8}])

#: problem → (dataset section, feature section, model, train extras)
PROBLEMS = {
    "multiclass": ({"problem": "multiclass", "annot_key": "style"}, LMS, TAGGER, {}),
    "multilabel": ({"problem": "multilabel", "annot_key": "instrument"}, LMS, TAGGER, {}),
    "framelabel": ({"problem": "framelabel", "annot_key": "chord", "chord_vocabulary": "majmin"}, CQT_CHORD,
                   CHORDS, {}),
    "multipitch": ({"problem": "multipitch", "annot_key": "f0multi"}, CQT_PITCH, PITCH, {}),
    "metric": ({"problem": "metric", "annot_key": "work-id"}, CQT_COVER, COVER,
               {"lr": 0.003, "max_epochs": 10, "works_per_batch": 2, "performances_per_work": 2,
                "task": {"mining": "hard"}}),  # 2 batches per epoch: more epochs
}


def make_pair(root: Path, files: int = 10, seconds: float = 3.0, seed: int = 1) -> Path:
    """The synthetic pair ``root/tiny_audio.hdf5`` + ``root/tiny.pyjama`` with a ``work-id`` field
    (work = entry index % 5, so the tutorial's validation split, index % 5 == 0, holds one work
    with two performances)."""
    from pyjama_tools.synth import SynthParams, generate

    generate(root, SynthParams(files=files, seconds_per_file=seconds, sample_rate=SAMPLE_RATE, seed=seed),
             name="tiny")
    doc = pyjama.load(root / "tiny.pyjama")
    doc.define("work-id", "global", "text")
    for index, entry in enumerate(doc.entries):
        entry["work-id"] = [pyjama.atom(f"work{index % 5}")]
    pyjama.save(doc, root / "tiny.pyjama")
    return root


def write_config(path: Path, problem: str, data_root: Path, **train: object) -> Path:
    """An experiment YAML for ``problem`` on the tiny pair (CPU, a few epochs)."""
    dataset, feature, model, extras = PROBLEMS[problem]
    settings = {"lr": 0.01, "batch_size": 16, "max_epochs": 4, "patience": 0, "accelerator": "cpu",
                "log_every_n_steps": 1, **extras, **train}
    config = {"dataset": {"base": "tiny", "root": str(data_root), **dataset}, "feature": feature, "model": model,
              "train": settings}
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def epoch_losses(run_dir: Path, name: str = "train_loss") -> list[float]:
    """Per-epoch values of ``name`` from the run's CSV log."""
    with open(run_dir / "logs" / "metrics.csv", newline="") as handle:
        return [float(row[name]) for row in csv.DictReader(handle) if row.get(name)]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    return make_pair(tmp_path_factory.mktemp("data"))


# ----------------------------------------------------------------------------- every problem trains


@pytest.mark.slow
@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_fit_each_problem_trains_and_loss_decreases(problem, data_root, tmp_path):
    from mirmodels.experiment import fit, load_network, run_paths

    config = write_config(tmp_path / f"{problem}.yaml", problem, data_root)
    result = fit(config, out=tmp_path / "run")
    losses = epoch_losses(result.run_dir)
    assert len(losses) == yaml.safe_load(config.read_text())["train"]["max_epochs"]
    assert losses[-1] < losses[0], losses
    paths = run_paths(result.run_dir)
    for role in ("config", "meta", "best_ckpt", "last_ckpt", "best_pt"):
        assert paths[role].exists(), role
    meta = json.loads(paths["meta"].read_text())
    assert meta["problem"] == problem
    assert meta["best_valid_loss"] == pytest.approx(min(epoch_losses(result.run_dir, "valid_loss")))
    assert meta["splits"]["valid"] == 2 and meta["splits"]["train"] == 8  # index % 5 == 0 → valid
    # the best network reloads from the plain state_dict (weights_only) and runs
    network = load_network(result.run_dir)
    out = network(torch.zeros(2, *meta["input_shape"]))
    assert out.shape[0] == 2 and torch.isfinite(out).all()
    # the resolved config is complete and loads back
    resolved = yaml.safe_load(paths["config"].read_text())
    assert resolved["train"]["optimizer"] in ("adam", "sgd") and "block_l" in resolved["model"]


def test_fit_n_out_auto_comes_from_the_target(data_root, tmp_path):
    from mirmodels.config import load_config
    from mirmodels.data import prepare_data

    config = load_config(write_config(tmp_path / "c.yaml", "multilabel", data_root))
    prepared = prepare_data(config)
    assert prepared.n_out == len(prepared.target.vocabulary) == 6  # the six synthetic instruments
    assert prepared.input_shape == (1, 32, 16)
    assert prepared.splits["valid"] == [prepared.doc.keys()[0], prepared.doc.keys()[5]]
    assert prepared.cache_path.exists() and prepared.cache_path.name.startswith("tiny_lms-")
    # the second preparation reuses the cache (same params hash): the file is not rewritten
    stamp = prepared.cache_path.stat().st_mtime_ns
    again = prepare_data(config)
    assert again.cache_path == prepared.cache_path and prepared.cache_path.stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_resume_continues_from_last_checkpoint(data_root, tmp_path, monkeypatch):
    from mirmodels.experiment import fit

    config = write_config(tmp_path / "c.yaml", "multiclass", data_root, max_epochs=2)
    first = fit(config, out=tmp_path / "run")
    assert first.epochs == 2
    with pytest.raises(MirError, match="already holds a trained run"):
        fit(config, out=tmp_path / "run")
    data = yaml.safe_load(config.read_text())
    data["model"]["block_l"][0]["sequential_l"][0]["layer_l"][1][1]["out_channels"] = 4
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(data))
    with pytest.raises(MirError, match=r"model.block_l\[0\].sequential_l\[0\].layer_l\[1\]\[1\].out_channels: 4, "
                                       r"but the run in .* was trained with"):
        fit(other, out=tmp_path / "run", resume=True)
    # the same network on a pair whose style classes sort otherwise: class k would change meaning
    shifted = tmp_path / "shifted"
    shifted.mkdir()
    (shifted / "tiny_audio.hdf5").symlink_to(data_root / "tiny_audio.hdf5")
    doc = pyjama.load(data_root / "tiny.pyjama")
    last = sorted({v for labels in doc.labels("style") for v in labels})[-1]
    doc.define("style", "global", "text", "free")
    for entry in doc.entries:
        entry["style"] = [dict(a, value="aaa" if a["value"] == last else a["value"]) for a in entry["style"]]
    pyjama.save(doc, shifted / "tiny.pyjama")
    with pytest.raises(MirError, match=r"'style' classes of .*shifted/tiny.pyjama are not the run's: class 0 is 'aaa'"):
        fit(config, out=tmp_path / "run", resume=True, data_root=shifted)
    loads = []
    original_load = torch.load

    def recording_load(*args, **kwargs):
        loads.append(kwargs.get("weights_only"))
        return original_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording_load)
    second = fit(config, out=tmp_path / "run", resume=True, overrides=["train.max_epochs=3"])
    assert loads and all(flag is True for flag in loads), loads  # every checkpoint read is weights_only
    assert second.epochs == 3
    # the CSV log keeps the first session's epochs and goes on with the resumed one
    epochs = [int(row.split(",")[0]) for row in (tmp_path / "run" / "logs" / "metrics.csv").read_text().splitlines()[1:]]
    assert sorted(set(epochs)) == [0, 1, 2]
    assert second.metadata["global_step"] > first.metadata["global_step"]


def test_resume_refuses_a_changed_config_and_keeps_the_run_record(data_root, tmp_path):
    """--resume with another lr recorded it in config.yaml while Lightning restored the old one from
    the checkpoint; another optimizer was a KeyError traceback; another patience was ignored."""
    from mirmodels.experiment import fit

    config = write_config(tmp_path / "c.yaml", "multiclass", data_root, max_epochs=1)
    fit(config, out=tmp_path / "run")
    saved = (tmp_path / "run" / "config.yaml").read_text()
    for override, old in [("train.lr=0.5", "0.01"), ("train.optimizer=sgd", "'adam'"), ("train.patience=3", "0"),
                          ("feature.params.hop_length=512", "256"), ("dataset.annot_key=instrument", "'style'")]:
        key, value = override.split("=")
        with pytest.raises(MirError) as info:
            fit(config, out=tmp_path / "run", resume=True, overrides=[override, "train.max_epochs=2"])
        assert str(info.value).startswith(f"{config}: {key}: ") and f"was trained with {old} (" in str(info.value)
        assert (tmp_path / "run" / "config.yaml").read_text() == saved  # nothing rewritten
    # the epochs, the hardware and the eval keys may change
    result = fit(config, out=tmp_path / "run", resume=True, overrides=["train.max_epochs=2", "eval.threshold=0.3",
                                                                       "train.num_workers=0"])
    assert result.epochs == 2


def test_interrupted_fit_is_one_line_and_keeps_the_earlier_log(data_root, tmp_path):
    """Ctrl-C: Lightning shut down and called sys.exit(1), no message; in a resumed session the first
    session's CSV rows were lost with it."""
    import signal

    from lightning.pytorch.callbacks import Callback

    from mirmodels.experiment import fit

    class CtrlC(Callback):
        def on_train_epoch_end(self, trainer, module):
            if trainer.current_epoch == 2:
                raise KeyboardInterrupt

    config = write_config(tmp_path / "c.yaml", "multiclass", data_root, max_epochs=2)
    fit(config, out=tmp_path / "run")
    handler = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(MirError, match=r"run: training interrupted in epoch 2; "
                                           r"the last finished epoch's checkpoint \(epoch 1\) is "
                                           r"kept \(mirmodels fit ... --resume continues it\)"):
            fit(config, out=tmp_path / "run", resume=True, overrides=["train.max_epochs=6"], callbacks=[CtrlC()])
    finally:
        signal.signal(signal.SIGINT, handler)  # Lightning ignores SIGINT once interrupted
    assert sorted(set(int(row["epoch"]) for row in csv.DictReader(open(tmp_path / "run" / "logs" / "metrics.csv"))
                      if row["epoch"])) == [0, 1, 2]
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["interrupted"] is True and meta["epochs"] == 2 and "best_valid_loss" in meta


@pytest.mark.slow
def test_cli_fit_with_set_and_data_root(data_root, tmp_path):
    from mirmodels.cli import main

    config = write_config(tmp_path / "c.yaml", "multiclass", Path("nowhere"))
    result = CliRunner().invoke(main, ["fit", str(config), "--data-root", str(data_root), "--out",
                                       str(tmp_path / "run"), "--set", "train.max_epochs=1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "best valid_loss" in result.output
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["train"]["max_epochs"] == 1


# ----------------------------------------------------------------------------- bad inputs


def _cli_error(args: list[str]) -> str:
    from mirmodels.cli import main

    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and "Traceback" not in result.output
    return lines[-1]


def test_bad_value_is_one_line_naming_the_yaml_path(data_root, tmp_path):
    config = write_config(tmp_path / "c.yaml", "multiclass", data_root)
    line = _cli_error(["fit", str(config), "--set", "train.lr=fast", "--out", str(tmp_path / "run")])
    assert line == f"error: {config}: train.lr: expected a number > 0, got 'fast'"


@pytest.mark.parametrize("override, expected", [
    ("feature.type=lmz", "{config}: feature.type: unknown feature 'lmz'"),
    ("feature.params.n_melz=32", "{config}: feature.params: lms: unknown parameter 'n_melz'"),
    ("dataset.annot_key=chord", "{data}: dataset (problem 'multiclass', annot_key 'chord'): field 'chord' has "
                                "extent 'segment'"),
    ("dataset.split=field", "{data}: dataset.split 'field': field 'split' is not defined"),
    ("feature.patch_L_frame=5000", "{config}: feature.patch_L_frame 5000: "),  # every file shorter than a patch
])
def test_data_errors_name_the_config_key(data_root, tmp_path, override, expected):
    """mirfeat's messages (feature, target, split) arrive prefixed with the experiment's YAML path."""
    config = write_config(tmp_path / "c.yaml", "multiclass", data_root)
    line = _cli_error(["fit", str(config), "--set", override, "--out", str(tmp_path / "run")])
    assert line.startswith("error: " + expected.format(config=config, data=(data_root / "tiny.pyjama").absolute()))


@pytest.mark.parametrize("overrides, expected", [
    (["train.accelerator=mps"], "train (accelerator 'mps', devices 'auto'"),  # no Apple GPU on Linux
    (["train.devices=[3]"], "train (accelerator 'cpu', devices [3]"),
])
def test_hardware_the_machine_lacks_is_one_line(data_root, tmp_path, overrides, expected):
    if torch.backends.mps.is_available():
        pytest.skip("this machine has an Apple GPU")
    config = write_config(tmp_path / "c.yaml", "multiclass", data_root)
    args = ["fit", str(config), "--out", str(tmp_path / "run")]
    for item in overrides:
        args += ["--set", item]
    line = _cli_error(args)
    assert line.startswith(f"error: {config}: {expected}"), line


def test_missing_dataset_names_the_file(tmp_path):
    config = write_config(tmp_path / "c.yaml", "multiclass", tmp_path / "empty")
    line = _cli_error(["fit", str(config), "--out", str(tmp_path / "run")])
    assert "tiny.pyjama: no such file (dataset.base 'tiny'" in line


def test_empty_validation_split_is_reported(data_root, tmp_path):
    config = write_config(tmp_path / "c.yaml", "multiclass", data_root)
    lists = tmp_path / "train.txt"
    lists.write_text("\n".join(pyjama.load(data_root / "tiny.pyjama").keys()) + "\n")
    empty = tmp_path / "valid.txt"
    empty.write_text("")
    line = _cli_error(["fit", str(config), "--out", str(tmp_path / "run"), "--set", "dataset.split=list",
                       "--set", f"dataset.split_lists={{train: {lists}, valid: {empty}}}"])
    assert "'valid' split is empty" in line


def test_split_lists_are_ignored_by_another_rule(data_root, tmp_path):
    """examples/mtt_lms.yaml names list files; examples/README.md trains on every clip with
    --set dataset.split=index_mod5, which must not look for those files."""
    from mirmodels.cli import main

    config = write_config(tmp_path / "c.yaml", "multiclass", data_root)
    result = CliRunner().invoke(main, ["fit", str(config), "--out", str(tmp_path / "run"), "--quiet",
                                       "--set", "train.max_epochs=1",
                                       "--set", "dataset.split_lists={train: absent_train.txt, valid: absent.txt}"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run" / "run.json").read_text())["splits"] == {"train": 8, "valid": 2}


def test_unknown_annotation_field_suggests_the_close_one(data_root, tmp_path):
    config = write_config(tmp_path / "c.yaml", "multiclass", data_root)
    line = _cli_error(["fit", str(config), "--set", "dataset.annot_key=styel", "--out", str(tmp_path / "run")])
    assert "'styel'" in line and "did you mean style?" in line


def test_model_output_that_does_not_fit_the_target(data_root, tmp_path):
    config = write_config(tmp_path / "c.yaml", "multiclass", data_root)
    line = _cli_error(["fit", str(config), "--set", "dataset.n_out=3", "--out", str(tmp_path / "run")])
    assert "output shape (3,)" in line and "expected (4,)" in line


def test_label_absent_from_the_vocabulary(data_root, tmp_path):
    root = tmp_path / "bad"
    root.mkdir()
    (root / "tiny_audio.hdf5").symlink_to(data_root / "tiny_audio.hdf5")
    doc = pyjama.load(data_root / "tiny.pyjama")
    doc.entries[3]["style"] = [pyjama.atom("polka")]  # not in the field's dictionary
    pyjama.save(doc, root / "tiny.pyjama")
    config = write_config(tmp_path / "c.yaml", "multiclass", root)
    line = _cli_error(["fit", str(config), "--out", str(tmp_path / "run")])
    assert "polka" in line


@pytest.mark.slow
def test_nan_input_stops_training_with_a_clear_message(data_root, tmp_path):
    import h5py

    from mirmodels.config import load_config
    from mirmodels.data import prepare_data

    root = tmp_path / "nan"
    root.mkdir()
    (root / "tiny_audio.hdf5").symlink_to(data_root / "tiny_audio.hdf5")
    (root / "tiny.pyjama").symlink_to(data_root / "tiny.pyjama")
    config = write_config(tmp_path / "c.yaml", "multiclass", root, batch_size=256, drop_last=False)  # one batch
    prepared = prepare_data(load_config(config))
    with h5py.File(prepared.cache_path, "r+") as handle:
        for key in prepared.splits["train"]:
            handle[key]["value"][..., 0] = np.nan
    line = _cli_error(["fit", str(config), "--out", str(tmp_path / "run"), "--quiet"])
    assert "NaN" in line and "input X" in line


@pytest.mark.slow
def test_tensorboard_logger_on_request(data_root, tmp_path):
    from mirmodels.experiment import fit

    config = write_config(tmp_path / "c.yaml", "multiclass", data_root, max_epochs=1, logger="tensorboard")
    result = fit(config, out=tmp_path / "run")
    assert list((result.run_dir / "logs").glob("events.out.tfevents.*"))
    assert len(epoch_losses(result.run_dir)) == 1  # CSV as well


TUTORIAL_STYLE = """\
output_file: {'origin': 'TUTO_task_Auto_Tagging.ipynb', 'ext': '_tiny.ipynb'}
dataset:
    {'base': tiny, 'problem': multiclass, 'annot_key': style, 'n_out': 4}
feature:
    {'type': lms, 'nb_band': 32, 'L_n': 512, 'STEP_n': 256, 'patch_L_frame': 16, 'patch_STEP_frame': 8}
model:
    name: AutoTagging
    block_l:
    - sequential_l:
        - layer_l:
            - [LayerNorm, {'normalized_shape': -1}]
            - [Conv2d, {'in_channels': 1, 'out_channels': 8, 'kernel_size': [32, 5], 'stride': [1,1]}]
            - [Squeeze, {'dim': [2]}]
            - [Activation, LeakyReLU]
            - [Mean, {'dim': 2}]
    - sequential_l:
        - layer_l:
            - [Linear, {'in_features': -1, 'out_features': 4}]
"""


@pytest.mark.slow
def test_a_tutorial_style_config_trains_as_it_is(data_root, tmp_path):
    from mirmodels.cli import main

    config = tmp_path / "config_autotagging.yaml"
    config.write_text(TUTORIAL_STYLE)
    result = CliRunner().invoke(main, ["fit", str(config), "--data-root", str(data_root), "--out", str(tmp_path / "run"),
                                       "--set", "train.max_epochs=1", "--set", "train.accelerator=cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    # the tutorial's L_n is the window length; its FFT size stays 2048 (its feature.py)
    assert meta["feature_params"]["n_mels"] == 32 and meta["feature_params"]["win_length"] == 512
    assert meta["feature_params"]["n_fft"] == 2048
    assert meta["input_shape"] == [1, 32, 16] and meta["n_out"] == 4


@pytest.mark.slow
def test_feature_only_dataset_trains_from_its_feature_file(data_root, tmp_path):
    """Da-TACOS style: a .pyjama and a feature file in the cache layout, no audio; the feature's
    name need not be one mirfeat computes."""
    import h5py

    from mirmodels.config import load_config
    from mirmodels.data import prepare_data
    from mirmodels.experiment import fit

    prepared = prepare_data(load_config(write_config(tmp_path / "a.yaml", "multiclass", data_root)))
    root = tmp_path / "features_only"
    root.mkdir()
    shutil.copy(prepared.cache_path, root / "tiny_crema_feat.hdf5")
    shutil.copy(data_root / "tiny.pyjama", root / "tiny.pyjama")
    with h5py.File(root / "tiny_crema_feat.hdf5", "r+") as handle:
        handle.attrs["feature"] = "crema"
    config = write_config(tmp_path / "b.yaml", "multiclass", root, max_epochs=1)
    data = yaml.safe_load(config.read_text())
    data["feature"] = {"type": "crema", "cache": "tiny_crema_feat.hdf5", "patch_L_frame": 16, "patch_STEP_frame": 8}
    config.write_text(yaml.safe_dump(data))
    result = fit(config, out=tmp_path / "run")
    assert result.metadata["input_shape"] == [1, 32, 16] and result.metadata["sample_rate"] is None
    assert result.metadata["feature_params"]["n_mels"] == 32  # the file's own parameters
    from mirmodels.evaluate import evaluate
    from mirmodels.predict import predict

    assert evaluate(result.run_dir).data["num_files"] == 2
    with pytest.raises(MirError, match="feature-only dataset"):
        predict(result.run_dir, tmp_path / "any.wav")
    # a parameter that contradicts the file cannot be recomputed without audio
    data["feature"]["params"] = {"n_mels": 64}
    config.write_text(yaml.safe_dump(data))
    line = _cli_error(["fit", str(config), "--out", str(tmp_path / "run2")])
    assert "feature.params.n_mels: 64, but" in line and "computed with 32" in line
    data["feature"] = dict(data["feature"], type="chroma", params={})
    config.write_text(yaml.safe_dump(data))
    assert "feature.type: 'chroma', but" in _cli_error(["fit", str(config), "--out", str(tmp_path / "run3")])


def test_malformed_annotation_document_is_one_line(data_root, tmp_path):
    bad_root = tmp_path / "bad"
    shutil.copytree(data_root, bad_root)
    doc = json.loads((bad_root / "tiny.pyjama").read_text())
    doc["collection"]["entry"][2] = "not an entry"
    (bad_root / "tiny.pyjama").write_text(json.dumps(doc))
    config = write_config(tmp_path / "c.yaml", "multiclass", bad_root)
    line = _cli_error(["fit", str(config), "--out", str(tmp_path / "run")])
    assert "tiny.pyjama: entry 2: not an object" in line


def test_entries_without_the_field_are_left_out(data_root, tmp_path):
    """Bach10's stems have f0 but no f0multi: they must not be trained on as silence."""
    from mirmodels.config import load_config
    from mirmodels.data import prepare_data

    root = tmp_path / "partial"
    shutil.copytree(data_root, root)
    doc = pyjama.load(root / "tiny.pyjama")
    for index in (1, 2, 5):  # entry 5 would be in the valid split (index % 5 == 0)
        del doc.entries[index]["f0multi"]
    pyjama.save(doc, root / "tiny.pyjama")
    config = load_config(write_config(tmp_path / "c.yaml", "multipitch", root))
    prepared = prepare_data(config, root)
    assert sorted(prepared.unlabelled) == sorted(doc.keys()[i] for i in (1, 2, 5))
    used = set(prepared.splits["train"]) | set(prepared.splits["valid"])
    assert used == set(doc.keys()) - set(prepared.unlabelled)
    assert prepared.metadata()["unlabelled"] == 3
