"""The book's architectures in examples/models/: build, forward and backward on a batch of 2."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from mirmodels.factory import build_model

MODELS = Path(__file__).resolve().parents[2] / "examples" / "models"

# name: (documented input, documented output, smaller test input, its output). Sizes shrink only
# where the architecture allows (time axes; 'same'-padded frequency axes).
CASES = {
    "autotag_lms": ((1, 128, 64), (10,), (1, 128, 64), (10,)),
    "autotag_wave_conv1d": ((1, 3200), (10,), (1, 3200), (10,)),
    "autotag_wave_tcn": ((1, 1, 3200), (10,), (1, 1, 1600), (10,)),
    "autotag_wave_sincnet": ((1, 1, 3200), (10,), (1, 3200), (10,)),
    "multipitch_conv2d": ((6, 360, 64), (1, 360, 64), (6, 40, 8), (1, 40, 8)),
    "multipitch_depthsep": ((6, 360, 64), (1, 360, 64), (6, 40, 8), (1, 40, 8)),
    "multipitch_resnet": ((6, 360, 64), (1, 360, 64), (6, 40, 8), (1, 40, 8)),
    "multipitch_convnext": ((6, 360, 64), (1, 360, 64), (6, 40, 8), (1, 40, 8)),
    "multipitch_unet": ((6, 360, 64), (1, 360, 64), (6, 24, 8), (1, 24, 8)),
    "chord_bilstm": ((1, 72, 1024), (25, 1024), (1, 72, 96), (25, 96)),
    "cover_move": ((1, 23, 1800), (32,), (1, 23, 200), (32,)),
    "cover_move_chroma12": ((12, 1800), (32,), (12, 200), (32,)),
    # separation (stereo 4 s windows): six stride-2 levels need >= 127 STFT frames (129024 samples)
    "separation_unet": ((2, 176400), (4, 2, 176400), (2, 129024), (4, 2, 129024)),
    "separation_cunet": ((2 + 4, 176400), (1, 2, 176400), (2 + 4, 129024), (1, 2, 129024)),
}


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():  # PyTorch notes that 'same' with the even 70-bin kernel pads a copy
        warnings.simplefilter("ignore", UserWarning)
        yield


def test_every_example_file_is_covered():
    assert sorted(path.stem for path in MODELS.glob("*.yaml")) == sorted(CASES)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n.startswith("separation") else n
                                  for n in sorted(CASES)])  # separation U-Nets: >10 s each on 2 cores
def test_forward_backward(name):
    _, _, shape, expected = CASES[name]
    torch.manual_seed(0)
    model = build_model(MODELS / f"{name}.yaml", shape)
    assert model.training
    assert model.output_shape == expected
    x = torch.randn(2, *shape)
    out = model(x)
    assert tuple(out.shape) == (2, *expected)
    assert torch.isfinite(out).all()
    # the two examples differ, so the network must not collapse them
    assert not torch.allclose(out[0], out[1])
    target = torch.randn_like(out)
    torch.nn.functional.mse_loss(out, target).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"parameters without gradient (DDP would need find_unused_parameters): {missing}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    assert sum(float(p.grad.abs().sum()) for p in model.parameters()) > 0


@pytest.mark.parametrize("name", ["autotag_lms", "autotag_wave_conv1d", "autotag_wave_tcn", "autotag_wave_sincnet"])
def test_documented_shapes(name):
    shape, expected, _, _ = CASES[name]
    assert build_model(MODELS / f"{name}.yaml", shape).output_shape == expected


@pytest.mark.slow
@pytest.mark.parametrize("name", ["multipitch_conv2d", "multipitch_depthsep", "multipitch_resnet", "multipitch_convnext",
                                  "multipitch_unet", "chord_bilstm", "cover_move", "cover_move_chroma12"])
def test_documented_shapes_heavy(name):
    shape, expected, _, _ = CASES[name]
    assert build_model(MODELS / f"{name}.yaml", shape).output_shape == expected


def test_waveform_models_take_both_layouts():
    for shape in [(1, 3200), (1, 1, 3200)]:
        assert build_model(MODELS / "autotag_wave_conv1d.yaml", shape).output_shape == (10,)


def test_chord_model_labels_any_length():
    model = build_model(MODELS / "chord_bilstm.yaml", (1, 72, 32)).eval()
    with torch.no_grad():
        assert tuple(model(torch.randn(1, 1, 72, 150)).shape) == (1, 25, 150)


def test_unet_needs_sizes_divisible_by_8():
    from mirmodels.factory import ModelConfigError

    with pytest.raises(ModelConfigError, match=r"\(CatWith\): cannot concatenate stored 'E256'"):
        build_model(MODELS / "multipitch_unet.yaml", (6, 44, 16))


def test_cover_embeddings_are_batch_normalized():
    model = build_model(MODELS / "cover_move.yaml", (1, 23, 200))
    out = model(torch.randn(8, 1, 23, 200))
    assert torch.allclose(out.mean(0), torch.zeros(32), atol=1e-4)  # affine-free BatchNorm1d last
    assert not any(p.requires_grad for p in model.block_l[1][0][3].parameters())


def _bricks(model) -> list[str]:
    """The layers that define a book architecture, as short text: 'Conv2d 64 3x3', 'MaxPool1d 3', ..."""
    def size(value) -> str:
        return "x".join(map(str, value)) if isinstance(value, list) else str(value)

    bricks = []
    for record in model.records:
        name, params = record.name, record.params
        stride = params.get("stride")
        step = f"/{size(stride)}" if stride not in (None, 1, [1], [1, 1]) else ""
        if name in ("Conv1d", "Conv2d", "Conv2dDS", "Conv2dRes", "Conv2dNext", "ConvTranspose2d", "SincNet"):
            bricks.append(f"{name} {params['out_channels']} {size(params['kernel_size'])}{step}")
        elif name in ("MaxPool1d", "MaxPool2d"):
            bricks.append(f"{name} {size(params['kernel_size'])}")
        elif name == "Linear":
            bricks.append(f"Linear {params['out_features']}")
        elif name == "LSTMall":
            bricks.append(f"LSTMall {params['hidden_size']}")
        elif name == "Conv1dTCN":
            bricks.append(f"Conv1dTCN {size(params['num_channels'])}")
        elif name == "CatWith":
            bricks.append(f"CatWith {params['key']}")
        elif name in ("AutoPoolWeightSplit", "AbsLayer"):
            bricks.append(name)
        elif name == "BatchNorm1d" and params.get("affine") is False:
            bricks.append("BatchNorm1d without affine")
    return bricks


_TAIL = ["Conv1d 60 5", "MaxPool1d 3", "Conv1d 60 5", "MaxPool1d 3"] + ["Linear 128"] * 3 + ["AutoPoolWeightSplit",
                                                                                             "Linear 10"]
_BITTNER = ["Conv2d 128 5x5", "Conv2d 64 5x5", "Conv2d 64 3x3", "Conv2d 64 3x3", "Conv2d 8 70x3", "Conv2d 1 1x1"]
_MOVE_TAIL = ["Conv2d 256 1x5"] * 4 + ["AutoPoolWeightSplit", "Linear 32", "BatchNorm1d without affine"]
# BOOK.md, "The recipes": the layers of each published architecture, in order
BOOK = {
    "autotag_lms": ["Conv2d 80 128x5"] + _TAIL,
    "autotag_wave_conv1d": ["Conv1d 80 251/15", "MaxPool1d 3"] + _TAIL,
    "autotag_wave_tcn": ["Conv1dTCN 4x8x16x32", "MaxPool1d 3"] + _TAIL,
    "autotag_wave_sincnet": ["SincNet 80 251", "AbsLayer", "MaxPool1d 3"] + _TAIL,
    "multipitch_conv2d": _BITTNER,
    "multipitch_depthsep": _BITTNER[:1] + ["Conv2dDS 64 5x5", "Conv2dDS 64 3x3", "Conv2dDS 64 3x3"] + _BITTNER[4:],
    "multipitch_resnet": _BITTNER[:1] + ["Conv2dRes 64 5x5", "Conv2dRes 64 3x3", "Conv2dRes 64 3x3"] + _BITTNER[4:],
    "multipitch_convnext": _BITTNER[:2] + ["Conv2dNext 64 7", "Conv2dNext 64 7"] + _BITTNER[4:],
    "multipitch_unet": (
        ["Conv2d 64 3x3"] * 2
        + [brick for channels in (128, 256, 512) for brick in [f"Conv2d {channels} 3x3"] * 2 + ["MaxPool2d 2x2"]]
        + [brick for channels in (256, 128, 64)
           for brick in [f"ConvTranspose2d {channels} 2x2/2x2"] + [f"Conv2d {channels} 3x3"] * 2 + [f"CatWith E{channels}"]]
        + ["Conv2d 64 3x3", "Conv2d 1 1x1"]
    ),
    "chord_bilstm": ["Conv2d 32 1x5"] + ["Conv2d 32 5x1/3x1"] * 3 + ["Conv1d 16 15"] * 2 + ["LSTMall 16", "Linear 25"],
    "cover_move": ["Conv2d 256 12x180", "MaxPool2d 12x1"] + _MOVE_TAIL,
    "cover_move_chroma12": ["CatWith CHROMA", "Conv2d 256 12x180", "MaxPool2d 13x1"] + _MOVE_TAIL,
}


@pytest.mark.parametrize("name", sorted(BOOK))
def test_layers_are_the_books(name):
    _, _, shape, _ = CASES[name]
    assert _bricks(build_model(MODELS / f"{name}.yaml", shape)) == BOOK[name]
