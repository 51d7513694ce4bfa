"""Normalizing-flow layers for CITRIS-NF and the optional flow of CITRIS-VAE.

Every layer is an ``nn.Module`` with ``forward(x) -> (z, ladj)`` (``ladj`` is the log
absolute determinant of the Jacobian ``dz/dx``, shape ``(B,)``) and ``inverse(z) -> x``.
The CITRIS-NF flow (Lippe et al., ICML 2022, arXiv 2202.03169, section 5 / appendix) stacks
``n_layers`` of :class:`ActNorm`, :class:`InvertibleLinear` (LU-parametrised 1x1
convolution, Kingma & Dhariwal 2018) and :class:`AffineAutoregressive` (MADE coupling,
Germain et al. 2015; Papamakarios et al. 2017). Written from the papers, in the style of
zuko's transforms; no code from the released CITRIS repository.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
from torch import Tensor, nn

__all__ = [
    "FlowLayer",
    "ActNorm",
    "InvertibleLinear",
    "MaskedLinear",
    "MADE",
    "AffineAutoregressive",
    "Reverse",
    "FlowSequence",
    "citris_flow",
]


class FlowLayer(nn.Module):
    """A bijection ``x -> z`` with its log absolute Jacobian determinant."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - interface
        """``x (B, D)`` -> ``z (B, D)``, ``ladj (B,)``."""
        raise NotImplementedError

    def inverse(self, z: Tensor) -> Tensor:  # pragma: no cover - interface
        """``z (B, D)`` -> ``x (B, D)``."""
        raise NotImplementedError


class ActNorm(FlowLayer):
    """Per-feature affine map ``z = (x - loc) * exp(-log_scale)``, initialised from data.

    On the first training batch, ``loc`` and ``log_scale`` are set to that batch's mean and
    log standard deviation, so the output starts standardised (Kingma & Dhariwal, 2018).

    Args:
        features: Feature count D.
    """

    initialized: Tensor  # buffers, declared for the type checker

    def __init__(self, features: int) -> None:
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(features))
        self.log_scale = nn.Parameter(torch.zeros(features))
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def _init(self, x: Tensor) -> None:
        if len(x) > 1:
            self.loc.copy_(x.mean(0))
            self.log_scale.copy_(x.std(0).clamp_min(1e-3).log())
        self.initialized.fill_(True)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.training and not bool(self.initialized):
            self._init(x.detach())
        z = (x - self.loc) * torch.exp(-self.log_scale)
        return z, (-self.log_scale.sum()).expand(len(x))

    def inverse(self, z: Tensor) -> Tensor:
        return z * torch.exp(self.log_scale) + self.loc


class InvertibleLinear(FlowLayer):
    """``z = x W^T`` with ``W = P L (U + diag(sign(s) exp(log|s|)))`` (LU, fixed permutation P).

    The log-determinant is ``sum(log|s|)``; the inverse solves two triangular systems.

    Args:
        features: Feature count D.
        seed: Seeds the random rotation the layer starts from (and its permutation).
    """

    perm: Tensor  # buffers, declared for the type checker
    sign: Tensor
    lower_mask: Tensor

    def __init__(self, features: int, seed: int | None = None) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        w0, _ = torch.linalg.qr(torch.randn(features, features, generator=gen))
        p, lower, upper = torch.linalg.lu(w0)
        s = torch.diagonal(upper)
        self.register_buffer("perm", p)
        self.register_buffer("sign", torch.sign(s))
        self.register_buffer("lower_mask", torch.tril(torch.ones(features, features), -1))
        self.lower = nn.Parameter(lower * self.lower_mask)
        self.upper = nn.Parameter(torch.triu(upper, 1))
        self.log_s = nn.Parameter(s.abs().log())

    def _factors(self) -> tuple[Tensor, Tensor]:
        eye = torch.eye(len(self.log_s), device=self.log_s.device, dtype=self.log_s.dtype)
        lower = self.lower * self.lower_mask + eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign * self.log_s.exp())
        return lower, upper

    def weight(self) -> Tensor:
        """The ``(D, D)`` matrix W."""
        lower, upper = self._factors()
        return self.perm @ lower @ upper

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return x @ self.weight().T, self.log_s.sum().expand(len(x))

    def inverse(self, z: Tensor) -> Tensor:
        # x = W^{-1} z: solve P L U x = z as L y = P^T z, then U x = y (column vectors)
        lower, upper = self._factors()
        y = torch.linalg.solve_triangular(lower, (self.perm.T @ z.T), upper=False, unitriangular=True)
        return torch.linalg.solve_triangular(upper, y, upper=True).T


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask ``(out, in)``."""

    mask: Tensor  # a buffer, declared for the type checker

    def __init__(self, mask: Tensor) -> None:
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask.float())

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """Masked autoencoder: output block ``k`` for feature ``i`` depends on ``x_{<i}`` only.

    Args:
        features: Feature count D (ordering 0..D-1).
        hidden: Hidden widths (each at least D - 1 for full connectivity).
        outputs_per_feature: Outputs per feature (2 for shift and log-scale).
    """

    def __init__(self, features: int, hidden: Sequence[int] = (64,), outputs_per_feature: int = 2) -> None:
        super().__init__()
        self.features, self.n_out = features, outputs_per_feature
        degrees = [torch.arange(features)]  # input i has degree i
        for h in hidden:  # hidden degrees cycle through 0..D-2 (a unit of degree d sees x_{<=d})
            degrees.append(torch.arange(h) % max(1, features - 1))
        layers: list[nn.Module] = []
        for d_in, d_out in zip(degrees[:-1], degrees[1:]):
            layers += [MaskedLinear(d_out[:, None] >= d_in[None, :]), nn.SiLU()]
        d_final = torch.arange(features).repeat_interleave(outputs_per_feature)
        last = MaskedLinear(d_final[:, None] > degrees[-1][None, :])
        nn.init.zeros_(last.weight)  # starts as the identity transform
        nn.init.zeros_(last.bias)
        layers.append(last)
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, D)`` -> ``(B, D, outputs_per_feature)``."""
        return self.net(x).view(len(x), self.features, self.n_out)


class AffineAutoregressive(FlowLayer):
    """``z_i = x_i exp(s_i(x_{<i})) + t_i(x_{<i})`` with a :class:`MADE` conditioner.

    The forward pass (density evaluation) is one network call; the inverse is sequential
    over the D features. ``s`` is bounded by ``scale_bound * tanh`` for stability.

    Args:
        features: Feature count D.
        hidden: MADE hidden widths (CITRIS-NF: 16 units per latent).
        scale_bound: Bound on the log-scale.
    """

    def __init__(self, features: int, hidden: Sequence[int] = (64,), scale_bound: float = 3.0) -> None:
        super().__init__()
        self.made = MADE(features, hidden, 2)
        self.scale_bound = scale_bound

    def _params(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.made(x)
        return self.scale_bound * torch.tanh(h[..., 0] / self.scale_bound), h[..., 1]

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        s, t = self._params(x)
        return x * s.exp() + t, s.sum(-1)

    def inverse(self, z: Tensor) -> Tensor:
        x = torch.zeros_like(z)
        for i in range(z.shape[-1]):  # x_i needs x_{<i}: one pass per feature
            s, t = self._params(x)
            x = x.clone()
            x[:, i] = (z[:, i] - t[:, i]) * torch.exp(-s[:, i])
        return x


class Reverse(FlowLayer):
    """Reverses the feature order (a volume-preserving permutation)."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return x.flip(-1), x.new_zeros(len(x))

    def inverse(self, z: Tensor) -> Tensor:
        return z.flip(-1)


class FlowSequence(FlowLayer):
    """The composition ``layers[-1] o ... o layers[0]``; log-determinants add up."""

    def __init__(self, layers: Sequence[FlowLayer]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        ladj = x.new_zeros(len(x))
        for layer in self.layers:
            x, layer_ladj = layer(x)
            ladj = ladj + layer_ladj
        return x, ladj

    def inverse(self, z: Tensor) -> Tensor:
        for layer in reversed(self.layers):
            z = cast(FlowLayer, layer).inverse(z)
        return z


def citris_flow(features: int, n_layers: int = 4, hidden_per_feature: int = 16, seed: int | None = 0) -> FlowSequence:
    """The CITRIS-NF flow: ``n_layers`` x (ActNorm, invertible 1x1 (LU), affine MADE).

    Args:
        features: Latent size D.
        n_layers: Number of (ActNorm, linear, coupling) blocks (CITRIS-NF: 4).
        hidden_per_feature: MADE hidden units per latent (CITRIS-NF: 16), two hidden layers.
        seed: Seeds the initial rotations of the 1x1 layers (``None``: torch's global RNG).
    """
    width = max(hidden_per_feature * features, features)
    layers: list[FlowLayer] = []
    for i in range(n_layers):
        layers += [
            ActNorm(features),
            InvertibleLinear(features, seed=None if seed is None else seed + i),
            AffineAutoregressive(features, (width, width)),
        ]
    return FlowSequence(layers)
