"""The experiment config: tutorial files load as they are, defaults, --set overrides, and one-line
errors that name the file and the YAML path."""

from __future__ import annotations

from pathlib import Path

import dataclasses
import pytest
import yaml
from click.testing import CliRunner

from mirmodels.config import (ConfigError, DatasetConfig, ExperimentConfig, TrainConfig, apply_overrides,
                              config_from_dict, load_config, parse_override)

# The tutorial's config_autotagging.yaml layout (flow mappings, inline feature keys, output_file).
TUTORIAL = """\
# D1 I1 C1 -> GTZAN, LMS, 2D
output_file: {'origin': 'TUTO_task_Auto_Tagging.ipynb', 'ext': '_D1-I1-C1.ipynb'}
dataset:
    {'base': gtzan-genre, 'problem': multiclass, 'annot_key': genre, 'n_out': 10}
feature:
    {'type': lms, 'nb_band': 128, 'L_n': 2048, 'STEP_n': 1024, 'patch_L_frame': 64, 'patch_STEP_frame': 32}
model:
    name: AutoTagging
    block_l:
    - sequential_l:
        - layer_l:
            - [LayerNorm, {'normalized_shape': -1}]
            - [Conv2d, {'in_channels': 1, 'out_channels': 80, 'kernel_size': [128, 5], 'stride': [1,1]}]
"""

CHORD = """\
dataset:
    {'base': rwc-pop_chord, 'problem': segment, 'annot_key': chord, 'n_out': 25}
feature:
    {'type': hcqt, 'nb_band': 72, 'h_l': [1] ,'bins_per_semitone': 1, 'n_octaves': 6, 'fmin': 32.7,  'hop_length': 512, 'patch_L_frame': 1024, 'patch_STEP_frame': 128}
model: {name: m, block_l: []}
"""

BITTNER = """\
dataset:
    {'base': bach10, 'do_f0_annot': frame}
feature:
    {'type': hcqt, 'h_l': [0.5, 1, 2, 3, 4, 5] ,'bins_per_semitone': 5, 'n_octaves': 6, 'fmin': 32.7,  'hop_length': 512, 'patch_L_frame': 64, 'patch_STEP_frame': 32}
model: {name: m, block_l: []}
"""

MINIMAL = {"dataset": {"base": "d", "problem": "multiclass", "annot_key": "genre"},
           "feature": {"type": "lms"}, "model": {"name": "m", "block_l": []}}


def _write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(data: dict, *overrides: str, source: str = "exp.yaml") -> str:
    with pytest.raises(ConfigError) as info:
        config_from_dict(data, source=source, overrides=overrides)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_tutorial_autotagging_config_loads_as_it_is(tmp_path):
    config = load_config(_write(tmp_path, TUTORIAL))
    assert config.dataset.base == "gtzan-genre" and config.dataset.problem == "multiclass"
    assert config.dataset.annot_key == "genre" and config.dataset.n_out == 10
    assert config.feature.type == "lms"
    assert (config.feature.patch_length, config.feature.patch_hop) == (64, 32)
    assert config.feature.params == {"n_mels": 128, "win_length": 2048, "hop_length": 1024}  # the tutorial's L_n is the window
    assert config.model["name"] == "AutoTagging"
    assert config.audio_path(tmp_path / "data") == tmp_path / "data" / "gtzan-genre_audio.hdf5"
    assert config.annotation_path(tmp_path / "data") == tmp_path / "data" / "gtzan-genre.pyjama"


def test_tutorial_chord_and_multipitch_configs(tmp_path):
    chord = load_config(_write(tmp_path, CHORD))
    assert chord.dataset.problem == "framelabel"  # the tutorial's 'segment'
    assert chord.feature.params == {"harmonics": [1], "bins_per_semitone": 1, "n_octaves": 6, "fmin": 32.7,
                                    "hop_length": 512}  # nb_band is implied by the CQT grid
    bittner = load_config(_write(tmp_path, BITTNER))
    assert bittner.dataset.problem == "multipitch" and bittner.dataset.annot_key is None
    assert bittner.feature.params["harmonics"] == [0.5, 1, 2, 3, 4, 5]


def test_a_cqt_bin_count_that_contradicts_its_grid_is_refused(tmp_path):
    """nb_band of a CQT / HCQT follows from bins_per_semitone x n_octaves: 72 agrees with the chord
    config's grid and is accepted; 84 was silently ignored (72 bins computed), now it is one line."""
    assert load_config(_write(tmp_path, CHORD)).feature.params["n_octaves"] == 6
    for text, message in [
        (CHORD.replace("'nb_band': 72", "'nb_band': 84"),
         "feature.nb_band: 84 does not match 12 × bins_per_semitone × n_octaves = 72"),
        # the HCQT's defaults (5 bins per semitone, 6 octaves: 360 bins) when the config leaves them out
        (CHORD.replace("'bins_per_semitone': 1, 'n_octaves': 6, ", ""),
         "feature.nb_band: 72 does not match 12 × bins_per_semitone × n_octaves = 360"),
    ]:
        with pytest.raises(ConfigError) as info:
            load_config(_write(tmp_path, text))
        assert message in str(info.value) and "\n" not in str(info.value)


def test_defaults_of_train_and_eval():
    config = config_from_dict(MINIMAL)
    train = config.train
    # the book's settings for multi-class tagging (issue 9 item 6), not the field defaults
    assert (train.optimizer, train.lr, train.batch_size, train.patience, train.drop_last) == \
        ("adam", 0.01, 128, 10, True)
    assert (train.accelerator, train.devices, train.strategy, train.precision) == ("auto", "auto", "auto", "32")
    assert train.logger == "csv" and train.num_nodes == 1
    assert config.eval.split == "valid" and config.eval.threshold == 0.5
    assert config.dataset.split == "index_mod5" and config.dataset.n_out == "auto"


def test_model_path_is_relative_to_the_config_file(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "net.yaml").write_text(
        "model:\n  name: Net\n  block_l:\n  - sequential_l:\n    - layer_l:\n      - [Linear, {out_features: $n_out}]\n")
    data = dict(MINIMAL, model="models/net.yaml")
    path = _write(tmp_path, yaml.safe_dump(data))
    config = load_config(path)
    assert config.model["name"] == "Net" and config.model_source == "models/net.yaml"
    # the resolved config inlines the model and loads back to the same thing
    config.save(tmp_path / "resolved.yaml")
    again = load_config(tmp_path / "resolved.yaml")
    assert again.to_dict() == config.to_dict()
    missing = _write(tmp_path, yaml.safe_dump(dict(MINIMAL, model="models/none.yaml")), "missing.yaml")
    with pytest.raises(ConfigError, match="none.yaml: no such model file"):
        load_config(missing)


@pytest.mark.parametrize("item, path, value", [
    ("train.lr=0.01", ["train", "lr"], 0.01),
    ("train.devices=2", ["train", "devices"], 2),
    ("train.precision=bf16-mixed", ["train", "precision"], "bf16-mixed"),
    ("dataset.split_lists={train: a.txt}", ["dataset", "split_lists"], {"train": "a.txt"}),
    ("eval.batch_size=", ["eval", "batch_size"], None),
])
def test_parse_override_uses_yaml_values(item, path, value):
    assert parse_override(item) == (path, value)


def test_overrides_apply_before_validation():
    config = config_from_dict(MINIMAL, overrides=["train.lr=0.5", "train.precision=16-mixed", "eval.threshold=0.3",
                                                  "feature.params.n_mels=64"])
    assert config.train.lr == 0.5 and config.train.precision == "16-mixed"
    assert config.eval.threshold == 0.3 and config.feature.params == {"n_mels": 64}
    assert "lr" not in MINIMAL.get("train", {})  # the input mapping is not modified
    assert apply_overrides({"a": {"b": 1}}, ["a.c=2"]) == {"a": {"b": 1, "c": 2}}
    with pytest.raises(ConfigError, match=r"--set 'train': expected SECTION.KEY=VALUE"):
        parse_override("train")
    with pytest.raises(ConfigError, match=r"train.lr is not a mapping"):
        apply_overrides({"train": {"lr": 1}}, ["train.lr.x=2"])


@pytest.mark.parametrize("override, expected", [
    ("train.lr=fast", "exp.yaml: train.lr: expected a number > 0, got 'fast'"),
    ("train.lr=0", "exp.yaml: train.lr: expected a number > 0, got 0"),
    ("train.batch_size=0", "exp.yaml: train.batch_size: expected an integer >= 1, got 0"),
    ("train.batch_size=true", "exp.yaml: train.batch_size: expected an integer >= 1, got True"),
    ("train.optimizer=adamm", "exp.yaml: train.optimizer: expected one of adam, adamw, sgd (did you mean adam?), "
                              "got 'adamm'"),
    ("eval.threshold=1.5", "exp.yaml: eval.threshold: expected a number > 0 and < 1, got 1.5"),
    ("dataset.n_out=zero", "exp.yaml: dataset.n_out: expected an integer >= 1 or 'auto', got 'zero'"),
    ("train.precision=8", "exp.yaml: train.precision: expected one of 32, 32-true, 16-mixed, bf16-mixed, 16-true, "
                          "bf16-true, 64, 64-true, got 8"),
    ("train.min_epochs=5", None),
])
def test_bad_values_name_the_yaml_path(override, expected):
    if expected is None:  # min_epochs above max_epochs
        message = _error(MINIMAL, override, "train.max_epochs=2")
        assert message == "exp.yaml: train.min_epochs: 5 is larger than train.max_epochs 2"
    else:
        assert _error(MINIMAL, override) == expected


def test_exponent_without_a_dot_is_a_number(tmp_path):
    """PyYAML (YAML 1.1) reads ``1e-3`` as text; ``lr: 1e-3`` was refused ('got '1e-3'')."""
    config = load_config(_write(tmp_path, yaml.safe_dump(MINIMAL) + "train: {lr: 1e-3, weight_decay: 5E-4}\n"))
    assert config.train.lr == pytest.approx(0.001) and config.train.weight_decay == pytest.approx(0.0005)
    assert config_from_dict(MINIMAL, overrides=["train.lr=2e-4", "eval.threshold=.5"]).train.lr == pytest.approx(2e-4)
    assert _error(MINIMAL, "train.lr=1e-3x") == "exp.yaml: train.lr: expected a number > 0, got '1e-3x'"
    assert _error(MINIMAL, "train.lr=-1e-3") == "exp.yaml: train.lr: expected a number > 0, got '-1e-3'"


def test_unknown_keys_get_suggestions():
    message = _error(MINIMAL, "train.lrr=0.1")
    assert message.startswith("exp.yaml: train.lrr: unknown key (did you mean lr?); allowed: optimizer, lr,")
    assert "(did you mean eval?)" in _error(dict(MINIMAL, evals={}))
    assert _error(dict(MINIMAL, feature={"type": "lms", "n_melz": 3})).startswith(
        "exp.yaml: feature.n_melz: unknown key (did you mean n_mels?)")
    assert "dataset.problem: expected one of multiclass, multilabel, framelabel, multipitch, metric, separation (did you mean " \
           "multiclass?), got 'multiclas'" in _error(MINIMAL, "dataset.problem=multiclas")


def test_problem_names_and_aliases_resolve_through_the_task_registry():
    """dataset.problem is resolved by TASKS (aliases, any case), and a misspelt alias is suggested
    too (the config's own choice() only suggested the problem names)."""
    for written, problem in (("Multi-Class", "multiclass"), ("CHORD", "framelabel"), ("cover", "metric")):
        data = dict(MINIMAL, dataset=dict(MINIMAL["dataset"], problem=written))
        assert config_from_dict(data).dataset.problem == problem
    assert _error(MINIMAL, "dataset.problem=segmnt") == (
        "exp.yaml: dataset.problem: expected one of multiclass, multilabel, framelabel, multipitch, metric, separation "
        "(did you mean segment?), got 'segmnt'")
    assert _error(MINIMAL, "dataset.problem=7").endswith("separation, got 7")


def test_missing_sections_and_keys():
    assert _error({"dataset": MINIMAL["dataset"], "model": MINIMAL["model"]}) == "exp.yaml: feature: missing section"
    assert _error(dict(MINIMAL, dataset={"problem": "multiclass", "annot_key": "g"})) == \
        "exp.yaml: dataset.base: expected a non-empty string, missing"
    assert _error(dict(MINIMAL, dataset={"base": "d", "problem": "multiclass"})).startswith(
        "exp.yaml: dataset.annot_key: missing")
    assert _error(dict(MINIMAL, model={"name": "m"})).startswith("exp.yaml: model: expected a mapping with 'block_l'")
    assert _error([1, 2]).startswith("exp.yaml: expected a mapping with sections")


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = _write(tmp_path, "dataset:\n  base: d\n  problem: [multiclass\ntrain: {}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: invalid YAML at line ")
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.yaml")


def test_sections_are_frozen_and_validated_on_construction():
    train = TrainConfig(lr=0.1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        train.lr = 1.0  # frozen
    with pytest.raises(ConfigError, match="train.momentum: expected a number >= 0 and < 1, got 1.0"):
        TrainConfig(momentum=1.0)
    assert DatasetConfig(base="b", problem="chord", annot_key="chord").problem == "framelabel"
    assert isinstance(config_from_dict(MINIMAL), ExperimentConfig)


def test_cli_reports_config_errors_in_one_line(tmp_path):
    from mirmodels.cli import main

    path = _write(tmp_path, yaml.safe_dump(MINIMAL))
    result = CliRunner().invoke(main, ["fit", str(path), "--set", "train.patience=-1"])
    assert result.exit_code == 1
    assert result.output.strip() == f"error: {path}: train.patience: expected an integer >= 0, got -1"
    broken = _write(tmp_path, "dataset: {base: d\n", "broken.yaml")
    result = CliRunner().invoke(main, ["fit", str(broken)])
    assert result.exit_code == 1 and result.output.startswith(f"error: {broken}: invalid YAML at line")


def test_summary_var_that_is_not_yaml_is_one_line():
    """``--var n_out=[`` is not YAML: the text goes on to the layer, which names it (was a traceback)."""
    from mirmodels.cli import main

    model = Path(__file__).resolve().parents[2] / "examples" / "models" / "autotag_lms.yaml"
    result = CliRunner().invoke(main, ["summary", str(model), "--input-shape", "1,128,64", "--var", "n_out=["])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert result.output.startswith("error: ") and "'out_features'" in result.output and "'['" in result.output
