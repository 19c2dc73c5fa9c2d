"""The tutorial's own config files (../shared/fixtures/tutorial/, unchanged) and every variant
they keep commented out build with the tutorial's parameter counts; the ResNet, ConvNeXt and
TCN bricks hold the tutorial's weights; ``mirmodels summary`` reads the files as they are.

Expected counts: the five defaults and Bittner-with-ResNet-blocks are the figures measured with
the tutorial's own factory (issue 9). Every variant's count is worked out by
``tutorial_reference.tutorial_count`` from the factory's rules (written out in that module's
docstring), which first has to reproduce those measured figures (test_reference_reproduces_...).
Input shapes follow the notebooks: LMS (1, 128, 64), waveform (1, 3200), HCQT 6 or 1 × 360 × 64,
chord CQT (1, 72, 1024), CREMA cover (1, 23, 1800); n_out is the file's ``dataset.n_out``.
"""

from __future__ import annotations

import copy
import pickle
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner
from conftest import fixture_path
from torch import nn
from tutorial_reference import (
    enable_line,
    resize_last_linear,
    select_variant,
    swap_line,
    toggle_block,
    tutorial_count,
    tutorial_input_shape,
)

from mirmodels.cli import main
from mirmodels.factory import ModelConfigError, build_model
from mirmodels.summary import count_parameters
from mirmodels.layers.conv import Conv1dTCN, Conv2dNext, Conv2dRes

# Measured with the tutorial's factory (issue 9): the file as it is, n_out from its dataset.
PUBLISHED = {"autotagging": 167_355, "bittner": 406_253, "chord": 6_959_721, "cover": 1_869_094, "doras": 7_093_591}
BITTNER_RESNET = 853_741  # the Bittner model with ResNet blocks (C3) = 3.415 MB of float32


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():  # 'same' padding with the even 70-bin kernel pads a copy
        warnings.simplefilter("ignore", UserWarning)
        yield


def tutorial_text(name: str) -> str:
    return fixture_path("tutorial", f"config_{name}.yaml").read_text(encoding="utf-8")


def _mean_pooling(text: str) -> str:
    """Autotagging: the commented (B, C, T) → Mean over time sequential instead of the
    Permute / UnSqueeze and AutoPoolWeightSplit / Squeeze ones it stands in for."""
    text = toggle_block(text, "#- layer_l:", 3, on=True)
    # the two sequentials after it: '- layer_l:' Permute UnSqueeze, '- layer_l:' AutoPoolWeightSplit Squeeze
    return _comment_from(text, "[UnSqueeze", back=2, count=6)


def _comment_from(text: str, marker: str, back: int, count: int) -> str:
    """Comment out ``count`` lines starting ``back`` lines above the one containing ``marker``."""
    lines = text.splitlines()
    (at,) = [i for i, line in enumerate(lines) if marker in line]
    assert lines[at - back].strip() == "- layer_l:", lines[at - back]
    for index in range(at - back, at - back + count):
        stripped = lines[index].lstrip()
        lines[index] = lines[index][: len(lines[index]) - len(stripped)] + "#" + stripped
    return "\n".join(lines) + "\n"


# (file, variant label, text transform, a brick the variant must contain)
Variant = tuple[str, str, Callable[[str], str], str]
VARIANTS: list[Variant] = [
    ("autotagging", "D2-I1-C1 (default)", lambda t: t, "AutoPoolWeightSplit"),
    ("autotagging", "D1-I1-C1", lambda t: select_variant(t, D="D1", I="I1", C="C1"), "Conv2d"),
    ("autotagging", "D1-I2-C2", lambda t: select_variant(t, D="D1", I="I2", C="C2"), "SincNet"),
    ("autotagging", "D1-I2-C3", lambda t: select_variant(t, D="D1", I="I2", C="C3"), "Conv1d"),
    ("autotagging", "D1-I2-C4", lambda t: select_variant(t, D="D1", I="I2", C="C4"), "Conv1dTCN"),
    ("autotagging", "D2-I1-C1 Mean pooling", _mean_pooling, "Mean"),
    ("autotagging", "D2-I1-C1 Softmax", lambda t: enable_line(t, "[Activation, Softmax]", like="'out_features': 10"),
     "Activation"),
    ("bittner", "D1-I2-C1 (default)", lambda t: t, "Conv2d"),
    ("bittner", "D1-I1-C1", lambda t: select_variant(t, D="D1", I="I1", C="C1"), "Conv2d"),
    ("bittner", "D1-I2-C2", lambda t: select_variant(t, D="D1", I="I2", C="C2"), "Conv2dDS"),
    ("bittner", "D1-I2-C3", lambda t: select_variant(t, D="D1", I="I2", C="C3"), "Conv2dRes"),
    ("bittner", "D1-I2-C4", lambda t: select_variant(t, D="D1", I="I2", C="C4"), "Conv2dNext"),
    ("bittner", "D2-I2-C1", lambda t: select_variant(t, D="D2", I="I2", C="C1"), "Conv2d"),
    ("chord", "D3-I3 (default)", lambda t: t, "LSTMall"),
    ("cover", "AutoPoolWeightSplit (default)", lambda t: t, "AutoPoolWeightSplit"),
    ("cover", "Max", lambda t: swap_line(t, off="[AutoPoolWeightSplit", on="[Max,"), "Max"),
    ("cover", "Mean", lambda t: swap_line(t, off="[AutoPoolWeightSplit", on="[Mean,"), "Mean"),
    ("cover", "SoftmaxWeight", lambda t: swap_line(t, off="[AutoPoolWeightSplit", on="[SoftmaxWeight"), "SoftmaxWeight"),
    ("cover", "AutoPoolWeight", lambda t: swap_line(t, off="[AutoPoolWeightSplit", on="[AutoPoolWeight,"),
     "AutoPoolWeight"),
    ("cover", "Sigmoid embedding", lambda t: enable_line(t, "[Activation, Sigmoid]", like="[Linear"), "Activation"),
    # Tanh is commented in the file but the tutorial's f_get_activation has no Tanh (it knows Sigmoid,
    # Softmax, ReLU, LeakyReLU, PReLU): its factory cannot build it; the count is the same rule (0).
    ("cover", "Tanh embedding", lambda t: enable_line(t, "[Activation, Tanh]", like="[Linear"), "Activation"),
    ("doras", "D2-I2 U-Net (default)", lambda t: t, "CatWith"),
    ("doras", "D2-I1 U-Net", lambda t: select_variant(t, D="D2", I="I1"), "CatWith"),
]


def _variant(name: str, transform: Callable[[str], str]) -> tuple[str, dict]:
    text = transform(tutorial_text(name))
    return text, yaml.safe_load(text)


def _n_out(document: dict) -> int | None:
    dataset = document.get("dataset") or {}
    return dataset.get("n_out")


def expected_count(document: dict) -> int:
    """The tutorial factory's count for this document (last Linear sized to dataset.n_out)."""
    model = document["model"]
    if _n_out(document) is not None:
        model = resize_last_linear(model, _n_out(document))
    return tutorial_count(model, tutorial_input_shape(document))


def test_reference_reproduces_the_tutorial_factorys_measured_counts():
    for name, published in PUBLISHED.items():
        _, document = _variant(name, lambda t: t)
        assert expected_count(document) == published, name
    _, resnet = _variant("bittner", lambda t: select_variant(t, C="C3"))
    assert expected_count(resnet) == BITTNER_RESNET


def _summary(path: Path, shape: tuple[int, ...], *options: str) -> str:
    result = CliRunner().invoke(main, ["summary", str(path), "--input-shape", ",".join(map(str, shape)), *options])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("name, label, transform, brick", VARIANTS, ids=[f"{v[0]}:{v[1]}" for v in VARIANTS])
def test_every_tutorial_variant_builds_with_the_tutorials_count(tmp_path, name, label, transform, brick):
    """``mirmodels summary`` on the file (as it is, or with the variant un-commented), with the
    notebook's input shape and the file's own dataset.n_out: the tutorial's parameter count."""
    text, document = _variant(name, transform)
    assert (text == tutorial_text(name)) == ("(default)" in label)  # a variant really changes the text
    if "(default)" in label:
        path = fixture_path("tutorial", f"config_{name}.yaml")  # the file itself, unchanged
    else:
        path = tmp_path / f"config_{name}.yaml"
        path.write_text(text, encoding="utf-8")
    lines = _summary(path, tutorial_input_shape(document)).splitlines()
    expected = expected_count(document)
    if "(default)" in label:
        assert expected == PUBLISHED[name]
    if (name, label) == ("bittner", "D1-I2-C3"):  # the Bittner model with ResNet blocks
        assert expected == BITTNER_RESNET
    assert lines[-2:] == [f"total parameters: {expected:,}", f"trainable parameters: {expected:,}"], label
    assert lines[-3] == f"parameter size: {expected * 4 / 1e6:.3f} MB (1 MB = 10^6 bytes)"
    assert any(re.search(rf"\s{brick}\s", line) for line in lines[3:-3]), f"no {brick} layer in the summary"
    n_out = _n_out(document)
    if n_out is not None:  # the output follows dataset.n_out; a resized last Linear is named
        written = [entry[1]["out_features"] for block in document["model"]["block_l"] for seq in block["sequential_l"]
                   for entry in seq["layer_l"] if entry[0] == "Linear"][-1]
        assert f"-> output ({n_out}," in lines[0]
        assert lines[1].startswith(f"n_out={n_out}: ") == (written != n_out)


# ----------------------------------------------------------------------------- the bricks, one by one


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_resnet_block_has_the_tutorials_biases_and_plain_shortcut():
    wider = Conv2dRes(in_channels=128, out_channels=64, kernel_size=5)
    # conv 128→64 5×5 + bias, BN, conv 64→64 5×5 + bias, BN, 1×1 conv 128→64 + bias (no BN)
    assert _count(wider) == (128 * 64 * 25 + 64) + 128 + (64 * 64 * 25 + 64) + 128 + (128 * 64 + 64) == 315_840
    assert isinstance(wider.shortcut, nn.Conv2d) and wider.shortcut.bias is not None
    same = Conv2dRes(in_channels=64, out_channels=64, kernel_size=5)
    assert _count(same) == 2 * (64 * 64 * 25 + 64 + 128) == 205_184
    assert all(conv.bias is not None for conv in same.modules() if isinstance(conv, nn.Conv2d))


def test_convnext_block_has_no_layer_scale_and_the_tutorials_norm():
    block = Conv2dNext(in_channels=64)
    assert _count(block) == (64 * 49 + 64) + 128 + (64 * 256 + 256) + (256 * 64 + 64) == 36_416
    assert block.scale is None and block.norm.eps == 1e-6
    x = torch.randn(2, 64, 9, 5)
    assert block(x).shape == x.shape and not torch.allclose(block(x), x, atol=1e-2)  # no near-identity scale


def test_tcn_convolutions_are_weight_normalized_and_pickle():
    torch.manual_seed(0)
    tcn = Conv1dTCN(in_channels=1, num_channels=[4, 8, 16, 32]).eval()
    plain = sum(c_out * c_in * 2 + c_out + c_out * c_out * 2 + c_out + c_in * c_out + c_out
                for c_in, c_out in [(1, 4), (4, 8), (8, 16), (16, 32)])
    assert _count(tcn) == plain + 2 * (4 + 8 + 16 + 32)  # one gain per output channel and convolution
    conv = tcn.blocks[0].net[1]
    names = {name for name, _ in conv.named_parameters()}
    assert names == {"weight_g", "weight_v", "bias"}
    with torch.no_grad():
        conv.weight_g.mul_(3.0)  # the kernel is g · v / ||v||: scaling g scales it
    kernel = conv.weight()
    assert torch.allclose(torch.linalg.vector_norm(kernel, dim=(1, 2)), conv.weight_g.flatten(), atol=1e-6)
    x = torch.randn(2, 1, 50)
    for clone in (pickle.loads(pickle.dumps(tcn)), copy.deepcopy(tcn)):
        assert torch.allclose(clone(x), tcn(x), atol=1e-6)


def test_depthwise_separable_without_padding_is_valid_as_in_the_tutorials_factory():
    model = {"block_l": [{"sequential_l": [{"layer_l": [["Conv2dDS", {"in_channels": -1, "out_channels": 8,
                                                                       "kernel_size": [5, 3], "stride": [1, 1]}]]}]}]}
    network = build_model(model, (4, 20, 10))
    assert network.output_shape == (8, 16, 8)
    assert count_parameters(network)[0] == tutorial_count(model, (4, 20, 10)) == (4 * 15 + 4) + (4 * 8 + 8)


# ----------------------------------------------------------------------------- n_out and summary


def test_n_out_sizes_the_last_linear_and_says_so():
    path = fixture_path("tutorial", "config_autotagging.yaml")
    network = build_model(path, (1, 128, 64), n_out=50)
    assert network.output_shape == (50,)
    assert network.output_resize.describe() == \
        "n_out=50: model.block_l[2].sequential_l[0].layer_l[0] (Linear) out_features 10 -> 50"
    assert build_model(path, (1, 128, 64), n_out=10).output_resize is None  # as written
    assert build_model(path, (1, 128, 64)).output_shape == (10,)


def test_n_out_without_a_linear_is_one_clear_error():
    path = fixture_path("tutorial", "config_bittner.yaml")
    with pytest.raises(ModelConfigError, match=r"config_bittner.yaml: model: n_out=3: no Linear layer"):
        build_model(path, (6, 360, 64), n_out=3)


def test_summary_n_out_option_overrides_the_files(tmp_path):
    """--n-out wins over the file's dataset.n_out; a bad dataset.n_out is one line naming it."""
    path = fixture_path("tutorial", "config_autotagging.yaml")
    lines = _summary(path, (1, 128, 64), "--n-out", "10").splitlines()
    assert lines[-2] == "total parameters: 164,755" and "n_out=" not in lines[1]
    bad = tmp_path / "bad.yaml"
    bad.write_text(tutorial_text("autotagging").replace("'n_out': 50", "'n_out': fifty"), encoding="utf-8")
    result = CliRunner().invoke(main, ["summary", str(bad), "--input-shape", "1,128,64"])
    assert result.exit_code == 1
    assert result.output == f"error: {bad}: dataset.n_out: expected an integer >= 1 or 'auto', got 'fifty'\n"


def test_summary_files_n_out_only_sizes_an_output_that_has_one(tmp_path):
    """dataset.n_out: 360 of a multi-pitch config counts CQT bins (no Linear: built as written);
    'auto' leaves the model's own default; an explicit --n-out on such a model is refused."""
    examples = Path(__file__).resolve().parents[2] / "examples"
    lines = _summary(examples / "bach10_hcqt_conv2d.yaml", (6, 40, 8)).splitlines()
    assert lines[0].endswith("-> output (1, 40, 8) (batch excluded)") and not lines[1].startswith("n_out=")
    auto = tmp_path / "auto.yaml"
    auto.write_text(yaml.safe_dump({"dataset": {"base": "gtzan-genre", "n_out": "auto"},
                                    "model": str(examples / "models" / "autotag_lms.yaml")}), encoding="utf-8")
    assert _summary(auto, (1, 128, 64)).splitlines()[0].endswith("-> output (10,) (batch excluded)")
    result = CliRunner().invoke(main, ["summary", str(examples / "bach10_hcqt_conv2d.yaml"), "--input-shape",
                                       "6,40,8", "--n-out", "5"])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "n_out=5: no Linear layer to size and no $n_out placeholder" in result.output
