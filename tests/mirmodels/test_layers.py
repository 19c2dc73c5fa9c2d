"""Behaviour of the bricks themselves (mirmodels/layers), on small synthetic tensors."""

from __future__ import annotations


import pytest
import torch
from torch import nn

from mirmodels.layers.attention import (FiLM, MultiHeadSelfAttention, PositionalEncoding, TransformerEncoder,
                                        sinusoidal_encoding)
from mirmodels.layers.conv import Conv1dTCN, Conv2dDS, Conv2dNext, Conv2dRes
from mirmodels.layers.dense import AbsLayer, LogCompress, activation
from mirmodels.layers.norm import BatchNorm1dT
from mirmodels.layers.pooling import AutoPoolWeight, AutoPoolWeightSplit, Max, Mean, SoftmaxWeight
from mirmodels.layers.recurrent import GRU, LSTMall, LSTMlast
from mirmodels.layers.shape import Permute, Reshape, Squeeze, UnSqueeze
from mirmodels.layers.sinc import SincNet
from mirmodels.layers.unet import CatWith, DoubleChannel, Recall, StoreAs
from pyjama_tools.core.errors import MirError, ParameterError


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# ----------------------------------------------------------------------------- pooling


def test_autopool_ranges_from_mean_to_max():
    x = torch.randn(2, 3, 1, 9)
    pool = AutoPoolWeight()
    assert torch.allclose(pool(x), x.mean(-1, keepdim=True), atol=1e-6)  # alpha = 0
    with torch.no_grad():
        pool.alpha.fill_(200.0)
    assert torch.allclose(pool(x), x.amax(-1, keepdim=True), atol=1e-3)  # alpha large
    with torch.no_grad():
        pool.alpha.fill_(1.0)
    assert torch.allclose(pool(x), (torch.softmax(x, -1) * x).sum(-1, keepdim=True), atol=1e-6)


def test_autopool_split_weights_the_first_half_by_the_second():
    values = torch.randn(2, 2, 1, 6)
    logits = torch.randn(2, 2, 1, 6)
    x = torch.cat([values, logits], dim=1)
    pool = AutoPoolWeightSplit(in_channels=4)
    assert tuple(pool(x).shape) == (2, 2, 1, 1)
    assert torch.allclose(pool(x), values.mean(-1, keepdim=True), atol=1e-6)  # alpha = 0: mean of the values
    with torch.no_grad():
        pool.alpha.fill_(3.0)
    expected = (values * torch.softmax(3.0 * logits, -1)).sum(-1, keepdim=True)
    assert torch.allclose(pool(x), expected, atol=1e-6)
    pool(x).sum().backward()
    assert pool.alpha.grad is not None and pool.alpha.grad != 0
    softmax = SoftmaxWeight(in_channels=4, keepdim=False)
    assert torch.allclose(softmax(x), (values * torch.softmax(logits, -1)).sum(-1), atol=1e-6)
    with pytest.raises(ParameterError, match="even"):
        AutoPoolWeightSplit(in_channels=5)


def test_mean_and_max_over_axes():
    x = torch.randn(2, 3, 4, 5)
    assert torch.allclose(Mean(dim=[2, 3])(x), x.mean((2, 3)))
    assert torch.equal(Max(dim=3, keepdim=True)(x), x.amax(3, keepdim=True))


# ----------------------------------------------------------------------------- convolutions


def test_tcn_is_causal_and_keeps_length():
    tcn = Conv1dTCN(in_channels=2, num_channels=[4, 8, 16], kernel_size=2, dropout=0.0).eval()
    x = torch.randn(1, 2, 40)
    y = tcn(x)
    assert tuple(y.shape) == (1, 16, 40)
    later = x.clone()
    later[..., 25:] = torch.randn(1, 2, 15)  # change only the future from t = 25
    y2 = tcn(later)
    assert torch.allclose(y[..., :25], y2[..., :25], atol=1e-6)
    assert not torch.allclose(y[..., 25:], y2[..., 25:])
    dilations = [block.net[1].dilation[0] for block in tcn.blocks]
    assert dilations == [1, 2, 4]
    with pytest.raises(ParameterError, match="num_channels"):
        Conv1dTCN(in_channels=1, num_channels=[])


def test_depthwise_separable_has_fewer_weights_than_a_full_convolution():
    ds = Conv2dDS(in_channels=16, out_channels=32, kernel_size=(5, 5), padding="same")
    full = nn.Conv2d(16, 32, 5, padding="same")
    x = torch.randn(2, 16, 12, 10)
    assert ds(x).shape == full(x).shape == (2, 32, 12, 10)
    assert sum(p.numel() for p in ds.parameters()) < sum(p.numel() for p in full.parameters()) / 5
    assert ds.depthwise.groups == 16


def test_resnet_block_shortcut_and_stride():
    same = Conv2dRes(in_channels=8, out_channels=8, kernel_size=3)
    assert isinstance(same.shortcut, nn.Identity)
    x = torch.randn(2, 8, 10, 6)
    assert same(x).shape == x.shape and (same(x) >= 0).all()  # final ReLU
    wider = Conv2dRes(in_channels=8, out_channels=16, kernel_size=(5, 3), stride=2)
    assert tuple(wider(x).shape) == (2, 16, 5, 3)
    with pytest.raises(ParameterError, match="padding"):
        Conv2dRes(in_channels=8, out_channels=8, padding="valid")


def test_convnext_block_is_residual():
    block = Conv2dNext(in_channels=6, kernel_size=7, layer_scale_init=1e-6)
    x = torch.randn(2, 6, 9, 5)
    assert torch.allclose(block(x), x, atol=1e-4)  # tiny layer scale: near identity
    with torch.no_grad():
        block.scale.fill_(1.0)
    assert not torch.allclose(block(x), x, atol=1e-2)
    with pytest.raises(ParameterError, match="out_channels=8"):
        Conv2dNext(in_channels=6, out_channels=8)


# ----------------------------------------------------------------------------- SincNet


def test_sincnet_filters_are_band_passes_at_their_cutoffs():
    sr = 16000
    layer = SincNet(in_channels=1, out_channels=8, kernel_size=250, sample_rate=sr)
    assert layer.kernel_size == 251  # made odd
    filters = layer.filters().detach()[:, 0]
    assert tuple(filters.shape) == (8, 251)
    assert torch.allclose(filters, filters.flip(-1), atol=1e-6)  # symmetric: linear phase
    response = torch.fft.rfft(filters, n=8192).abs()
    freqs = torch.fft.rfftfreq(8192, 1 / sr)
    low = (layer.min_low_hz + layer.low_hz.abs()).detach()[:, 0]
    high = (low + layer.min_band_hz + layer.band_hz.abs().detach()[:, 0]).clamp(max=sr / 2)
    for k in [3, 6]:  # bands wide enough for a 251-tap filter: unit gain inside, ~0 an octave away
        centre = float((low[k] + high[k]) / 2)
        inside = response[k, (freqs - centre).abs().argmin()]
        above = response[k, (freqs - min(2 * float(high[k]), sr / 2 - 100)).abs().argmin()]
        below = response[k, (freqs - float(low[k]) / 2).abs().argmin()]
        assert 0.9 < inside < 1.1
        assert above < 0.02 and below < 0.02
    x = torch.randn(2, 1, 1000)
    y = layer(x)
    assert tuple(y.shape) == (2, 8, 750)
    y.abs().sum().backward()
    assert layer.low_hz.grad is not None and layer.band_hz.grad.abs().sum() > 0


def test_sincnet_checks_its_parameters():
    with pytest.raises(ParameterError, match="mono"):
        SincNet(in_channels=2, out_channels=4, kernel_size=51, sample_rate=8000)
    with pytest.raises(ParameterError, match="sample_rate"):
        SincNet(in_channels=1, out_channels=4, kernel_size=51)
    assert SincNet(in_channels=1, out_channels=4, kernel_size=51, sr_hz=8000).sample_rate == 8000  # tutorial name


# ----------------------------------------------------------------------------- norm, dense, recurrent, attention


def test_batchnorm1dt_normalizes_the_last_axis():
    x = torch.randn(4, 7, 3) * 5 + 2
    y = BatchNorm1dT(num_features=3)(x)
    assert torch.allclose(y.mean((0, 1)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(y.var((0, 1), unbiased=False), torch.ones(3), atol=1e-3)


def test_log_compress():
    x = torch.tensor([[0.0, 1.0, -2.0, 9.0]])
    torch.testing.assert_close(LogCompress(factor=10000.0)(x), torch.log1p(10000.0 * x.clamp(min=0)))
    for factor in (0, -1.0, float("nan"), "10"):
        with pytest.raises(ParameterError, match=r"factor=.*: expected a number > 0"):
            LogCompress(factor=factor)


def test_activation_by_name_with_options():
    softmax = activation("Softmax")
    assert softmax.dim == 1
    assert activation("LeakyReLU", negative_slope=0.3).negative_slope == 0.3
    with pytest.raises(ParameterError, match="unknown option 'slope'"):
        activation("LeakyReLU", slope=0.3)
    with pytest.raises(ParameterError, match="did you mean Sigmoid"):
        activation("sigmoid")
    assert torch.equal(AbsLayer()(torch.tensor([-2.0, 3.0])), torch.tensor([2.0, 3.0]))


def test_recurrent_output_shapes():
    x = torch.randn(2, 11, 5)
    assert tuple(LSTMall(input_size=5, hidden_size=8)(x).shape) == (2, 11, 8)
    assert tuple(LSTMlast(input_size=5, hidden_size=6, num_layers=2)(x).shape) == (2, 6)
    assert tuple(GRU(input_size=5, hidden_size=4, bidirectional=True)(x).shape) == (2, 11, 8)
    with pytest.raises(ParameterError, match="even"):
        LSTMall(input_size=5, hidden_size=7)


def test_positional_encoding_and_transformer():
    encoding = sinusoidal_encoding(50, 8)
    assert torch.allclose(encoding[:, 0], torch.sin(torch.arange(50.0)))
    assert torch.allclose(encoding[0, 1::2], torch.ones(4))
    x = torch.zeros(2, 50, 8)
    assert torch.allclose(PositionalEncoding(d_model=8)(x)[1], encoding)
    y = TransformerEncoder(d_model=8, nhead=2, num_layers=2, dropout=0.0)(torch.randn(2, 30, 8))
    assert tuple(y.shape) == (2, 30, 8)
    attention = MultiHeadSelfAttention(embed_dim=8, num_heads=4)
    assert tuple(attention(torch.randn(3, 12, 8)).shape) == (3, 12, 8)
    with pytest.raises(ParameterError, match="divide"):
        MultiHeadSelfAttention(embed_dim=8, num_heads=3)


def test_film_scales_and_shifts_each_channel():
    film = FiLM(key="c", in_channels=2, condition_features=3)
    with torch.no_grad():
        film.to_scale_shift.weight.zero_()
        film.to_scale_shift.bias.copy_(torch.tensor([1.0, -1.0, 0.5, 0.0]))  # scale +1, -1; shift 0.5, 0
    x = torch.randn(4, 2, 5, 6)
    y = film(x, {"c": torch.randn(4, 3)})
    assert torch.allclose(y[:, 0], 2 * x[:, 0] + 0.5) and torch.allclose(y[:, 1], torch.zeros_like(y[:, 1]))


# ----------------------------------------------------------------------------- shape and skip bricks


def test_shape_bricks():
    x = torch.randn(2, 3, 1, 5)
    assert tuple(Squeeze(dim=2)(x).shape) == (2, 3, 5)
    assert tuple(UnSqueeze(dim=1)(x).shape) == (2, 1, 3, 1, 5)
    assert tuple(Permute(shape=[0, 3, 1, 2])(x).shape) == (2, 5, 3, 1)
    assert tuple(Reshape(shape=[3, -1])(x).shape) == (2, 3, 5)
    with pytest.raises(MirError, match="cannot squeeze axis 1"):
        Squeeze(dim=[1, 2])(x)
    with pytest.raises(ParameterError, match="batch"):
        Squeeze(dim=0)
    with pytest.raises(ParameterError, match="permutation"):
        Permute(shape=[1, 0, 2])
    with pytest.raises(ParameterError, match="at most one -1"):
        Reshape(shape=[-1, -1])


def test_store_catwith_recall():
    store: dict = {}
    a, b = torch.randn(2, 3, 4), torch.randn(2, 5, 4)
    assert StoreAs("a")(a, store) is a and store["a"] is a
    joined = CatWith("a")(b, store)
    assert torch.equal(joined, torch.cat([b, a], 1))
    assert Recall("a")(b, store) is a
    assert DoubleChannel()(b) is b
    with pytest.raises(MirError, match="sizes differ"):
        CatWith("a")(torch.randn(2, 3, 5), store)
    with pytest.raises(MirError, match="no tensor stored as 'z'"):
        CatWith("z")(a, store)
    with pytest.raises(ParameterError, match="key"):
        StoreAs("")
