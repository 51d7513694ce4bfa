"""Shared network blocks: MLPs and the CITRIS-style convolutional encoder / decoder.

Every baseline builds its networks from these blocks, so the same observation gets the same
architecture whatever the method. :func:`make_encoder` and :func:`make_decoder` pick an MLP
for vector observations ``(D_obs,)`` and the conv pair for images ``(3, H, W)``.

The conv pair follows the description of CITRIS (Lippe et al., ICML 2022, arXiv 2202.03169):
the encoder halves the resolution with stride-2 blocks (4 blocks take 64x64 to 4x4) with
BatchNorm and SiLU; the decoder upsamples through residual blocks and ends in ``Tanh``
(images live in [-1, 1], see :func:`crlbench.datasets.torch_dataset`). Written from the
paper's description, not from the released code. Both are
:class:`~crlbench.baselines.precision.AutocastNet`: under a bf16 run their body runs in
bfloat16 (in NHWC layout) and they return float32.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

from crlbench.baselines.precision import AutocastNet

__all__ = [
    "mlp",
    "ConvEncoder",
    "ConvDecoder",
    "make_encoder",
    "make_decoder",
    "n_conv_blocks",
    "gaussian_params",
    "count_parameters",
]


def mlp(
    in_features: int,
    out_features: int,
    hidden: Sequence[int] = (64, 64),
    activation: type[nn.Module] = nn.SiLU,
) -> nn.Sequential:
    """Fully connected network ``in -> hidden... -> out`` with ``activation`` between layers."""
    layers: list[nn.Module] = []
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), activation()]
        width = h
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


def n_conv_blocks(resolution: int) -> int:
    """Stride-2 blocks that take a ``resolution`` square image down to 4x4.

    Raises:
        ValueError: ``resolution`` is not a power of two >= 8.
    """
    blocks = int(round(math.log2(resolution))) - 2
    if resolution < 8 or 4 * 2**blocks != resolution:
        raise ValueError(f"conv blocks need a square power-of-two image side >= 8, got {resolution}")
    return blocks


class ConvEncoder(AutocastNet):
    """Image ``(B, 3, H, W)`` -> ``(B, out_features)`` (CITRIS-style).

    Each block: 3x3 conv stride 2, BatchNorm, SiLU, 3x3 conv, BatchNorm, SiLU. After the 4x4
    feature map: flatten, linear, SiLU, linear.

    Args:
        resolution: Image side H = W (a power of two >= 8; 64 gives CITRIS' 4 blocks).
        out_features: Output width (for a Gaussian encoder: 2 x latents).
        channels: Hidden channels ``c_hid`` (CITRIS: 32 to 64).
    """

    def __init__(self, resolution: int, out_features: int, channels: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for _ in range(n_conv_blocks(resolution)):
            layers += [
                nn.Conv2d(c_in, channels, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(channels),
                nn.SiLU(),
                nn.Conv2d(channels, channels, 3, padding=1, bias=False),
                nn.BatchNorm2d(channels),
                nn.SiLU(),
            ]
            c_in = channels
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(channels * 16, 4 * channels), nn.SiLU(), nn.Linear(4 * channels, out_features))

    def body(self, x: Tensor) -> Tensor:
        return self.head(self.features(self.layout(x)))


class _ResidualUp(nn.Module):
    """Nearest-neighbour x2 upsampling followed by a residual 3x3 conv block."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.block = nn.Sequential(
            nn.BatchNorm2d(channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.up(x)
        return x + self.block(x)


class ConvDecoder(AutocastNet):
    """Latents ``(B, in_features)`` -> image ``(B, 3, H, W)`` in [-1, 1] (CITRIS-style).

    A linear map to a 4x4 feature map, one residual upsampling block per doubling, then
    BatchNorm, SiLU, a 1x1 conv to RGB and ``Tanh``.
    """

    def __init__(self, in_features: int, resolution: int, channels: int = 64) -> None:
        super().__init__()
        self.channels = channels
        self.stem = nn.Sequential(nn.Linear(in_features, 4 * channels), nn.SiLU(), nn.Linear(4 * channels, channels * 16))
        self.blocks = nn.Sequential(*[_ResidualUp(channels) for _ in range(n_conv_blocks(resolution))])
        self.out = nn.Sequential(nn.BatchNorm2d(channels), nn.SiLU(), nn.Conv2d(channels, 3, 1), nn.Tanh())

    def body(self, z: Tensor) -> Tensor:
        h = self.layout(self.stem(z).view(-1, self.channels, 4, 4))
        return self.out(self.blocks(h))


def _is_image(shape: Sequence[int]) -> bool:
    return len(shape) == 3


def make_encoder(obs_shape: Sequence[int], out_features: int, *, hidden: Sequence[int] = (64, 64), channels: int = 64) -> nn.Module:
    """Encoder for one observation of shape ``(D_obs,)`` (MLP) or ``(3, H, W)`` (conv)."""
    if _is_image(obs_shape):
        c, h, w = obs_shape
        if c != 3 or h != w:
            raise ValueError(f"conv encoder needs square RGB images (3, H, H), got {tuple(obs_shape)}")
        return ConvEncoder(h, out_features, channels)
    if len(obs_shape) != 1:
        raise ValueError(f"observations must be (D_obs,) vectors or (3, H, W) images, got {tuple(obs_shape)}")
    return mlp(obs_shape[0], out_features, hidden)


def make_decoder(in_features: int, obs_shape: Sequence[int], *, hidden: Sequence[int] = (64, 64), channels: int = 64) -> nn.Module:
    """Decoder to observations of shape ``(D_obs,)`` (MLP) or ``(3, H, W)`` (conv, Tanh)."""
    if _is_image(obs_shape):
        return ConvDecoder(in_features, obs_shape[1], channels)
    return mlp(in_features, obs_shape[0], hidden)


def gaussian_params(h: Tensor, min_log_std: float = -7.0, max_log_std: float = 2.0) -> tuple[Tensor, Tensor]:
    """Split ``(B, 2M)`` into mean and clamped log-std, each ``(B, M)``."""
    mean, log_std = h.chunk(2, dim=-1)
    return mean, log_std.clamp(min_log_std, max_log_std)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
