"""A user's method in one file: a weakly supervised pair autoencoder in plain PyTorch.

It follows crlbench's method contract (``fit``, ``encode``, and ``infer_targets`` for
pairs) without importing crlbench, so it can live in any repository. Score it on a pairs
track and put it on the leaderboard with the commands of the README's worked example::

    crlbench evaluate --track toy-son-pairs-v1 --method examples/pair_ae.py:PairAE --seed 0 --seed 1 --seed 2

The idea: an intervention changes few causal variables, so an encoder whose latents change
sparsely between the observation before and after an intervention, while a decoder still
reconstructs both, is pushed towards latents aligned with the causal variables. Latents are
batch-normalised, so the sparsity penalty cannot shrink them away. No intervention labels
are used. Training stops early when the validation loss stops improving (the protocol's
budget is the most it may use). Vector observations only (the toy tracks); an image track
needs a conv encoder.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["PairAE"]


class PairAE:
    """Encoder and decoder MLPs; loss = reconstruction of both states + ``sparsity`` * |z - z~|_1.

    Args:
        hidden: Width of the hidden layers.
        sparsity: Weight of the L1 penalty on the latent change within a pair.
        lr: Adam learning rate.
        batch_size: Pairs per step.
        check_every: Steps between validations; training stops after ``patience``
            validations without a relative improvement of ``min_delta``.
    """

    name = "pair-ae"
    version = "0.1"

    def __init__(
        self,
        hidden: int = 64,
        sparsity: float = 0.1,
        lr: float = 1e-3,
        batch_size: int = 256,
        check_every: int = 250,
        patience: int = 2,
        min_delta: float = 0.005,
    ) -> None:
        self.hidden, self.sparsity, self.lr, self.batch_size = hidden, sparsity, lr, batch_size
        self.check_every, self.patience, self.min_delta = check_every, patience, min_delta
        self.module: nn.Module | None = None  # crlbench counts the parameters of `module`
        self.threshold = 0.0

    def _build(self, dim: int) -> nn.Module:
        h = self.hidden
        return nn.ModuleDict(
            {
                "encoder": nn.Sequential(
                    nn.Linear(dim, h), nn.SiLU(), nn.Linear(h, h), nn.SiLU(), nn.Linear(h, dim), nn.BatchNorm1d(dim, affine=False)
                ),
                "decoder": nn.Sequential(nn.Linear(dim, h), nn.SiLU(), nn.Linear(h, h), nn.SiLU(), nn.Linear(h, dim)),
            }
        )

    def _loss(self, x: torch.Tensor) -> torch.Tensor:
        dim = x.shape[-1]
        z = self.module["encoder"](x.reshape(-1, dim)).reshape(-1, 2, dim)
        recon = self.module["decoder"](z.reshape(-1, dim)).reshape(-1, 2, dim)
        return ((recon - x) ** 2).mean() + self.sparsity * (z[:, 0] - z[:, 1]).abs().sum(1).mean()

    def fit(self, train: Any, val: Any, budget: Any, seed: int) -> None:
        """Train on ``train.observations`` (N, 2, D) pairs for at most ``budget`` (epochs or steps)."""
        x = torch.as_tensor(np.asarray(train.observations), dtype=torch.float32)
        x_val = torch.as_tensor(np.asarray(val.observations), dtype=torch.float32)
        n, _, dim = x.shape
        with torch.random.fork_rng():  # seeded initialisation without touching the caller's RNG
            torch.manual_seed(seed)
            self.module = self._build(dim)
        steps = budget.total_steps(max(1, n // self.batch_size)) if budget is not None else 5000
        rng = np.random.default_rng(seed)
        opt = torch.optim.Adam(self.module.parameters(), lr=self.lr)
        best, waited = float("inf"), 0
        for step in range(1, steps + 1):
            self.module.train()
            loss = self._loss(x[torch.as_tensor(rng.integers(0, n, self.batch_size))])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % self.check_every == 0:
                self.module.eval()
                with torch.no_grad():
                    v = float(self._loss(x_val))
                best, waited = (v, 0) if v < best * (1 - self.min_delta) else (best, waited + 1)
                if waited >= self.patience:
                    break
        self.module.eval()
        # "no intervention" when the largest latent change is below what most pairs show
        change = np.abs(self.encode(x[:, 0].numpy()) - self.encode(x[:, 1].numpy())).max(1)
        self.threshold = float(np.quantile(change, 0.1))

    @torch.no_grad()
    def encode(self, x: np.ndarray) -> np.ndarray:
        """Observations (N, D) -> latents (N, D)."""
        return self.module["encoder"](torch.as_tensor(np.asarray(x), dtype=torch.float32)).numpy()

    def infer_targets(self, x: np.ndarray, x_tilde: np.ndarray) -> np.ndarray:
        """Pairs -> (N,) labels: 0 = no intervention, i = learned latent i-1 changed most."""
        change = np.abs(self.encode(x) - self.encode(x_tilde))
        return np.where(change.max(1) > self.threshold, change.argmax(1) + 1, 0).astype(np.int64)
