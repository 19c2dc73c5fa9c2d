"""The YAML model factory: -1 inference, variables, errors that name the layer, user bricks,
the model's properties (pickle, store, device / autocast), and the ``mirmodels summary`` CLI."""

from __future__ import annotations

import copy
import pickle
import re
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner
from torch import nn

from mirmodels.cli import main
from mirmodels.factory import ModelConfigError, build_model, load_model_config
from mirmodels.layers import CHANNELS, get_layer, layer_names, register_layer
from mirmodels.summary import count_parameters, format_summary, parse_shape, summarize
from pyjama_tools.core.errors import MirError

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"


def model_of(*sequentials: list) -> dict:
    """``{'model': ...}`` with one block per argument, each argument a list of layer_l lists."""
    return {"model": {"name": "t", "block_l": [{"sequential_l": [{"layer_l": layers} for layers in block]}
                                               for block in sequentials]}}


def error_of(config, shape, **kwargs) -> str:
    with pytest.raises(ModelConfigError) as info:
        build_model(config, shape, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


# ----------------------------------------------------------------------------- inference


def test_minus_one_is_inferred_from_the_incoming_tensor():
    config = model_of([[
        ["LayerNorm", {"normalized_shape": -1}],
        ["Conv2d", {"in_channels": -1, "out_channels": 4, "kernel_size": [3, 3]}],
        ["BatchNorm2d", {"num_features": -1}],
        ["Flatten", {"start_dim": 2}],
        ["Permute", {"shape": [0, 2, 1]}],
        ["BatchNorm1dT", {"num_features": -1}],
        ["Linear", {"in_features": -1, "out_features": 7}],
        ["LSTMall", {"input_size": -1, "hidden_size": 6}],
        ["LSTMlast", {"input_size": -1, "hidden_size": 5}],
        ["BatchNorm1d", {"num_features": -1}],
    ]])
    model = build_model(config, (3, 10, 8))
    layers = [module for _, module in model.layers()]
    assert tuple(layers[0].normalized_shape) == (3, 10, 8)
    assert layers[1].in_channels == 3
    assert layers[2].num_features == 4
    assert layers[5].norm.num_features == 4      # (B, T=48, C=4): the last axis
    assert layers[6].in_features == 4
    assert layers[7].lstm.input_size == 7 and layers[7].lstm.hidden_size == 3
    assert layers[8].lstm.input_size == 6
    assert layers[9].num_features == 5
    assert [r.output_shape for r in model.records] == [
        (3, 10, 8), (4, 8, 6), (4, 8, 6), (4, 48), (48, 4), (48, 4), (48, 7), (48, 6), (5,), (5,)]
    assert model.records[1].params["in_channels"] == 3
    assert tuple(model(torch.randn(3, 3, 10, 8)).shape) == (3, 5)


def test_inferable_parameters_may_be_left_out_and_bare_values_fill_the_positional_one():
    config = model_of([[
        ["Conv1d", {"out_channels": 6, "kernel_size": 3}],   # in_channels left out: inferred
        ["Activation", "LeakyReLU"],
        ["UnSqueeze", 2],
        ["AutoPoolWeightSplit", "empty"],
        ["Squeeze", [2, 3]],
    ]])
    model = build_model(config, (2, 20))
    assert model.output_shape == (3,)
    assert isinstance(model.block_l[0][0][1], nn.LeakyReLU)


def test_accepts_a_path_a_full_config_or_the_model_mapping(tmp_path):
    config = model_of([[["Linear", {"in_features": -1, "out_features": 3}]]])
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({"dataset": {"base": "x"}, **config}))
    for given in (path, str(path), config, config["model"]):
        assert build_model(given, (5,)).output_shape == (3,)
    model, origin = load_model_config(path)
    assert origin == str(path) and model["name"] == "t"


def test_an_experiment_config_naming_its_model_file_is_followed(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "net.yaml").write_text(yaml.safe_dump(model_of([[["Conv1d", {"out_channels": 3,
                                                                                        "kernel_size": 2}]]])))
    experiment = tmp_path / "experiment.yaml"
    experiment.write_text("dataset: {base: x}\nmodel: models/net.yaml\n")
    assert build_model(experiment, (1, 8)).output_shape == (3, 7)
    result = CliRunner().invoke(main, ["summary", str(experiment), "--input-shape", "1,8"])
    assert result.exit_code == 0 and "-> output (3, 7)" in result.output.splitlines()[0]
    experiment.write_text("model: models/absent.yaml\n")
    assert error_of(experiment, (1, 8)) == f"{tmp_path / 'models' / 'absent.yaml'}: no such file"
    (tmp_path / "models" / "net.yaml").write_text(yaml.safe_dump(model_of([[["Conv1d", {"kernel_size": 2}]]])))
    experiment.write_text("model: models/net.yaml\n")
    assert error_of(experiment, (1, 8)) == (f"{tmp_path / 'models' / 'net.yaml'}: model.block_l[0].sequential_l[0]"
                                            ".layer_l[0] (Conv1d): missing parameter 'out_channels'")
    assert build_model(MODELS.parent / "bach10_hcqt_unet.yaml", (6, 24, 8)).output_shape == (1, 24, 8)


def test_the_model_gives_variable_defaults_that_the_caller_overrides():
    config = model_of([[["Flatten", {}], ["Linear", {"out_features": "$n_out"}]]])
    config["model"]["variables"] = {"n_out": 10}
    assert build_model(config, (2, 3)).output_shape == (10,)
    assert build_model(config, (2, 3), variables={"n_out": 50}).output_shape == (50,)
    config["model"]["variables"] = [10]
    assert error_of(config, (2, 3)) == "model.variables: expected a mapping of names to default values, got [10]"
    for name in ("autotag_lms", "chord_bilstm"):
        shape = (1, 128, 64) if name == "autotag_lms" else (1, 72, 32)
        assert build_model(MODELS / f"{name}.yaml", shape, {"n_out": 50}).output_shape[0] == 50


def test_variables_replace_dollar_placeholders():
    config = model_of([[["Linear", {"in_features": -1, "out_features": "$n_out"}],
                        ["Dropout", {"p": "$drop"}]]])
    model = build_model(config, (4,), variables={"n_out": 50, "drop": 0.25})
    assert model.output_shape == (50,)
    assert model.block_l[0][0][1].p == 0.25
    message = error_of(config, (4,), variables={"drop": 0.1})
    assert message == ("model.block_l[0].sequential_l[0].layer_l[0] (Linear): parameter 'out_features': "
                       "variable $n_out is not defined (given: drop)")


# ----------------------------------------------------------------------------- errors


def test_unknown_layer_names_the_path_and_suggests():
    config = model_of([[["Linear", {"out_features": 3}]], [["Conv2dd", {"out_channels": 3}]]])
    assert error_of(config, (4,)) == ("model.block_l[0].sequential_l[1].layer_l[0] (Conv2dd): "
                                      "unknown layer 'Conv2dd' (did you mean Conv2d, Conv2dDS, Conv1d?); "
                                      f"known: {', '.join(layer_names())}")
    assert "(did you mean LayerNorm" in error_of(model_of([[["layernorm", {}]]]), (4,))
    assert error_of(model_of([[["Frobnicate", {}]]]), (4,)).endswith(
        f"unknown layer 'Frobnicate'; known: {', '.join(layer_names())}")


def test_unknown_parameter_is_named_with_a_suggestion():
    config = model_of([[["Conv1d", {"in_channels": -1, "out_channels": 3, "kernal_size": 3}]]])
    assert error_of(config, (1, 50)) == ("model.block_l[0].sequential_l[0].layer_l[0] (Conv1d): "
                                         "unknown parameter 'kernal_size' (did you mean 'kernel_size'?); allowed: "
                                         "in_channels, out_channels, kernel_size, stride, padding, dilation, groups, "
                                         "bias, padding_mode")


def test_wrong_type_missing_and_refused_parameters():
    prefix = "model.block_l[0].sequential_l[0].layer_l[0]"
    assert error_of(model_of([[["Linear", {"out_features": "many"}]]]), (4,)) == \
        f"{prefix} (Linear): parameter 'out_features' must be int, got 'many'"
    assert error_of(model_of([[["Linear", {}]]]), (4,)) == f"{prefix} (Linear): missing parameter 'out_features'"
    assert error_of(model_of([[["Activation", "Relu"]]]), (4,)).startswith(
        f"{prefix} (Activation): unknown activation 'Relu' (did you mean ReLU")
    assert error_of(model_of([[["Conv2dNext", {"out_channels": 8}]]]), (4, 6, 6)).startswith(
        f"{prefix} (Conv2dNext): out_channels=8: Conv2dNext keeps its 4 input channels")
    # PyTorch's own refusal becomes one line too
    message = error_of(model_of([[["Conv1d", {"out_channels": 2, "kernel_size": 3, "stride": 2, "padding": "same"}]]]),
                       (1, 20))
    assert message.startswith(f"{prefix} (Conv1d): bad parameter: ") and "same" in message
    assert "expected a mapping of parameters" in error_of(model_of([[["Linear", 5]]]), (4,))


def test_a_float_parameter_written_with_an_exponent_is_a_float():
    """PyYAML reads ``eps: 1e-5`` (no dot) as text: it was refused ('must be float, got '1e-5'')."""
    config = yaml.safe_load("model: {name: t, block_l: [{sequential_l: [{layer_l: "
                            "[[LayerNorm, {normalized_shape: -1, eps: 1e-5}], [Dropout, {p: 2e-1}]]}]}]}")
    assert config["model"]["block_l"][0]["sequential_l"][0]["layer_l"][0][1]["eps"] == "1e-5"  # PyYAML's reading
    model = build_model(config, (3, 4))
    norm, dropout = [m for m in model.modules() if isinstance(m, (nn.LayerNorm, nn.Dropout))]
    assert norm.eps == pytest.approx(1e-5) and dropout.p == pytest.approx(0.2)
    # text that is not a number is still refused, an int parameter still refuses a float
    prefix = "model.block_l[0].sequential_l[0].layer_l[0]"
    assert error_of(model_of([[["Dropout", {"p": "1e-5x"}]]]), (4,)) == \
        f"{prefix} (Dropout): parameter 'p' must be float, got '1e-5x'"
    assert error_of(model_of([[["Linear", {"out_features": "1e1"}]]]), (4,)) == \
        f"{prefix} (Linear): parameter 'out_features' must be int, got '1e1'"


def test_kernel_larger_than_input_names_block_sequential_layer_and_shape():
    config = model_of(
        [[["Conv2d", {"in_channels": -1, "out_channels": 6, "kernel_size": [3, 3], "padding": "same"}]]],
        [[["Conv2d", {"in_channels": -1, "out_channels": 6, "kernel_size": [1, 3]}],
          ["Activation", "ReLU"],
          ["Conv2d", {"in_channels": -1, "out_channels": 6, "kernel_size": [5, 5]}]]],
    )
    assert error_of(config, (2, 3, 4)) == ("model.block_l[1].sequential_l[0].layer_l[2] (Conv2d): "
                                           "kernel (5, 5) larger than input (6, 3, 2)")
    pool = model_of([[["MaxPool1d", {"kernel_size": 8}]]])
    assert error_of(pool, (2, 5)).endswith("(MaxPool1d): kernel (8,) larger than input (2, 5)")
    dilated = model_of([[["Conv1d", {"out_channels": 2, "kernel_size": 3, "dilation": 4}]]])
    assert error_of(dilated, (1, 8)).endswith("dilated kernel (9,) larger than input (1, 8)")


def test_other_impossible_shapes_are_reported_with_the_incoming_shape():
    wrong_features = model_of([[["Linear", {"in_features": 9, "out_features": 2}]]])
    assert error_of(wrong_features, (4,)).startswith(
        "model.block_l[0].sequential_l[0].layer_l[0] (Linear): cannot run on input (4,): ")
    assert error_of(model_of([[["Squeeze", {"dim": 1}]]]), (3, 4)).endswith(
        "(Squeeze): cannot squeeze axis 1 of size 3 (shape with batch (2, 3, 4))")
    assert "needs a rank-3 tensor" in error_of(model_of([[["Permute", {"shape": [0, 2, 1]}]]]), (3, 4, 5))
    assert "needs an even count" in error_of(model_of([[["AutoPoolWeightSplit", {}]]]), (3, 1, 4))
    # PyTorch would read an input one rank short as unbatched, taking the probe's batch for channels
    conv2d = model_of([[["Conv2d", {"out_channels": 4, "kernel_size": [2, 2]}]]])
    assert error_of(conv2d, (1, 10)) == ("model.block_l[0].sequential_l[0].layer_l[0] (Conv2d): "
                                         "Conv2d needs (channels, F, T) per example, got input (1, 10)")
    clash = model_of([[["Conv2d", {"in_channels": 2, "out_channels": 2, "kernel_size": [2, 2]}]]])
    assert error_of(clash, (5, 10)).endswith("Conv2d needs (channels, F, T) per example, got input (5, 10)")
    assert error_of(model_of([[["Conv1d", {"out_channels": 4, "kernel_size": 3}]]]), (9,)).endswith(
        "Conv1d needs (channels, T) per example, got input (9,)")


def test_mismatched_and_missing_concatenations():
    base = [["StoreAs", "skip"], ["MaxPool2d", {"kernel_size": 2}]]
    config = model_of([base + [["CatWith", "skip"]]])
    assert error_of(config, (2, 8, 8)) == ("model.block_l[0].sequential_l[0].layer_l[2] (CatWith): cannot concatenate "
                                           "stored 'skip' (2, 8, 8) with incoming (2, 4, 4): sizes differ off axis 1")
    missing = model_of([[["CatWith", "E64"]]])
    assert error_of(missing, (2, 8, 8)).endswith("(CatWith): no tensor stored as 'E64' before this layer (stored: none)")


def test_structural_and_file_errors(tmp_path):
    assert error_of({"model": {"block_l": [{"sequentiel_l": []}]}}, (4,)) == \
        "model.block_l[0]: unknown key 'sequentiel_l' (expected 'sequential_l')"
    assert error_of({"model": {"block_l": "conv"}}, (4,)) == "model.block_l: expected a list, got str"
    assert error_of({"model": {"block_l": [{"sequential_l": [{"layer_l": [42]}]}]}}, (4,)).startswith(
        "model.block_l[0].sequential_l[0].layer_l[0]: expected [LayerName, {params}]")
    assert error_of({"dataset": {}}, (4,)) == "model: no 'model' key (nor a 'block_l' list)"
    assert "input_shape" in error_of(model_of([[["Dropout", {}]]]), (0, 3))
    assert "input_shape" in error_of(model_of([[["Dropout", {}]]]), (2.5,))
    assert error_of(tmp_path / "absent.yaml", (4,)) == f"{tmp_path / 'absent.yaml'}: no such file"
    assert error_of(tmp_path, (4,)) == f"{tmp_path}: is a folder, not a YAML file"
    (tmp_path / "empty.yaml").write_text("# nothing yet\n")
    assert error_of(tmp_path / "empty.yaml", (4,)) == f"{tmp_path / 'empty.yaml'}: empty file, no model description"
    broken = tmp_path / "broken.yaml"
    broken.write_text("model:\n  block_l: [\n    - oops: {\n")
    assert error_of(broken, (4,)).startswith(f"{broken}: invalid YAML at line ")
    file_config = tmp_path / "bad_layer.yaml"
    file_config.write_text(yaml.safe_dump(model_of([[["Linear", {"out_features": 2}], ["Lienar", {}]]])))
    assert error_of(file_config, (4,)) == (f"{file_config}: model.block_l[0].sequential_l[0].layer_l[1] (Lienar): "
                                           "unknown layer 'Lienar' (did you mean Linear?); known: "
                                           f"{', '.join(layer_names())}")
    assert isinstance(ModelConfigError("x"), MirError)


def test_a_misspelt_model_key_is_refused_by_name(tmp_path):
    """``nme: Cover`` (for ``name``) or ``variable:`` was silently ignored: the tutorial's model name
    chooses the problem (``Cover`` → metric) and ``variables`` the placeholders' defaults."""
    layers = [[["Linear", {"out_features": 2}]]]
    assert error_of({"model": {"nme": "Cover", **model_of(layers)["model"]}}, (4,)) == \
        "model.nme: unknown key (did you mean name?); allowed: name, variables, block_l"
    assert error_of({"model": {"variable": {"n_out": 3}, **model_of(layers)["model"]}}, (4,)).startswith(
        "model.variable: unknown key (did you mean variables?)")
    file_config = tmp_path / "typo.yaml"
    file_config.write_text(yaml.safe_dump({"model": {"nme": "x", **model_of(layers)["model"]}}))
    result = CliRunner().invoke(main, ["summary", str(file_config), "--input-shape", "4"])
    assert result.exit_code == 1 and result.output.strip() == \
        f"error: {file_config}: model.nme: unknown key (did you mean name?); allowed: name, variables, block_l"


# ----------------------------------------------------------------------------- user bricks


@register_layer("TestGain", infer={"channels": CHANNELS})
class GainBrick(nn.Module):
    """A brick defined outside mirmodels: one learnable gain per channel."""

    def __init__(self, channels: int, start: float = 2.0):
        super().__init__()
        self.gain = nn.Parameter(torch.full((channels,), float(start)))

    def forward(self, x):
        return x * self.gain.view(1, -1, *([1] * (x.dim() - 2)))


def test_user_registered_layer_is_built_and_inferred():
    assert "TestGain" in layer_names() and get_layer("TestGain").builder is GainBrick
    model = build_model(model_of([[["TestGain", {"channels": -1, "start": 3.0}]]]), (5, 7))
    gain = model.block_l[0][0][0]
    assert isinstance(gain, GainBrick) and gain.gain.shape == (5,)
    x = torch.randn(2, 5, 7)
    assert torch.allclose(model(x), 3 * x)
    assert "(did you mean 'start'?); allowed: channels, start" in error_of(model_of([[["TestGain", {"strat": 1.0}]]]), (5, 7))
    assert "must be float" in error_of(model_of([[["TestGain", {"start": "big"}]]]), (5, 7))
    with pytest.raises(MirError, match="already registered"):
        register_layer("TestGain")(nn.Identity)
    register_layer("TestGain")(GainBrick)  # same builder again: accepted


def test_user_brick_may_use_the_store():
    @register_layer("TestAddStored", positional="key", replace=True)
    class AddStored(nn.Module):
        uses_store = True

        def __init__(self, key: str):
            super().__init__()
            self.key = key

        def forward(self, x, store):
            return x + store[self.key]

    model = build_model(model_of([[["StoreAs", "a"], ["TestAddStored", "a"]]]), (3,))
    x = torch.randn(4, 3)
    assert torch.allclose(model(x), 2 * x)


# ----------------------------------------------------------------------------- the model


def tutorial_unet() -> dict:
    """A small U-Net in the tutorial's own spelling (DoubleChannel after CatWith)."""
    def conv(c):
        return ["Conv2d", {"in_channels": -1, "out_channels": c, "kernel_size": [3, 3], "stride": 1, "padding": "same"}]
    return {"model": {"name": "Doras", "block_l": [
        {"sequential_l": [
            {"layer_l": [["BatchNorm2d", {"num_features": -1}], conv(4), ["Activation", "ReLU"]]},
            {"layer_l": [["StoreAs", "E4"]]},
            {"layer_l": [conv(8), ["MaxPool2d", {"kernel_size": [2, 2]}], ["Activation", "ReLU"]]}]},
        {"sequential_l": [
            {"layer_l": [["ConvTranspose2d", {"in_channels": -1, "out_channels": 4, "kernel_size": [2, 2], "stride": [2, 2]}]]},
            {"layer_l": [["CatWith", "E4"]]},
            {"layer_l": [["DoubleChannel", "empty"], ["BatchNorm2d", {"num_features": -1}], conv(1)]}]},
    ]}}


def test_tutorial_unet_grammar_with_doublechannel():
    model = build_model(tutorial_unet(), (2, 8, 6))
    names = [r.name for r in model.records]
    assert names[names.index("CatWith")] == "CatWith"
    assert model.records[names.index("CatWith")].output_shape == (8, 8, 6)
    assert model.records[names.index("DoubleChannel")].output_shape == (8, 8, 6)
    assert model.output_shape == (1, 8, 6)
    assert any(key.startswith("block_l.1.2.1.") for key in model.state_dict())  # nested as in the YAML


def test_model_pickles_copies_and_keeps_no_store():
    model = build_model(tutorial_unet(), (2, 8, 6)).eval()
    x = torch.randn(3, 2, 8, 6)
    expected = model(x)
    for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert torch.allclose(clone(x), expected)
        assert clone.records == model.records
    assert not any(isinstance(value, (dict, torch.Tensor)) and key not in ("_parameters", "_buffers", "_modules")
                   for key, value in vars(model).items() if not key.startswith("_"))
    assert torch.allclose(model(x), expected)  # no state carried over between calls


def test_sincnet_tcn_and_recurrent_models_pickle():
    for name, shape in [("autotag_wave_sincnet", (1, 800)), ("autotag_wave_tcn", (1, 800)), ("chord_bilstm", (1, 72, 32))]:
        model = build_model(MODELS / f"{name}.yaml", shape).eval()
        x = torch.randn(2, *shape)
        assert torch.allclose(pickle.loads(pickle.dumps(model))(x), model(x), atol=1e-6)


def test_probe_leaves_training_mode_and_batchnorm_statistics_untouched():
    model = build_model(model_of([[["BatchNorm1d", {}], ["Dropout", {"p": 0.5}]]]), (3,))
    assert model.training and all(module.training for module in model.modules())
    bn = model.block_l[0][0][0]
    assert torch.equal(bn.running_mean, torch.zeros(3)) and int(bn.num_batches_tracked) == 0


def test_bf16_autocast_and_device_move():
    model = build_model(MODELS / "autotag_wave_sincnet.yaml", (1, 1600))
    x = torch.randn(2, 1, 1600)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    moved = model.to(device)
    assert moved(x.to(device)).device.type == device


def test_film_conditions_on_a_stored_summary():
    config = model_of([[
        ["StoreAs", "input"],
        ["Mean", {"dim": 2}],            # (B, C) summary of the input
        ["Linear", {"out_features": 5}],
        ["StoreAs", "condition"],
        ["Recall", "input"],              # back to (B, C, T)
        ["FiLM", {"key": "condition"}],
    ]])
    model = build_model(config, (3, 10))
    film = model.block_l[0][0][5]
    assert film.to_scale_shift.in_features == 5 and film.to_scale_shift.out_features == 6
    x = torch.randn(2, 3, 10)
    nn.init.zeros_(film.to_scale_shift.weight)
    nn.init.zeros_(film.to_scale_shift.bias)
    assert torch.allclose(model(x), x)  # zero scale and shift: identity
    assert "no tensor stored as 'nothing'" in error_of(model_of([[["FiLM", {"key": "nothing"}]]]), (3, 10))


# ----------------------------------------------------------------------------- summary


def test_summarize_rows_and_counts():
    model = build_model(MODELS / "autotag_lms.yaml", (1, 128, 64))
    rows = summarize(model)
    assert len(rows) == len(model.records)
    assert rows[1].path == "model.block_l[0].sequential_l[0].layer_l[1]" and rows[1].name == "Conv2d"
    assert rows[1].output_shape == (80, 1, 60) and rows[1].parameters == 80 * 128 * 5 + 80
    total, trainable = count_parameters(model)
    assert sum(row.parameters for row in rows) == total == trainable
    text = format_summary(model)
    assert text.splitlines()[0] == "AutoTagLMS: input (1, 128, 64) -> output (10,) (batch excluded)"
    assert f"total parameters: {total:,}" in text
    assert parse_shape("6,360,64") == (6, 360, 64) and parse_shape("1x3200") == (1, 3200)
    assert parse_shape(" 6, 360 ,64 ") == (6, 360, 64) and parse_shape("6X360x64") == (6, 360, 64)
    for text in ("6,,-1", "6,,64", "1,23,x", "6,360,", "x64", "", "6.5,2"):  # nothing silently dropped
        with pytest.raises(MirError, match="--input-shape"):
            parse_shape(text)


def test_summary_cli_prints_the_table():
    result = CliRunner().invoke(main, ["summary", str(MODELS / "multipitch_conv2d.yaml"), "--input-shape", "6,36,8"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Bittner: input (6, 36, 8) -> output (1, 36, 8)")
    assert re.match(r"model\.block_l\[0\]\.sequential_l\[0\]\.layer_l\[1\]\s+Conv2d\s+\(128, 36, 8\)\s+19,328$", lines[4])
    total, _ = count_parameters(build_model(MODELS / "multipitch_conv2d.yaml", (6, 36, 8)))
    assert lines[-2] == f"total parameters: {total:,}" and lines[-1] == f"trainable parameters: {total:,}"


def test_summary_cli_variables_and_rank_two(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(model_of([[["Conv1d", {"out_channels": 4, "kernel_size": 3}],
                                               ["Flatten", {}], ["Linear", {"out_features": "$n_out"}]]])))
    result = CliRunner().invoke(main, ["summary", str(path), "--input-shape", "2,10", "--var", "n_out=50"])
    assert result.exit_code == 0, result.output
    assert "-> output (50,)" in result.output.splitlines()[0]


@pytest.mark.parametrize("content, shape, expected", [
    ("model: {block_l: [\n", "1,8", "invalid YAML"),
    (yaml.safe_dump(model_of([[["Conv3x", {}]]])), "1,8", "(Conv3x): unknown layer 'Conv3x' (did you mean"),
    (yaml.safe_dump(model_of([[["Conv1d", {"out_channels": 2, "kernel_size": 9}]]])), "1,8",
     "(Conv1d): kernel (9,) larger than input (1, 8)"),
    (yaml.safe_dump(model_of([[["Dropout", {}]]])), "1,zero", "--input-shape '1,zero'"),
])
def test_summary_cli_errors_are_one_line(tmp_path, content, shape, expected):
    path = tmp_path / "m.yaml"
    path.write_text(content)
    result = CliRunner().invoke(main, ["summary", str(path), "--input-shape", shape])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("error: ")
    assert expected in result.output and "Traceback" not in result.output


def test_summary_of_a_config_with_a_misspelt_section_is_refused(tmp_path):
    """``datasett:`` for ``dataset:``: summary sized the output from nothing (10, the file's Linear,
    not the 50 of its n_out) and said nothing; a misspelt top-level key is one line naming it."""
    path = tmp_path / "exp.yaml"
    model = model_of([[["Linear", {"out_features": 10}]]])["model"]
    path.write_text(yaml.safe_dump({"output_file": "x", "datasett": {"n_out": 50}, "model": model}))
    result = CliRunner().invoke(main, ["summary", str(path), "--input-shape", "4"])
    assert result.exit_code == 1 and result.output.strip() == \
        f"error: {path}: datasett: unknown key (did you mean dataset?); allowed: dataset, feature, model, train, eval"
    path.write_text(yaml.safe_dump({"output_file": "x", "dataset": {"n_out": 50}, "model": model}))
    assert "(50,)" in CliRunner().invoke(main, ["summary", str(path), "--input-shape", "4"]).output


def test_summary_cli_missing_file():
    result = CliRunner().invoke(main, ["summary", "no/such.yaml", "--input-shape", "1,8"])
    assert result.exit_code == 1 and result.output == "error: no/such.yaml: no such file\n"


def test_every_book_layer_name_is_registered():
    book = ("LayerNorm BatchNorm1d BatchNorm1dT BatchNorm2d Conv1d Conv2d Conv2dDS Conv2dRes Conv2dNext Conv1dTCN "
            "SincNet ConvTranspose2d MaxPool1d MaxPool2d Linear Activation Dropout Flatten Squeeze UnSqueeze Permute "
            "Mean Max AutoPoolWeight AutoPoolWeightSplit SoftmaxWeight AbsLayer LSTMlast LSTMall StoreAs CatWith "
            "DoubleChannel GRU MultiHeadSelfAttention TransformerEncoder PositionalEncoding FiLM").split()
    assert set(book) <= set(layer_names())


@pytest.mark.slow
def test_ddp_and_torch_compile(tmp_path):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    model = build_model(tutorial_unet(), (2, 8, 6))
    x = torch.randn(3, 2, 8, 6)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        wrapped = DistributedDataParallel(model)  # fails on unused parameters only at backward
        wrapped(x).mean().backward()
        assert all(p.grad is not None for p in model.parameters())
    finally:
        dist.destroy_process_group()
    compiled = torch.compile(model.eval(), backend="eager", fullgraph=True)  # the store dict traces in one graph
    assert torch.allclose(compiled(x), model(x), atol=1e-6)
