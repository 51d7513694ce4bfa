from __future__ import annotations

import pytest
import torch

from crlbench.baselines.nn import ConvDecoder, ConvEncoder, make_decoder, make_encoder, mlp, n_conv_blocks


def test_mlp_shapes():
    assert mlp(5, 3, (8, 8))(torch.zeros(4, 5)).shape == (4, 3)


@pytest.mark.parametrize("side, blocks", [(8, 1), (16, 2), (64, 4), (512, 7)])
def test_conv_blocks(side, blocks):
    assert n_conv_blocks(side) == blocks


@pytest.mark.parametrize("side", [4, 48, 100])
def test_conv_blocks_reject(side):
    with pytest.raises(ValueError):
        n_conv_blocks(side)


@pytest.mark.parametrize("side", [16, 64])
def test_conv_pair_shapes(side):
    enc, dec = ConvEncoder(side, 10, channels=8), ConvDecoder(5, side, channels=8)
    x = torch.rand(2, 3, side, side) * 2 - 1
    assert enc(x).shape == (2, 10)
    y = dec(torch.randn(2, 5))
    assert y.shape == (2, 3, side, side)
    assert y.abs().max() <= 1.0  # Tanh output, images in [-1, 1]


def test_citris_encoder_has_four_stride2_blocks_at_64():
    enc = ConvEncoder(64, 4, channels=8)
    strided = [m for m in enc.modules() if isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2)]
    assert len(strided) == 4
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in enc.modules())
    assert any(isinstance(m, torch.nn.SiLU) for m in enc.modules())


def test_factories_pick_by_shape():
    assert isinstance(make_encoder((3, 16, 16), 4), ConvEncoder)
    assert isinstance(make_decoder(4, (3, 16, 16)), ConvDecoder)
    assert make_encoder((6,), 4)(torch.zeros(2, 6)).shape == (2, 4)
    with pytest.raises(ValueError):
        make_encoder((1, 16, 16), 4)
